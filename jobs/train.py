"""Training job, following the SageMaker training contract.

Started as `docker run IMAGE train`. Reads the `train` channel (and the
optional `validation` channel) from /opt/ml/input/data/<channel>/, string
hyperparameters from /opt/ml/input/config/hyperparameters.json, writes the
model and its metadata to /opt/ml/model and, on any error, the reason to
/opt/ml/output/failure before exiting non-zero.

SAGEMAKER_BASE_DIR moves the /opt/ml root (for tests), as in the SageMaker
training toolkit.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np
from model_artifact import save_model
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tabular import read_labelled

FAILURE_LIMIT = 1024  # SageMaker keeps this many characters as FailureReason
# name -> (parser, default). Values arrive as strings: SageMaker stringifies them.
HYPERPARAMETERS: dict[str, tuple[Any, Any]] = {
    "C": (float, 1.0),
    "max_iter": (int, 1000),
    "tol": (float, 1e-4),
}


def parse_hyperparameters(raw: dict[str, Any]) -> dict[str, Any]:
    parsed = {name: default for name, (_, default) in HYPERPARAMETERS.items()}
    for name, value in raw.items():
        if name.startswith("sagemaker_"):
            continue  # set by the SDK for framework estimators; not ours
        if name not in HYPERPARAMETERS:
            raise ValueError(f"unknown hyperparameter {name!r}; known: {', '.join(sorted(HYPERPARAMETERS))}")
        convert = HYPERPARAMETERS[name][0]
        try:
            parsed[name] = convert(json.loads(value) if isinstance(value, str) and value.startswith('"') else value)
        except (TypeError, ValueError):
            raise ValueError(f"hyperparameter {name}={value!r} is not a valid {convert.__name__}") from None
    return parsed


def channel_file(base: Path, channel: str) -> Path | None:
    """The single CSV file of a channel, or None when the channel is absent."""
    folder = base / "input" / "data" / channel
    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    if len(files) != 1:
        raise ValueError(f"channel {channel!r} must hold exactly one file, found {len(files)} in {folder}")
    return files[0]


def train(base: Path) -> dict[str, Any]:
    train_path = channel_file(base, "train")
    if train_path is None:
        raise FileNotFoundError(f"the required 'train' channel is missing: {base / 'input/data/train'} does not exist")
    hp_file = base / "input" / "config" / "hyperparameters.json"
    hyperparameters = parse_hyperparameters(json.loads(hp_file.read_text()) if hp_file.is_file() else {})
    features, labels = read_labelled(train_path)
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=hyperparameters["C"], max_iter=hyperparameters["max_iter"], tol=hyperparameters["tol"]),
    )
    model.fit(features, labels)
    save_model(model, base / "model", features.shape[1], hyperparameters)
    report: dict[str, Any] = {"train_rows": len(labels), "train_accuracy": float(model.score(features, labels))}
    validation_path = channel_file(base, "validation")
    if validation_path is not None:
        report.update(write_validation(model, validation_path, base / "output" / "data"))
    return report


def write_validation(model: Any, path: Path, output_data: Path) -> dict[str, Any]:
    """Score the validation channel and keep the predictions as output data."""
    features, labels = read_labelled(path)
    predictions = model.predict(features)
    output_data.mkdir(parents=True, exist_ok=True)
    np.savetxt(output_data / "validation_predictions.csv", predictions, fmt="%d")
    return {"validation_rows": len(labels), "validation_accuracy": float(np.mean(predictions == labels))}


def write_failure(base: Path, error: BaseException) -> None:
    reason = f"{type(error).__name__}: {error}"
    detail = traceback.format_exc()
    failure = base / "output" / "failure"
    failure.parent.mkdir(parents=True, exist_ok=True)
    failure.write_text((reason + "\n\n" + detail)[: FAILURE_LIMIT * 4])


def main(argv: list[str] | None = None, base: Path | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] != "train":
        print(f"usage: train.py [train]; got {args!r}", file=sys.stderr)
        return 2
    root = base or Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"))
    try:
        report = train(root)
    except Exception as error:  # noqa: BLE001 (SageMaker's contract: every failure reaches the failure file)
        write_failure(root, error)
        print(f"training failed: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        return 1
    (root / "output" / "data").mkdir(parents=True, exist_ok=True)
    (root / "output" / "data" / "training_report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
