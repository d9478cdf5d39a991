"""Processing job: score the trained model on the test split.

Reads model.tar.gz (as the training job produced it) and the label-first test
CSV, then writes evaluation.json in the SageMaker model-quality layout (what a
PropertyFile/JsonGet reads, e.g. binary_classification_metrics.accuracy.value)
and predictions.csv (label, prediction, probability) to the output folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from model_artifact import extract_archive, load_model
from sklearn import metrics
from tabular import read_labelled

DEFAULT_MODEL = Path("/opt/ml/processing/model")
DEFAULT_TEST = Path("/opt/ml/processing/test")
DEFAULT_OUTPUT = Path("/opt/ml/processing/evaluation")


def single_file(folder: Path, pattern: str) -> Path:
    found = sorted(folder.rglob(pattern))
    if len(found) != 1:
        raise FileNotFoundError(f"expected exactly one {pattern} under {folder}, found {len(found)}")
    return found[0]


def score(model: Any, features: np.ndarray, labels: np.ndarray) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    predictions = model.predict(features)
    probabilities = model.predict_proba(features)[:, 1]
    values = {
        "accuracy": metrics.accuracy_score(labels, predictions),
        "precision": metrics.precision_score(labels, predictions, zero_division=0),
        "recall": metrics.recall_score(labels, predictions, zero_division=0),
        "f1": metrics.f1_score(labels, predictions, zero_division=0),
        "auc": metrics.roc_auc_score(labels, probabilities),
    }
    report = {
        "binary_classification_metrics": {
            name: {"value": round(float(value), 6), "standard_deviation": "NaN"} for name, value in values.items()
        },
        "test_rows": len(labels),
    }
    return report, predictions, probabilities


def run(model_dir: Path, test_dir: Path, output_dir: Path) -> dict[str, Any]:
    archive = single_file(model_dir, "model.tar.gz")
    features, labels = read_labelled(single_file(test_dir, "*.csv"))
    with tempfile.TemporaryDirectory() as scratch:
        model, _ = load_model(extract_archive(archive, Path(scratch)))
    report, predictions, probabilities = score(model, features, labels)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "evaluation.json").write_text(json.dumps(report, indent=2))
    table = np.column_stack([labels, predictions, probabilities])
    np.savetxt(
        output_dir / "predictions.csv",
        table,
        fmt=["%d", "%d", "%.6f"],
        delimiter=",",
        header="label,prediction,probability",
        comments="",
    )
    return report


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--test-dir", type=Path, default=DEFAULT_TEST)
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    report = run(args.model_dir, args.test_dir, args.output_dir)
    print(json.dumps(report["binary_classification_metrics"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
