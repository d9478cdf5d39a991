"""What the local platform hands to the code it runs: the environment of job and
endpoint containers, the environment of a user's command, and the local image
that stands for a cloud image URI.

Containers and commands get the local endpoint, the region and static dummy
credentials; nothing of the host's AWS set-up (keys, profiles, SSO, config
files) is passed on, so no code can reach a real account by accident.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from harness.emulator.arns import REGION
from harness.engine.docker import Engine, Mount
from harness.errors import UserError
from harness.images.standins import StandIns, is_standin

CHILD_SITE = Path(__file__).parent / "child_site"  # its sitecustomize.py: see there
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "harness-local", "AWS_SECRET_ACCESS_KEY": "harness-local"}
# The host's AWS settings that would send a client elsewhere or hand it real credentials.
_HOST_AWS_SETTINGS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
)


def container_environment(endpoint_url: str, region: str = REGION) -> dict[str, str]:
    """Every job and endpoint container's AWS settings: boto3 reads AWS_ENDPOINT_URL, AWS's training toolkit
    S3_ENDPOINT_URL for its own downloads."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "S3_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EC2_METADATA_DISABLED": "true",
        **DUMMY_CREDENTIALS,
    }


WHEELHOUSE = "/opt/harness/wheelhouse"  # outside /opt/ml: no SageMaker path is touched


def wheelhouse_platform(folder: Path | None) -> tuple[dict[str, str], tuple[Mount, ...]]:
    """A folder of wheels every container's pip finds (PIP_FIND_LINKS) besides its index: a requirements.txt
    installs offline from it. AWS has no such thing; it stands for the package index a cloud job reaches."""
    if folder is None:
        return {}, ()
    return {"PIP_FIND_LINKS": WHEELHOUSE}, (Mount(folder, WHEELHOUSE, read_only=True),)


def command_environment(
    inherited: Mapping[str, str], endpoint_url: str, empty_file: Path, sdk_config: Path, region: str = REGION
) -> dict[str, str]:
    """A user command's environment: its own, minus the host's AWS set-up, plus the local endpoint.

    `empty_file` stands for the AWS config and credentials files (a profile there could name other endpoints
    or credentials); `sdk_config` is the SageMaker SDK's config override (telemetry off).
    """
    kept = {k: v for k, v in inherited.items() if k not in _HOST_AWS_SETTINGS and not k.startswith("AWS_ENDPOINT_URL_")}
    python_path = [str(CHILD_SITE), *filter(None, [inherited.get("PYTHONPATH")])]
    return {
        **kept,
        **container_environment(endpoint_url, region),
        "AWS_CONFIG_FILE": str(empty_file),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty_file),
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(sdk_config),
        # Python processes of the command send clients built for an AWS host to the local endpoint instead.
        "PYTHONPATH": os.pathsep.join(python_path),
        "HARNESS_LOCAL_ENDPOINT_URL": endpoint_url,
    }


def repository(uri: str) -> str:
    """`<registry>/<repository>` without the tag or digest."""
    name = uri.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return name[: len(name) - len(last)] + last.split(":", 1)[0]


class ImageResolver:
    """A cloud image URI -> the local image that stands for it: the image tagged with that exact URI (teams
    `docker build -t <account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>` before pushing), else the one the
    project's configuration maps the URI or its repository to, else, for AWS's own framework and algorithm
    images, a stand-in (harness.images)."""

    def __init__(self, engine: Engine, aliases: Mapping[str, str], stand_ins: StandIns | None = None) -> None:
        self._engine = engine
        self._aliases = dict(aliases)
        self._stand_ins = stand_ins

    def local_id(self, uri: str) -> str | None:
        """The ID of the local image `uri` would run on, if it exists now (nothing is built)."""
        present = self._engine.image(uri)
        if present is not None and not is_standin(present):
            return present.id
        alias = self._aliases.get(uri) or self._aliases.get(repository(uri))
        mapped = self._engine.image(alias) if alias else None
        if mapped is not None:
            return mapped.id
        return present.id if present is not None else None  # a stand-in built already, or nothing yet

    def __call__(self, uri: str) -> str:
        present = self._engine.image(uri)
        if present is not None and not is_standin(present):
            return uri
        alias = self._aliases.get(uri) or self._aliases.get(repository(uri))
        if alias and self._engine.image(alias) is not None:
            return alias
        stood_in = self._stand_ins.resolve(uri) if self._stand_ins else None
        if stood_in is not None or present is not None:
            return uri
        mapped = f" (mapped to {alias}, which does not exist either)" if alias else ""
        raise UserError(
            f"image {uri} does not exist locally{mapped}",
            fix=f"build or tag it under that name (`docker build -t {uri} ...` or `docker tag IMAGE {uri}`), or map "
            f'it in pyproject.toml: [tool.harness.images] "{uri}" = "<local image>" (or a table with the context '
            "folder to build)",
        )
