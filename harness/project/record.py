"""The run record: what ran, on which images and code, with which results.

`harness promote` trusts only this file: it holds the hash of the pipeline
definition, of the job code and the image IDs that a successful run verified.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from harness.history import store
from harness.history.store import LATEST, REQUIRED_FIELDS, runs_folder
from harness.project.config import Settings
from harness.statefiles import StateFile, read_object


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def code_hashes(settings: Settings) -> dict[str, str]:
    """sha256 of every job script, by path relative to the project."""
    return {
        path.relative_to(settings.project_root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(settings.jobs_dir.glob("*.py"))
    }


def runs_dir(settings: Settings) -> Path:
    return runs_folder(settings.state_dir)


def write_record(settings: Settings, record: dict[str, Any]) -> Path:
    """runs/<run id>.json, and runs/latest.json pointing at the newest run."""
    return store.write(settings.state_dir, record)


def latest_file(settings: Settings) -> StateFile:
    return StateFile(
        runs_dir(settings) / LATEST,
        "run record",
        "which run was verified last: run `harness run-local` again before promoting",
    )


def read_latest(settings: Settings) -> dict[str, Any] | None:
    return read_record(latest_file(settings))


def read_record(state: StateFile) -> dict[str, Any] | None:
    """Any run record, checked as promotion checks runs/latest.json (`doctor` applies this to every one)."""
    return read_object(state, required=REQUIRED_FIELDS)


def record_files(settings: Settings) -> list[StateFile]:
    """runs/latest.json and every runs/<run id>.json."""
    others = [StateFile(store.files_of(settings.state_dir, run_id).record, "run record", "that run's record")
              for run_id in store.run_ids(settings.state_dir)]  # fmt: skip
    return [latest_file(settings), *others]
