"""Where every run is kept: `<state>/runs/<run id>.json` (the record) and `<state>/runs/<run id>/` (its
steps' logs, its report), bounded in number and size, oldest pruned first.

`runs/latest.json` stays as promotion reads it (harness.project.record). A run still under way has a record
whose status is `Executing` and which names its process, so `harness runs` and `harness logs --follow`
see it; a record left `Executing` by a process that is gone is shown as `Abandoned`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.env_limits import positive_whole
from harness.errors import UserError
from harness.statefiles import StateFile, read_object, write_atomically

RECORD_VERSION = 2  # raise when promotion starts to need fields older records lack
# Every record has these, whatever its status: the run failed before anything else was known.
REQUIRED_FIELDS = ("record_version", "run_id", "status", "code")
DEFAULT_MAX_RUNS = 50  # HARNESS_HISTORY_RUNS
DEFAULT_MAX_MB = 500  # HARNESS_HISTORY_MB: records, logs and reports together
LATEST = "latest.json"
EXECUTING = "Executing"


@dataclass(frozen=True)
class RunFiles:
    """One run's files."""

    runs: Path  # <state>/runs
    run_id: str

    @property
    def record(self) -> Path:
        return self.runs / f"{self.run_id}.json"

    @property
    def folder(self) -> Path:
        return self.runs / self.run_id

    @property
    def logs(self) -> Path:
        return self.folder / "logs"

    @property
    def report(self) -> Path:
        return self.folder / "report.html"

    def log(self, job: str) -> Path:
        return self.logs / f"{_file_name(job)}.log"


def new_run_id() -> str:
    """The UTC start time, then random: ids sort by age and never collide."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + os.urandom(3).hex()


def runs_folder(state_dir: Path) -> Path:
    return state_dir / "runs"


def files_of(state_dir: Path, run_id: str) -> RunFiles:
    return RunFiles(runs_folder(state_dir), run_id)


def write(state_dir: Path, record: dict[str, Any], latest: bool = True) -> Path:
    """The record as runs/<run id>.json (and runs/latest.json unless `latest` is False), atomically."""
    files = files_of(state_dir, str(record["run_id"]))
    files.runs.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record, indent=2, sort_keys=True, default=str)
    write_atomically(files.record, text)
    if latest:
        write_atomically(files.runs / LATEST, text)
    return files.record


def run_ids(state_dir: Path) -> list[str]:
    """Every kept run, oldest first (run ids start with their UTC start time)."""
    folder = runs_folder(state_dir)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json") if p.name != LATEST and not p.name.endswith(".tmp"))


def read(state_dir: Path, run_id: str) -> dict[str, Any]:
    """The run's record; CorruptState when it cannot be read, a UserError naming the recent runs when absent."""
    files = files_of(state_dir, run_id)
    record = read_object(StateFile(files.record, "run record", "that run's record"), required=REQUIRED_FIELDS)
    if record is None:
        raise unknown_run(state_dir, run_id)
    return record


