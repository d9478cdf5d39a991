"""AWS's framework and algorithm image URIs, recognised as the SDK's `image_uris.retrieve` builds them.

The accounts and versions come from the SDK's own `image_uri_config/<framework>.json`, read as data: importing
the SDK takes seconds and is not needed to recognise a URI.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# ECR repository -> the SDK's framework name (its image_uri_config file).
FRAMEWORKS = {
    "sagemaker-scikit-learn": "sklearn",
    "sagemaker-xgboost": "xgboost",
    "sagemaker-model-monitor-analyzer": "model-monitor",  # Model Monitor's analyzer (Spark/Deequ in AWS)
}
UNTAGGED = frozenset({"model-monitor"})  # image_uris.retrieve("model-monitor") names no tag: Docker's `latest`
_URI = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<repo>[^:@]+)"
    r"(?::(?P<tag>[^@]+))?"
)
_TAG_SUFFIXES = ("-cpu-py3", "-cpu")  # sagemaker-scikit-learn:1.2-1-cpu-py3; sagemaker-xgboost:1.7-1 (or -cpu-py3)


@dataclass(frozen=True)
class AwsImage:
    uri: str
    framework: str  # the SDK's name: "sklearn", "xgboost"
    repository: str
    version: str  # the framework version as the SDK names it: "1.2-1"
    region: str


def parse_aws_image(uri: str) -> AwsImage | None:
    """The AWS framework image `uri` names, or None for any other image (a team's own ECR image included)."""
    match = _URI.fullmatch(uri)
    if match is None or match["repo"] not in FRAMEWORKS:
        return None
    framework = FRAMEWORKS[match["repo"]]
    if match["account"] not in aws_accounts(framework):
        return None
    if match["tag"] is None and framework not in UNTAGGED:
        return None
    version = match["tag"] or "latest"
    for suffix in _TAG_SUFFIXES:
        version = version.removesuffix(suffix)
    return AwsImage(uri, framework, match["repo"], version, match["region"])


def sdk_versions(framework: str) -> list[str]:
    """The versions the SDK offers for `framework` (its training scope, which it also uses by default)."""
    if framework in UNTAGGED:
        return ["latest"]
    scopes = _config(framework)
    return list(scopes.get("training", scopes).get("versions", {}))


def aws_accounts(framework: str) -> frozenset[str]:
    return _accounts(framework)


@functools.cache
def _accounts(framework: str) -> frozenset[str]:
    found: set[str] = set()
    config = _config(framework)
    scopes = [config] if "versions" in config else config.values()  # model-monitor.json has one, unnamed
    for scope in scopes:
        if isinstance(scope, dict):
            for version in scope.get("versions", {}).values():
                found.update(version.get("registries", {}).values())
    return frozenset(found)


@functools.cache
def _config(framework: str) -> dict[str, Any]:
    spec = importlib.util.find_spec("sagemaker")  # locates the package without running it
    if spec is None or spec.origin is None:
        return {}
    file = Path(spec.origin).parent / "image_uri_config" / f"{framework}.json"
    return dict(json.loads(file.read_text())) if file.is_file() else {}


# The metrics SageMaker registers for its built-in XGBoost algorithm (train: and validation: of each; seen in
# DescribeTrainingJob's AlgorithmSpecification.MetricDefinitions of first-party XGBoost jobs).
_XGBOOST_METRICS = ("accuracy", "auc", "aucpr", "cox-nloglik", "error", "f1", "gamma-deviance", "gamma-nloglik",
                    "logloss", "mae", "map", "merror", "mlogloss", "mse", "ndcg", "poisson-nloglik", "r2", "rmse",
                    "tweedie-nloglik")  # fmt: skip
_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def builtin_metric_definitions(uri: str) -> list[tuple[str, str]]:
    """(name, regex) SageMaker applies to a training job on AWS's XGBoost image when the job names none."""
    image = parse_aws_image(uri)
    if image is None or image.framework != "xgboost":
        return []
    return [
        (f"{channel}:{metric}", f".*\\[[0-9]+\\].*#011{channel}-{metric}:{_NUMBER}.*")
        for channel in ("train", "validation")
        for metric in _XGBOOST_METRICS
    ]
