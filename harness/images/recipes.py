"""What each stand-in is: AWS's pins for that image version, our lock, and every difference from AWS's image.

Pins read from aws/sagemaker-scikit-learn-container (branches 1.2-1 and v1.4-2: docker/<version>/base and final
Dockerfiles, requirements.txt). The stand-ins run CPython 3.11 (the Python of every base image this machine can
get offline); a pin with no CPython 3.11 wheel is replaced by the nearest version that has one. Each
difference is printed whenever a job or endpoint uses the stand-in, written in the run record and shown by
`harness doctor`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import UserError
from harness.images.aws import AwsImage, sdk_versions

HERE = Path(__file__).parent
DOCKERFILE = HERE / "Dockerfile"  # the framework stand-ins': the recipe's lock and framework make the difference


@dataclass(frozen=True)
class Difference:
    """One way the stand-in differs from AWS's image of that version."""

    item: str  # "python", a library's name
    aws: str
    here: str
    why: str

    def __str__(self) -> str:
        return f"{self.item} {self.here} (AWS's image: {self.aws}; {self.why})"


@dataclass(frozen=True)
class Recipe:
    framework: str
    version: str
    repository: str  # AWS's ECR repository
    lock: Path
    from_source: tuple[str, ...]  # packages PyPI ships only as source: built into wheels on the host
    differences: tuple[Difference, ...]
    dockerfile: Path = DOCKERFILE

    @property
    def local_name(self) -> str:
        """The stand-in's own tag; every AWS URI of this version is tagged onto the same image."""
        return f"harness-standin/{self.repository}:{self.version}"


_NO_311_WHEEL = "no CPython 3.11 wheel of AWS's version: the nearest that has one"
_PYTHON = "the Python of the offline base image; AWS's image builds its own"
_SKLEARN_FROM_SOURCE = ("sagemaker-training", "inotify-simple", "retrying", "psutil")
_MODEL_SERVER = Difference(
    "model server", "nginx + gunicorn (sagemaker-containers 2.8.6)", "one threaded process",
    "the same handler contract and answers",
)  # fmt: skip

_XGB_FROM_SOURCE = ("sagemaker-training", "inotify-simple", "retrying", "psutil")
_XGB_COMMON = (
    Difference("boto3", "1.17.52", "1.28.57", "the training toolkit needs >= 1.28.57, and so does AWS_ENDPOINT_URL"),
    Difference("training toolkit", "sagemaker-containers 2.8.6.post2", "sagemaker-training 4.8.0",
               "script mode runs `python train.py` where AWS's runs `python -m train`"),
    Difference("algorithm mode", "AWS's container code", "the harness's, written from AWS's documentation",
               "same hyperparameter checks and messages, log lines, model file and answers"),
    _MODEL_SERVER,
)  # fmt: skip

RECIPES: dict[tuple[str, str], Recipe] = {
    ("sklearn", "1.2-1"): Recipe(
        "sklearn",
        "1.2-1",
        "sagemaker-scikit-learn",
        HERE / "sklearn" / "1.2-1.lock",
        _SKLEARN_FROM_SOURCE,
        (
            Difference("python", "3.9 (Miniconda)", "3.11", _PYTHON),
            Difference("pandas", "1.1.3", "1.5.0", _NO_311_WHEEL),
            Difference("scipy", "1.8.0", "1.9.2", _NO_311_WHEEL),
            _MODEL_SERVER,
        ),
    ),
    ("sklearn", "1.4-2"): Recipe(
        "sklearn",
        "1.4-2",
        "sagemaker-scikit-learn",
        HERE / "sklearn" / "1.4-2.lock",
        _SKLEARN_FROM_SOURCE,
        (
            Difference("python", "3.10", "3.11", _PYTHON),
            Difference("scipy", ">=1.9.0 (unpinned)", "1.17.1", "AWS's image resolves it at build time"),
            _MODEL_SERVER,
        ),
    ),
    ("xgboost", "1.7-1"): Recipe(
        "xgboost",
        "1.7-1",
        "sagemaker-xgboost",
        HERE / "xgboost" / "1.7-1.lock",
        _XGB_FROM_SOURCE,
        (
            Difference("python", "3.9 (Miniconda)", "3.11", _PYTHON),
            Difference("pandas", "1.2.4", "1.5.0", _NO_311_WHEEL),
            Difference("scipy", "1.8.0", "1.9.2", _NO_311_WHEEL),
            Difference("scikit-learn", "0.24.1", "1.1.3", _NO_311_WHEEL),
            *_XGB_COMMON,
        ),
    ),
    ("xgboost", "3.0-5"): Recipe(
        "xgboost",
        "3.0-5",
        "sagemaker-xgboost",
        HERE / "xgboost" / "3.0-5.lock",
        _XGB_FROM_SOURCE,
        (
            Difference("python", "3.10", "3.11", _PYTHON),
            Difference("xgboost", "3.0.5 (CUDA build)", "xgboost-cpu 3.0.5", "the same version without GPU support"),
            *_XGB_COMMON,
        ),
    ),
    ("model-monitor", "latest"): Recipe(
        "model-monitor",
        "latest",
        "sagemaker-model-monitor-analyzer",
        HERE / "model-monitor" / "latest.lock",
        (),
        (
            Difference("python", "none (a JVM image)", "3.11", "the analyzer is a Python program here"),
            Difference(
                "analyzer",
                "Apache Spark with Deequ",
                "pandas, in one process",
                "the same environment contract and output files, computed by the harness's own code",
            ),
            Difference(
                "distributions",
                "KLL sketches (Deequ)",
                "exact quantiles of the data, in KLL's layout",
                "drift distances can differ slightly from AWS's on large data sets",
            ),
        ),
        HERE / "Dockerfile.model-monitor",
    ),
}


def recipe_for(image: AwsImage) -> Recipe:
    """The stand-in for `image`; a UserError naming the versions there are when there is none."""
    recipe = RECIPES.get((image.framework, image.version))
    if recipe is not None:
        return recipe
    offered = sdk_versions(image.framework)
    ours = sorted(version for framework, version in RECIPES if framework == image.framework)
    if image.version not in offered:
        raise UserError(
            f"{image.uri} names {image.framework} version {image.version}, which the SageMaker SDK does not offer",
            fix=f"use one of the versions the SDK offers: {', '.join(offered)} "
            f"(stand-ins exist for {', '.join(ours) or 'none yet'})",
        )
    raise UserError(
        f"{image.uri} is AWS's {image.framework} {image.version} image, which is not available offline and "
        "has no local stand-in",
        fix=f"use a version with a stand-in ({', '.join(ours) or 'none yet'}), or pull AWS's image while online "
        f"(`aws ecr get-login-password | docker login ...; docker pull {image.uri}`)",
    )
