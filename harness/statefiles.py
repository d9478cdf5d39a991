"""Reading back the JSON files the harness keeps in its state folder.

They are the harness's own, but people edit them, disks fill up and copies
get truncated: a file that does not parse, or parses to the wrong shape, is
reported as corrupt with its path and the fix, never as a traceback.
"""

from __future__ import annotations

import json
import os
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
    document = _parse(state.path, required)
    if isinstance(document, str):
        raise CorruptState(state.path, state.what, document, state.loses)
    return document


def _parse(path: Path, required: tuple[str, ...]) -> dict[str, Any] | str | None:
    """The JSON object in `path` holding `required`, None when there is no file, or why it cannot be read."""
    try:
        document = json.loads(path.read_bytes().decode())
    except (FileNotFoundError, NotADirectoryError):  # no such file (yet)
        return None
    except OSError as error:  # a folder where the file belongs, no permission, an I/O error: not a bug of ours
        return f"unreadable: {error.strerror or error}"
    except UnicodeDecodeError:
        return "not UTF-8 text"
    except json.JSONDecodeError as error:
        return f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
    if not isinstance(document, dict):
        return f"a JSON {type(document).__name__} where an object belongs"
    missing = [key for key in required if key not in document]
    return f"missing {', '.join(missing)}" if missing else document


def write_atomically(path: Path, text: str) -> None:
    """`text` as the file's whole content, or the old content if anything stops us half-way: written beside it,
    then renamed over it (a crash, a full disk or Ctrl-C never leaves half a file where the harness reads)."""
    staging = path.with_name(path.name + ".tmp")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, path)


def corrupt(path: Path, required: tuple[str, ...] = ()) -> str:
    """The problem with an existing state file, '' when it reads back fine or does not exist."""
    problem = _parse(path, required)
    return problem if isinstance(problem, str) else ""


def move_aside(path: Path) -> Path:
    """Keep the corrupt file for inspection under a name the harness never reads."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    path.rename(target)
    return target
