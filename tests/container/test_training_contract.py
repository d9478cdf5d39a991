"""`docker run IMAGE train` against the SageMaker training contract."""

import json
from pathlib import Path

from support import training_root, training_spec

from harness.engine.docker import Scope
from harness.project.images import ImageKind


def test_trains_from_the_exact_seed_path_without_network(trained: Path) -> None:
    assert (trained / "input" / "data" / "train" / "train_data.csv").is_file()
    meta = json.loads((trained / "model" / "metadata.json").read_text())
    assert meta["hyperparameters"]["C"] == 0.5  # the string "0.5" was parsed
    assert meta["hyperparameters"]["max_iter"] == 500
    assert (trained / "model" / "model.joblib").stat().st_size > 0
    assert not (trained / "output" / "failure").exists()


def test_broken_input_writes_the_failure_file_and_exits_non_zero(
    tmp_path: Path, fixtures_dir: Path, scope: Scope, images: dict
) -> None:
    root = training_root(tmp_path, fixtures_dir)
    (root / "input" / "data" / "train" / "train_data.csv").write_text("label,f1\n1,oops\n")
    code, _logs = scope.run_to_exit(training_spec(images[ImageKind.TRAINING], root), timeout_s=120)
    assert code != 0
    failure = (root / "output" / "failure").read_text()
    assert failure.startswith("ValueError:") and "train_data.csv" in failure
    assert not (root / "model" / "model.joblib").exists()


def test_string_hyperparameter_errors_are_reported(
    tmp_path: Path, fixtures_dir: Path, scope: Scope, images: dict
) -> None:
    root = training_root(tmp_path, fixtures_dir, hyperparameters='{"max_iter": "many"}')
    code, _ = scope.run_to_exit(training_spec(images[ImageKind.TRAINING], root), timeout_s=120)
    assert code == 1
    assert "hyperparameter max_iter='many' is not a valid int" in (root / "output" / "failure").read_text()
