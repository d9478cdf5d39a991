"""`harness run-local` as configuration: this repository's own use of `[tool.harness.run-local]`.

    [tool.harness.run-local]
    pipeline = "jobs/pipeline.py"          # defines build_pipeline(session, settings) and PipelineSettings
    parameters = { ModelApprovalStatus = "Approved" }
    data = { "fixtures/data/raw/breast_cancer.csv" = "data/raw/breast_cancer.csv" }   # path = key in the run's bucket
    payloads = "fixtures/payloads"         # each file is sent to the deployed endpoint
    check-inputs = "Preprocess/test/test_data.csv"          # step/output/file: rows the endpoint predicts
    check-predictions = "Evaluate/evaluation/predictions.csv"  # step/output/file: what it must answer
    parity = ["training_image", "inference_image"]   # images that must carry the same library versions
    monitor-baseline = "DataQualityCheck"  # a QualityCheck step: Model Monitor checks the endpoint against it
    drifted-payloads = "fixtures/payloads-drifted"  # CSV rows sent one a request; the monitor must flag them
    monitor-preprocessor = "jobs/monitor_records.py"  # Model Monitor's record_preprocessor_script, if any

    [tool.harness.run-local.images]        # PipelineSettings field = the image it gets
    processing_image = { target = "processing" }   # a target of containers/Dockerfile, built when stale
    training_image = "my-trainer:dev"              # or any local image, used as it is

Paths are relative to the pyproject.toml. The emulator itself knows none of these names.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.project.images import ImageKind


@dataclass(frozen=True)
class StepFile:
    """A file a pipeline step wrote: `<step>/<output name>/<file>`."""

    step: str
    output: str
    file: str

    @classmethod
    def parse(cls, text: str, key: str) -> StepFile:
        parts = text.split("/", 2)
        if len(parts) != 3 or not all(parts):
            raise UserError(f"[tool.harness.run-local] {key} = {text!r} is not step/output/file",
                            fix=f'e.g. {key} = "Evaluate/evaluation/predictions.csv"')  # fmt: skip
        return cls(*parts)


@dataclass(frozen=True)
class PipelineImage:
    """The image one PipelineSettings field gets: a target of this repository's containers/Dockerfile (built when
    stale, tagged by `harness images build`), or any local image used as it is."""

    field: str
    target: ImageKind | None = None
    local: str = ""


@dataclass(frozen=True)
class RunLocalConfig:
    pipeline: Path
    images: tuple[PipelineImage, ...] = ()
    parity: tuple[str, ...] = ()  # the fields whose images must carry the same library versions
    parameters: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[Path, str] = field(default_factory=dict)  # local file -> key in the run's bucket
    payloads: Path | None = None
    check_inputs: StepFile | None = None
    check_predictions: StepFile | None = None
    monitor_baseline: str | None = None  # the QualityCheck step whose baseline Model Monitor uses
    drifted_payloads: Path | None = None  # a folder of CSV files, one request a row
    monitor_preprocessor: Path | None = None  # the schedule's record_preprocessor_script


def load_run_local(project_root: Path) -> RunLocalConfig:
    file = project_root / "pyproject.toml"
    try:
        document = tomllib.loads(file.read_text())
    except FileNotFoundError:
        raise UserError(f"{file} not found", fix="run-local reads [tool.harness.run-local] from it") from None
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{file} is not valid TOML: {error}", fix="fix the line named above") from None
    table: Any = document.get("tool", {}).get("harness", {}).get("run-local")
    if not isinstance(table, dict) or "pipeline" not in table:
        raise UserError(
            f"{file} has no [tool.harness.run-local] table with `pipeline`",
            fix='add one: pipeline = "jobs/pipeline.py" (see the configuration table in the README)',
        )
    data = {project_root / str(path): str(key).lstrip("/") for path, key in dict(table.get("data", {})).items()}
    for path in data:
        if not path.is_file():
            raise UserError(f"[tool.harness.run-local] data: {path} does not exist", fix="name a file to seed")
    payloads = project_root / str(table["payloads"]) if "payloads" in table else None
    drifted = project_root / str(table["drifted-payloads"]) if "drifted-payloads" in table else None
    preprocessor = project_root / str(table["monitor-preprocessor"]) if "monitor-preprocessor" in table else None
    if preprocessor is not None and not preprocessor.is_file():
        raise UserError(f"[tool.harness.run-local] monitor-preprocessor: {preprocessor} does not exist",
                        fix="name the Python file that defines preprocess_handler(inference_record)")  # fmt: skip
    if drifted is not None and not drifted.is_dir():
        raise UserError(f"[tool.harness.run-local] drifted-payloads: {drifted} is not a folder",
                        fix="name a folder of CSV files (one request a row)")  # fmt: skip
    images = tuple(_image(str(name), value) for name, value in dict(table.get("images", {})).items())
    return RunLocalConfig(
        pipeline=project_root / str(table["pipeline"]),
        images=images,
        parity=_parity(table.get("parity"), images),
        parameters={str(k): str(v) for k, v in dict(table.get("parameters", {})).items()},
        data=data,
        payloads=payloads,
        check_inputs=StepFile.parse(str(table["check-inputs"]), "check-inputs") if "check-inputs" in table else None,
        check_predictions=(
            StepFile.parse(str(table["check-predictions"]), "check-predictions")
            if "check-predictions" in table
            else None
        ),
        monitor_baseline=str(table["monitor-baseline"]) if "monitor-baseline" in table else None,
        drifted_payloads=drifted,
        monitor_preprocessor=preprocessor,
    )


def _image(name: str, value: Any) -> PipelineImage:
    targets = ", ".join(kind.value for kind in ImageKind)
    if isinstance(value, str) and value:
        return PipelineImage(name, local=value)
    if isinstance(value, dict) and set(value) == {"target"} and value["target"] in set(ImageKind):
        return PipelineImage(name, target=ImageKind(value["target"]))
    raise UserError(
        f"[tool.harness.run-local.images] {name} = {value!r} is neither a local image nor {{ target = ... }}",
        fix=f'write {name} = "repository:tag" (a local image) or {name} = {{ target = "training" }} '
        f"(a target of containers/Dockerfile: {targets})",
    )


def _parity(value: Any, images: tuple[PipelineImage, ...]) -> tuple[str, ...]:
    if value is None:  # by default every image built from this repository's one lock
        return tuple(image.field for image in images if image.target is not None)
    known = {image.field for image in images}
    if not isinstance(value, list) or not all(isinstance(item, str) and item in known for item in value):
        raise UserError(
            f"[tool.harness.run-local] parity = {value!r} must list fields of [tool.harness.run-local.images]",
            fix=f"choose among: {', '.join(sorted(known)) or '(no images configured)'}",
        )
    return tuple(value)
