"""Promotion settings: `[tool.harness.promote]` in pyproject.toml, then
command-line overrides. Credentials never come from here: only from the
standard boto3 chain (environment, profile, SSO, instance role)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from harness.errors import UserError


@dataclass(frozen=True)
class PromoteSettings:
    region: str
    role_arn: str
    bucket: str
    pipeline_name: str = "mlops-pipeline"
    repository_prefix: str = "mlops"
    model_package_group: str = "mlops-models"
    endpoint_name: str = "mlops-endpoint"
    instance_type: str = "ml.m5.large"
    # Where images are pushed instead of the ECR host (a registry that stands in for ECR).
    registry_override: str = ""
    # [tool.harness.run-local.images] field -> ECR repository; unnamed fields go to <prefix>-<field minus _image>.
    repositories: Mapping[str, str] = field(default_factory=dict)

    def repository(self, image_field: str) -> str:
        return self.repositories.get(image_field) or f"{self.repository_prefix}-{image_field.removesuffix('_image')}"

    @property
    def capture_uri(self) -> str:
        return f"s3://{self.bucket}/data-capture"


def load(project_root: Path, overrides: Mapping[str, Any], environ: Mapping[str, str]) -> PromoteSettings:
    configured = _configured(project_root / "pyproject.toml")
    known = {f.name for f in fields(PromoteSettings)}
    unknown = set(configured) - known
    if unknown:
        raise UserError(
            f"unknown [tool.harness.promote] setting(s): {', '.join(sorted(unknown))}",
            fix=f"known settings: {', '.join(sorted(known))}",
        )
    values = {**configured, **{k: v for k, v in overrides.items() if v is not None}}
    repositories = values.get("repositories", {})
    if not isinstance(repositories, dict) or not all(isinstance(v, str) and v for v in repositories.values()):
        raise UserError(
            f"[tool.harness.promote] repositories = {repositories!r} must map image fields to repository names",
            fix='write it as a table: repositories = { training_image = "acme/trainer" }',
        )
    if environ.get("HARNESS_REGISTRY_OVERRIDE"):
        values["registry_override"] = environ["HARNESS_REGISTRY_OVERRIDE"]
    missing = [name for name in ("region", "role_arn", "bucket") if not values.get(name)]
    if missing:
        raise UserError(
            f"promotion needs {', '.join(missing)}",
            fix="set them in [tool.harness.promote] in pyproject.toml or pass --region/--role-arn/--bucket",
        )
    return replace(
        PromoteSettings(region=values["region"], role_arn=values["role_arn"], bucket=values["bucket"]),
        **{k: v for k, v in values.items() if k not in ("region", "role_arn", "bucket")},
    )


def _configured(pyproject: Path) -> dict[str, Any]:
    """`[tool.harness.promote]`, or {} without a pyproject.toml; a UserError naming the line if it does not parse."""
    if not pyproject.is_file():
        return {}
    try:
        document = tomllib.loads(pyproject.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UserError(
            f"{pyproject} is not valid TOML: {error}", fix="correct that line (https://toml.io), then re-run"
        ) from None
    section: Any = document
    for key in ("tool", "harness", "promote"):
        section = section.get(key, {}) if isinstance(section, dict) else None
    if not isinstance(section, dict):
        raise UserError(
            f"{pyproject}: [tool.harness.promote] must be a table of settings",
            fix='write it as a table: [tool.harness.promote] then lines like region = "us-east-1"',
        )
    return section
