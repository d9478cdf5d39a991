"""A run's life in the history: marked Executing when it starts, then its record, its report and the pruning
of the oldest runs when it ends; and what a removed run leaves to clean (its kept containers and folders)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.emulator.kept_jobs import read_kept
from harness.errors import CorruptState, UserError
from harness.history import store
from harness.history.store import RunFiles
from harness.statefiles import write_atomically

_LOG = logging.getLogger(__name__)
RemoveContainer = Callable[[str], None]  # a container id; gone already is fine


def begin(state_dir: Path, record: dict[str, Any]) -> RunFiles:
    """The run's record, marked Executing with this process's id (not latest.json: promotion reads that)."""
    store.limits()  # a bad HARNESS_HISTORY_RUNS or _MB is refused before the run, not after it
    store.write(state_dir, {**record, "status": store.EXECUTING, "pid": os.getpid()}, latest=False)
    return store.files_of(state_dir, str(record["run_id"]))


def finish(state_dir: Path, record: dict[str, Any], remove_container: RemoveContainer, latest: bool = True) -> Path:
    """The final record, its report beside it, then the oldest runs pruned; the record's path."""
    files = store.files_of(state_dir, str(record["run_id"]))
    record.pop("pid", None)
    record["report"] = str(files.report)
    path = store.write(state_dir, record, latest=latest)
    try:  # the record is what promotion trusts: a report or a pruning that fails must not fail the run
        write_report(state_dir, record)
    except Exception as error:  # noqa: BLE001 (said, not raised; `harness report` draws it again)
        _LOG.warning("could not write the run's report %s: %s: %s", files.report, type(error).__name__, error)
    try:
        max_runs, max_bytes = store.limits()
        store.prune(state_dir, max_runs, max_bytes, lambda old: remove_kept(old, remove_container))
    except Exception as error:  # noqa: BLE001
        _LOG.warning("could not prune the run history in %s: %s", store.runs_folder(state_dir), error)
    return path


def write_report(state_dir: Path, record: dict[str, Any]) -> Path:
    """report.html in the run's folder, beside the previous run of the same pipeline for comparison."""
    from harness.history.report import render_report

    files = store.files_of(state_dir, str(record["run_id"]))
    files.folder.mkdir(parents=True, exist_ok=True)
    html = render_report(record, previous_of(state_dir, record), step_logs(files, record))
    write_atomically(files.report, html)
    return files.report


def step_logs(files: RunFiles, record: dict[str, Any]) -> dict[str, str]:
    """Each step's log text, by step name."""
    logs = {}
    for step in record.get("steps") or []:
        relative = (step.get("log") or {}).get("path")
        if relative:
            path = files.folder / relative
            logs[str(step["name"])] = path.read_text(errors="replace") if path.is_file() else ""
    return logs


def previous_of(state_dir: Path, record: dict[str, Any]) -> dict[str, Any] | None:
    """The newest earlier run of the same pipeline whose record reads back; None when there is none."""
    name = (record.get("pipeline") or {}).get("name")
    ids = store.run_ids(state_dir)
    for run_id in reversed(ids[: ids.index(record["run_id"])] if record["run_id"] in ids else ids):
        try:
            earlier = store.read(state_dir, run_id)
        except (CorruptState, UserError):
            continue
        if (earlier.get("pipeline") or {}).get("name") == name and store.status_of(earlier) != store.EXECUTING:
            return earlier
    return None


def remove_kept(record: dict[str, Any], remove_container: RemoveContainer) -> None:
    """What --keep-on-failure kept of a run: its containers and its folders."""
    for folder in store.kept_folders(record):
        remove_kept_folder(folder, remove_container)


def remove_kept_folder(folder: Path, remove_container: RemoveContainer) -> None:
    """One kept job: its containers, then its folder."""
    for host in ((read_kept(folder) or {}).get("hosts") or {}).values():
        with contextlib.suppress(Exception):  # the daemon may be down: the folder still goes
            remove_container(str(host.get("container", "")))
    shutil.rmtree(folder, ignore_errors=True)
