"""Processing jobs: inputs in under /opt/ml/processing, outputs out, exit codes."""

import json
import shutil
from pathlib import Path

import pandas as pd

from harness.engine.docker import ContainerSpec, Mount, Scope
from harness.project.images import ImageKind


def processing_spec(image: str, script: str, mounts: tuple[Mount, ...]) -> ContainerSpec:
    # ContainerEntrypoint in exec form, as a ProcessingJob request carries it
    return ContainerSpec(
        image=image, entrypoint=("python3", f"/opt/program/{script}"), mounts=mounts, network_disabled=True
    )


def test_preprocess_reads_inputs_and_writes_outputs(
    tmp_path: Path, fixtures_dir: Path, scope: Scope, images: dict
) -> None:
    output = tmp_path / "output"
    output.mkdir()
    mounts = (
        Mount(fixtures_dir / "data" / "raw", "/opt/ml/processing/input", read_only=True),
        Mount(output, "/opt/ml/processing/output"),
    )
    code, logs = scope.run_to_exit(processing_spec(images[ImageKind.PROCESSING], "preprocess.py", mounts), 180)
    assert code == 0, logs
    counts = json.loads(logs.strip().splitlines()[-1])
    for name in ("train", "validation", "test"):
        frame = pd.read_csv(output / name / f"{name}_data.csv", header=None)
        assert len(frame) == counts[f"{name}_rows"] and frame.shape[1] == 31
    # the fixture splits were produced by the same code: the container agrees with them
    expected = (fixtures_dir / "data" / "train" / "train_data.csv").read_text()
    assert (output / "train" / "train_data.csv").read_text() == expected


def test_missing_input_fails_with_a_non_zero_exit(tmp_path: Path, scope: Scope, images: dict) -> None:
    (tmp_path / "in").mkdir()
    mounts = (Mount(tmp_path / "in", "/opt/ml/processing/input", read_only=True),)
    code, logs = scope.run_to_exit(processing_spec(images[ImageKind.PROCESSING], "preprocess.py", mounts), 120)
    assert code != 0
    assert "no .csv file under /opt/ml/processing/input" in logs


def test_evaluate_scores_the_trained_model(
    tmp_path: Path, fixtures_dir: Path, trained: Path, scope: Scope, images: dict
) -> None:
    (tmp_path / "model").mkdir()
    shutil.copy(trained / "model.tar.gz", tmp_path / "model")
    (tmp_path / "evaluation").mkdir()
    mounts = (
        Mount(tmp_path / "model", "/opt/ml/processing/model", read_only=True),
        Mount(fixtures_dir / "data" / "test", "/opt/ml/processing/test", read_only=True),
        Mount(tmp_path / "evaluation", "/opt/ml/processing/evaluation"),
    )
    code, logs = scope.run_to_exit(processing_spec(images[ImageKind.PROCESSING], "evaluate.py", mounts), 180)
    assert code == 0, logs
    report = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    assert report["binary_classification_metrics"]["accuracy"]["value"] > 0.9
