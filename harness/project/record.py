"""The run record: what ran, on which images and code, with which results.

`harness promote` trusts only this file: it holds the hash of the pipeline
definition, of the job code and the image IDs that a successful run verified.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.project.config import Settings
from harness.statefiles import StateFile, read_object

# Every record has these, whatever its status: the run failed before anything else was known.
_REQUIRED = ("record_version", "run_id", "status", "code")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def code_hashes(settings: Settings) -> dict[str, str]:
    """sha256 of every job script, by path relative to the project."""
    return {
        path.relative_to(settings.project_root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(settings.jobs_dir.glob("*.py"))
    }


def runs_dir(settings: Settings) -> Path:
    return settings.state_dir / "runs"


def write_record(settings: Settings, record: dict[str, Any]) -> Path:
    """runs/<run id>.json, and runs/latest.json pointing at the newest run."""
    folder = runs_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record['run_id']}.json"
    text = json.dumps(record, indent=2, sort_keys=True, default=str)
    path.write_text(text)
    staging = folder / "latest.json.tmp"
    staging.write_text(text)
    os.replace(staging, folder / "latest.json")
    return path


def latest_file(settings: Settings) -> StateFile:
    return StateFile(
        runs_dir(settings) / "latest.json",
        "run record",
        "which run was verified last: run `harness run-local` again before promoting",
    )


def read_latest(settings: Settings) -> dict[str, Any] | None:
    return read_record(latest_file(settings))


def read_record(state: StateFile) -> dict[str, Any] | None:
    """Any run record, checked as promotion checks runs/latest.json (`doctor` applies this to every one)."""
    return read_object(state, required=_REQUIRED)


def record_files(settings: Settings) -> list[StateFile]:
    """runs/latest.json and every runs/<run id>.json."""
    others = [
        StateFile(path, "run record", "that run's record")
        for path in sorted(runs_dir(settings).glob("*.json"))
        if path.name != "latest.json"
    ]
    return [latest_file(settings), *others]


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + os.urandom(3).hex()
