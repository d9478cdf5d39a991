"""The model artifact contract shared by training, evaluation and serving.

A model directory holds `model.joblib` and `metadata.json`; the metadata
records the library versions the model was trained with, so any loader can
refuse a model pickled by other versions (the seed's sklearn-drift pain).
This file is copied into every image next to the job scripts.
"""

from __future__ import annotations

import json
import platform
import tarfile
from importlib import metadata as importlib_metadata
from pathlib import Path, PurePosixPath
from typing import Any

import joblib

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
# Libraries whose versions must match between the trainer and any loader:
# a pickled scikit-learn estimator references their internals.
TRACKED_LIBRARIES = ("scikit-learn", "numpy", "scipy", "joblib", "pandas", "threadpoolctl")


class VersionMismatch(RuntimeError):
    """The model was trained with other library versions than this process has."""


def library_versions(names: tuple[str, ...] = TRACKED_LIBRARIES) -> dict[str, str]:
    return {name: importlib_metadata.version(name) for name in names}


def save_model(model: Any, model_dir: Path, n_features: int, hyperparameters: dict[str, Any]) -> Path:
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / MODEL_FILE)
    record = {
        "libraries": library_versions(),
        "python": platform.python_version(),
        "n_features": n_features,
        "hyperparameters": hyperparameters,
    }
    (model_dir / METADATA_FILE).write_text(json.dumps(record, indent=2, sort_keys=True))
    return model_dir / MODEL_FILE


def read_metadata(model_dir: Path) -> dict[str, Any]:
    path = model_dir / METADATA_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the model directory holds no {METADATA_FILE}")
    return json.loads(path.read_text())


def version_mismatches(recorded: dict[str, str]) -> list[str]:
    """Human-readable differences between recorded and installed versions."""
    installed = library_versions(tuple(recorded))
    return [
        f"{name}: model trained with {recorded[name]}, this image has {installed[name]}"
        for name in sorted(recorded)
        if recorded[name] != installed[name]
    ]


def load_model(model_dir: Path) -> tuple[Any, dict[str, Any]]:
    """Load a model after checking the library versions it was trained with."""
    meta = read_metadata(model_dir)
    mismatches = version_mismatches(meta.get("libraries", {}))
    if mismatches:
        raise VersionMismatch("library versions differ: " + "; ".join(mismatches))
    model_path = model_dir / MODEL_FILE
    if not model_path.is_file():
        raise FileNotFoundError(f"{model_path} is missing")
    return joblib.load(model_path), meta


def extract_archive(archive: Path, into: Path) -> Path:
    """Extract a model.tar.gz, refusing links, devices and paths outside `into`.

    Written out rather than `extractall(filter="data")`: Debian bookworm's
    Python 3.11.2 predates that filter.
    """
    with tarfile.open(archive, "r:gz") as tar:
        members = tar.getmembers()
        for member in members:
            path = PurePosixPath(member.name)
            if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
                raise ValueError(f"{archive} holds an unsafe entry {member.name!r}")
        tar.extractall(into, members=members)
    return into