def resolve(state_dir: Path, wanted: str | None) -> str:
    """A run id from what a person typed: the whole id, a unique prefix of it, or nothing/`latest` (the newest)."""
    ids = run_ids(state_dir)
    if not wanted or wanted == "latest":
        if not ids:
            raise UserError(
                f"no runs in {runs_folder(state_dir)}",
                fix="run the pipeline first: `harness run-local` or `harness run -- python pipeline.py`",
            )
        return ids[-1]
    if wanted in ids:
        return wanted
    matches = [i for i in ids if i.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise UserError(f"run {wanted!r} is ambiguous: {len(matches)} runs start with it",
                        fix=f"give more of the id: {', '.join(matches[-5:])}")  # fmt: skip
    raise unknown_run(state_dir, wanted)


def unknown_run(state_dir: Path, wanted: str) -> UserError:
    recent = run_ids(state_dir)[-5:][::-1]
    listed = ", ".join(recent) if recent else f"none yet in {runs_folder(state_dir)}"
    return UserError(f"no run {wanted!r}", fix=f"recent runs: {listed} (`harness runs` lists them all)")


def status_of(record: Mapping[str, Any]) -> str:
    """The record's status; `Abandoned` for a run still marked Executing whose process is gone."""
    status = str(record.get("status", "?"))
    if status == EXECUTING and not _alive(record.get("pid")):
        return "Abandoned"
    return status


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def limits(environment: Mapping[str, str] = os.environ) -> tuple[int, int]:
    """(runs kept, bytes kept) from HARNESS_HISTORY_RUNS and HARNESS_HISTORY_MB."""
    return (
        positive_whole("HARNESS_HISTORY_RUNS", DEFAULT_MAX_RUNS, environment),
        positive_whole("HARNESS_HISTORY_MB", DEFAULT_MAX_MB, environment) * 1024 * 1024,
    )


def size_of(files: RunFiles) -> int:
    """The run's record, folder and what --keep-on-failure kept of it, in bytes."""
    total = files.record.stat().st_size if files.record.is_file() else 0
    folders = [files.folder, *(_kept_folders(files))]
    return total + sum(p.stat().st_size for folder in folders for p in _walk(folder))


def _kept_folders(files: RunFiles) -> list[Path]:
    try:
        record = json.loads(files.record.read_text())
    except (OSError, ValueError):
        return []
    return kept_folders(record) if isinstance(record, dict) else []


def kept_folders(record: Mapping[str, Any]) -> list[Path]:
    """The folders where --keep-on-failure kept the run's failed jobs."""
    kept = [(step.get("kept") or {}).get("folder") for step in record.get("steps") or [] if isinstance(step, dict)]
    return [Path(folder) for folder in kept if folder]


def _walk(folder: Path) -> Iterator[Path]:
    if folder.is_dir():
        yield from (p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def prune(state_dir: Path, max_runs: int, max_bytes: int, remove_kept: Callable[[dict[str, Any]], None]) -> list[str]:
    """Remove the oldest runs until at most `max_runs` remain and they take at most `max_bytes`; the newest run,
    the one latest.json names and runs still under way are never removed. Returns the removed ids."""
    ids = run_ids(state_dir)
    protected = {ids[-1]} if ids else set()
    protected |= {_latest_id(state_dir)} - {""}
    sizes = {run_id: size_of(files_of(state_dir, run_id)) for run_id in ids}
    total, count, removed = sum(sizes.values()), len(ids), []
    for run_id in ids:
        if count <= max_runs and total <= max_bytes:
            break
        if run_id in protected or _under_way(state_dir, run_id):
            continue
        remove(state_dir, run_id, remove_kept)
        total, count = total - sizes[run_id], count - 1
        removed.append(run_id)
    return removed


def remove(state_dir: Path, run_id: str, remove_kept: Callable[[dict[str, Any]], None]) -> None:
    """A run's record, folder and what --keep-on-failure kept of it."""
    files = files_of(state_dir, run_id)
    try:
        record = json.loads(files.record.read_text())
    except (OSError, ValueError):
        record = {}
    if isinstance(record, dict):
        remove_kept(record)
    shutil.rmtree(files.folder, ignore_errors=True)
    files.record.unlink(missing_ok=True)


def _latest_id(state_dir: Path) -> str:
    try:
        return str(json.loads((runs_folder(state_dir) / LATEST).read_text()).get("run_id", ""))
    except (OSError, ValueError, AttributeError):
        return ""


def _under_way(state_dir: Path, run_id: str) -> bool:
    try:
        record = json.loads(files_of(state_dir, run_id).record.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and status_of(record) == EXECUTING


def _file_name(name: str) -> str:
    """A job or step name as a file name (SageMaker's names are [a-zA-Z0-9-]; anything else becomes _)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).lstrip(".") or "_"
