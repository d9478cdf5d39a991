"""What the CLI does with an exception the harness did not raise on purpose.

That is a bug in the harness: the user gets one line saying so, the traceback
goes to a file they can attach to a report, and the exit code is its own.
"""

from __future__ import annotations

import os
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

from harness import __version__
from harness.errors import BUG_EXIT_CODE


def crash_dir(state_dir: Path | None) -> Path:
    """Under the state folder when there is one, else a folder in the system's temp."""
    if state_dir is not None:
        return state_dir / "crash"
    return Path(tempfile.gettempdir()) / "sagemaker-harness-crash"


def write_crash(error: BaseException, folder: Path, command: list[str]) -> Path:
    """The traceback and what ran, in a new file; the temp folder if `folder` is not writable."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    text = f"sagemaker-harness {__version__}, pid {os.getpid()}\ncommand: {' '.join(command)}\n\n" + "".join(
        traceback.format_exception(error)
    )
    for candidate in (folder, crash_dir(None)):
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            path = candidate / f"{stamp}-{os.getpid()}.txt"
            path.write_text(text)
            return path
        except OSError:
            continue
    raise OSError(f"could not write a crash report to {folder} or {crash_dir(None)}")


def report_bug(error: BaseException, state_dir: Path | None, command: list[str]) -> tuple[str, int]:
    """The message to print and the exit code for an unexpected exception."""
    summary = _one_line(f"{type(error).__name__}: {error}")
    try:
        fix = f"please report it with the traceback saved in {write_crash(error, crash_dir(state_dir), command)}"
    except OSError as unwritable:
        fix = f"please report it; the traceback could not be saved ({unwritable})"
    return f"error: a bug in the harness: {summary}\n  fix: {fix}", BUG_EXIT_CODE


def _one_line(text: str, limit: int = 300) -> str:
    first = text.strip().splitlines()[0] if text.strip() else text
    return first if len(first) <= limit else first[:limit] + "..."
