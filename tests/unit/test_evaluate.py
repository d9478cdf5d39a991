import json
import re
import shutil
import tarfile
from pathlib import Path

import evaluate
import model_artifact
import pandas as pd
import pytest
import train


@pytest.fixture
def model_archive(tmp_path: Path, fixtures_dir: Path) -> Path:
    base = tmp_path / "ml"
    (base / "input" / "data" / "train").mkdir(parents=True)
    shutil.copy(fixtures_dir / "data" / "train" / "train_data.csv", base / "input" / "data" / "train")
    assert train.main(["train"], base=base) == 0
    archive = tmp_path / "model" / "model.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        for item in (base / "model").iterdir():
            tar.add(item, arcname=item.name)
    return archive


def test_writes_propertyfile_metrics_and_predictions(tmp_path: Path, fixtures_dir: Path, model_archive: Path) -> None:
    out = tmp_path / "evaluation"
    assert (
        evaluate.main(
            [
                "--model-dir",
                str(model_archive.parent),
                "--test-dir",
                str(fixtures_dir / "data" / "test"),
                "--output-dir",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads((out / "evaluation.json").read_text())
    metrics = report["binary_classification_metrics"]
    assert set(metrics) == {"accuracy", "precision", "recall", "f1", "auc"}
    assert 0.9 < metrics["accuracy"]["value"] <= 1.0
    predictions = pd.read_csv(out / "predictions.csv")
    assert list(predictions.columns) == ["label", "prediction", "probability"]
    assert len(predictions) == report["test_rows"] == 85
    assert (predictions["label"] == predictions["prediction"]).mean() == pytest.approx(metrics["accuracy"]["value"])


def test_refuses_a_model_trained_with_other_versions(tmp_path: Path, fixtures_dir: Path, model_archive: Path) -> None:
    unpacked = tmp_path / "unpacked"
    with tarfile.open(model_archive) as tar:
        tar.extractall(unpacked, filter="data")
    meta = json.loads((unpacked / "metadata.json").read_text())
    meta["libraries"]["scikit-learn"] = "0.24.2"
    (unpacked / "metadata.json").write_text(json.dumps(meta))
    with tarfile.open(model_archive, "w:gz") as tar:
        for item in unpacked.iterdir():
            tar.add(item, arcname=item.name)
    with pytest.raises(model_artifact.VersionMismatch, match=re.escape("scikit-learn: model trained with 0.24.2")):
        evaluate.run(model_archive.parent, fixtures_dir / "data" / "test", tmp_path / "out")
