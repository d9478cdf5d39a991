import json
import shutil
from pathlib import Path

import model_artifact
import pytest
import train


def opt_ml(
    tmp_path: Path, fixtures_dir: Path, hyperparameters: dict[str, str] | None = None, validation: bool = True
) -> Path:
    base = tmp_path / "opt" / "ml"
    (base / "input" / "data" / "train").mkdir(parents=True)
    shutil.copy(fixtures_dir / "data" / "train" / "train_data.csv", base / "input" / "data" / "train")
    if validation:
        (base / "input" / "data" / "validation").mkdir(parents=True)
        shutil.copy(
            fixtures_dir / "data" / "validation" / "validation_data.csv", base / "input" / "data" / "validation"
        )
    (base / "input" / "config").mkdir(parents=True)
    (base / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters or {}))
    return base


def test_trains_from_the_seed_paths_with_string_hyperparameters(tmp_path: Path, fixtures_dir: Path) -> None:
    base = opt_ml(tmp_path, fixtures_dir, {"C": "0.5", "max_iter": "300"})
    assert train.main(["train"], base=base) == 0
    meta = json.loads((base / "model" / "metadata.json").read_text())
    assert meta["hyperparameters"] == {"C": 0.5, "max_iter": 300, "tol": 0.0001}
    assert meta["libraries"] == model_artifact.library_versions()
    assert meta["n_features"] == 30
    report = json.loads((base / "output" / "data" / "training_report.json").read_text())
    assert report["validation_accuracy"] > 0.9
    assert len((base / "output" / "data" / "validation_predictions.csv").read_text().split()) == 84
    assert not (base / "output" / "failure").exists()


def test_validation_channel_is_optional(tmp_path: Path, fixtures_dir: Path) -> None:
    base = opt_ml(tmp_path, fixtures_dir, validation=False)
    assert train.main([], base=base) == 0
    assert (base / "model" / "model.joblib").is_file()


@pytest.mark.parametrize(
    ("hyperparameters", "reason"),
    [
        ({"C": "abc"}, "hyperparameter C='abc' is not a valid float"),
        ({"learning_rate": "0.1"}, "unknown hyperparameter 'learning_rate'"),
    ],
)
def test_bad_hyperparameters_write_the_failure_file(
    tmp_path: Path, fixtures_dir: Path, hyperparameters: dict[str, str], reason: str
) -> None:
    base = opt_ml(tmp_path, fixtures_dir, hyperparameters)
    assert train.main(["train"], base=base) == 1
    assert reason in (base / "output" / "failure").read_text()
    assert not (base / "model").exists()


def test_broken_training_data_writes_the_failure_file(tmp_path: Path, fixtures_dir: Path) -> None:
    base = opt_ml(tmp_path, fixtures_dir)
    (base / "input" / "data" / "train" / "train_data.csv").write_text("1,2,x\n0,3,4\n")
    assert train.main(["train"], base=base) == 1
    failure = (base / "output" / "failure").read_text()
    assert failure.startswith("ValueError:") and "non-numeric" in failure


def test_missing_train_channel_is_named(tmp_path: Path) -> None:
    assert train.main(["train"], base=tmp_path) == 1
    assert "the required 'train' channel is missing" in (tmp_path / "output" / "failure").read_text()


def test_unknown_argument_is_a_usage_error(tmp_path: Path) -> None:
    assert train.main(["serve"], base=tmp_path) == 2
