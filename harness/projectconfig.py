"""A team's project configuration: `[tool.harness]` in the pyproject.toml at or
above the folder a command runs in (ignored by the cloud).

    [tool.harness]
    data = { "data/houses.csv" = "s3://acme-ml-data/raw/houses.csv" }   # seeded before the command
    wheelhouse = "wheels"              # a folder of wheels pip finds in every container (requirements.txt)
    max-parallel = 4                   # pipeline steps at once at most (default: 2 a core, 1 a GiB of memory)

    [tool.harness.lambda]              # a LambdaStep's function (ARN or name) -> the handler run on this machine
    notify-team = "lambdas/notify.py:handler"
    "arn:aws:lambda:us-east-1:111122223333:function:deploy" = { handler = "lambdas/deploy.py:main", timeout = 300 }

    [tool.harness.faults]              # a step's first attempts fail as the service would (to try retry policies)
    TrainModel = { exception = "SageMaker.CAPACITY_ERROR", attempts = 2 }

    [tool.harness.images]
    "111122223333.dkr.ecr.us-east-1.amazonaws.com/acme/prep:1.0" = "prep:dev"   # a local image stands for it
    [tool.harness.images."111122223333.dkr.ecr.us-east-1.amazonaws.com/acme/train:1.0"]
    context = "images/trainer"         # built under the URI's name before the command
    dockerfile = "Dockerfile"          # relative to the context (default)
    target = ""                        # a stage of a multi-stage Dockerfile (default: the last)
    build-args = { BASE_IMAGE = "python:3.11-slim" }

Every path is relative to the pyproject.toml's folder.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.emulator.lambda_step import LambdaHandler
from harness.emulator.retries import InjectedFault
from harness.emulator.storage import S3Uri
from harness.errors import UserError

_IMAGE_KEYS = {"context", "dockerfile", "target", "build-args"}


@dataclass(frozen=True)
class ImageSource:
    """Where the local image for a cloud image URI comes from: an existing local image, or a build."""

    uri: str
    local: str = ""
    context: Path | None = None
    dockerfile: str = "Dockerfile"
    target: str = ""
    build_args: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DataSeed:
    path: Path
    uri: S3Uri


@dataclass(frozen=True)
class ProjectConfig:
    file: Path | None = None  # the pyproject.toml read, if any
    data: tuple[DataSeed, ...] = ()
    images: tuple[ImageSource, ...] = ()
    wheelhouse: Path | None = None
    max_parallel: int | None = None
    faults: Mapping[str, InjectedFault] = field(default_factory=dict)
    lambdas: Mapping[str, LambdaHandler] = field(default_factory=dict)

    @property
    def folder(self) -> Path | None:
        return self.file.parent if self.file else None

    def aliases(self) -> dict[str, str]:
        """Cloud URI -> the local image standing for it (a built one keeps the URI's own name)."""
        return {image.uri: image.local or image.uri for image in self.images}


def find_pyproject(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_project(start: Path) -> ProjectConfig:
    """The configuration of the nearest pyproject.toml at or above `start` (empty when there is none)."""
    file = find_pyproject(start.resolve())
    if file is None:
        return ProjectConfig()
    try:
        document = tomllib.loads(file.read_text())
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{file} is not valid TOML: {error}", fix="fix the line named above") from None
    table = document.get("tool", {}).get("harness", {})
    if not isinstance(table, dict):
        raise UserError(f"{file}: [tool.harness] must be a table")
    return ProjectConfig(
        file, _data(file, table.get("data", {})), _images(file, table.get("images", {})), _wheelhouse(file, table),
        _max_parallel(file, table), _faults(file, table.get("faults", {})), _lambdas(file, table.get("lambda", {})),
    )  # fmt: skip


def _lambdas(file: Path, table: Any) -> dict[str, LambdaHandler]:
    if not isinstance(table, dict):
        raise UserError(f"{file}: [tool.harness.lambda] must be a table of function ARN or name = handler")
    return {str(key): LambdaHandler.parse(file.parent, str(file), str(key), value) for key, value in table.items()}


def _faults(file: Path, table: Any) -> dict[str, InjectedFault]:
    if not isinstance(table, dict):
        raise UserError(f"{file}: [tool.harness.faults] must be a table of step name = {{ exception, attempts }}")
    return {str(step): InjectedFault.parse(str(file), str(step), value) for step, value in table.items()}


def _max_parallel(file: Path, table: dict[str, Any]) -> int | None:
    value = table.get("max-parallel")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UserError(f"{file}: [tool.harness] max-parallel = {value!r} is not a whole number of 1 or more",
                        fix="max-parallel = 4 (or remove it: 2 steps a core, 1 a GiB of memory)")  # fmt: skip
    return value


def _wheelhouse(file: Path, table: dict[str, Any]) -> Path | None:
    if "wheelhouse" not in table:
        return None
    folder = (file.parent / str(table["wheelhouse"])).resolve()
    if not folder.is_dir():
        raise UserError(
            f"{file}: [tool.harness] wheelhouse = {table['wheelhouse']!r}: {folder} is not a folder",
            fix="create it with the wheels your requirements.txt needs: pip download -d wheels -r requirements.txt",
        )
    return folder


def data_seed(folder: Path, path_text: str, uri_text: str, where: str) -> DataSeed:
    path = (folder / path_text).resolve()
    if not path.exists():
        raise UserError(f"{where}: {path} does not exist", fix="name a file or folder to copy into the local S3")
    try:
        uri = S3Uri.parse(uri_text)
    except UserError:
        raise UserError(f"{where}: {uri_text!r} is not an s3:// URI", fix="write it as s3://bucket/key") from None
    return DataSeed(path, uri)


def _data(file: Path, data: Any) -> tuple[DataSeed, ...]:
    if not isinstance(data, dict):
        raise UserError(f'{file}: [tool.harness] data must be a table of path = "s3://bucket/key"')
    return tuple(data_seed(file.parent, str(p), str(u), f"{file} [tool.harness] data") for p, u in data.items())


def _images(file: Path, images: Any) -> tuple[ImageSource, ...]:
    if not isinstance(images, dict):
        raise UserError(f"{file}: [tool.harness.images] must be a table of image URI = local image or build table")
    return tuple(_image(file, str(uri), value) for uri, value in images.items())


def _image(file: Path, uri: str, value: Any) -> ImageSource:
    where = f'{file} [tool.harness.images."{uri}"]'
    if isinstance(value, str):
        return ImageSource(uri, local=value)
    if not isinstance(value, dict) or "context" not in value:
        raise UserError(f"{where} must be a local image name or a table with `context`", fix='context = "images/x"')
    unknown = set(value) - _IMAGE_KEYS
    if unknown:
        raise UserError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}", fix=f"use {', '.join(sorted(_IMAGE_KEYS))}"
        )
    context = (file.parent / str(value["context"])).resolve()
    dockerfile = str(value.get("dockerfile", "Dockerfile"))
    if not (context / dockerfile).is_file():
        raise UserError(f"{where}: {context / dockerfile} does not exist", fix="point context/dockerfile at it")
    build_args = value.get("build-args", {})
    if not isinstance(build_args, dict):
        raise UserError(f'{where}: build-args must be a table of NAME = "value"')
    return ImageSource(
        uri, context=context, dockerfile=dockerfile, target=str(value.get("target", "")),
        build_args={str(k): str(v) for k, v in build_args.items()},
    )  # fmt: skip
