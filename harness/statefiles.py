"""Reading back the JSON files the harness keeps in its state folder.

They are the harness's own, but people edit them, disks fill up and copies
get truncated: a file that does not parse, or parses to the wrong shape, is
reported as corrupt with its path and the fix, never as a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import CorruptState


@dataclass(frozen=True)
class StateFile:
    """One kind of state file: where it is, what it is called, what deleting it loses."""

    path: Path
    what: str
    loses: str = ""


def read_object(state: StateFile, required: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """The file's JSON object, None when it does not exist; CorruptState when unreadable."""
    if not state.path.is_file():
        return None
    problem = _problem(state.path, required)
    if problem:
        raise CorruptState(state.path, state.what, problem, state.loses)
    return dict(json.loads(state.path.read_text()))


def _problem(path: Path, required: tuple[str, ...]) -> str:
    """Why `path` is not a JSON object holding `required`; '' when it is."""
    try:
        document = json.loads(path.read_text())
    except UnicodeDecodeError:
        return "not UTF-8 text"
    except json.JSONDecodeError as error:
        return f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
    if not isinstance(document, dict):
        return f"a JSON {type(document).__name__} where an object belongs"
    missing = [key for key in required if key not in document]
    return f"missing {', '.join(missing)}" if missing else ""


def corrupt(path: Path, required: tuple[str, ...] = ()) -> str:
    """The problem with an existing state file, '' when it reads back fine (for `doctor`)."""
    return _problem(path, required) if path.is_file() else ""


def move_aside(path: Path) -> Path:
    """Keep the corrupt file for inspection under a name the harness never reads."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    path.rename(target)
    return target
