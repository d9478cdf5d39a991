"""run-local's re-executed process ends without the interpreter's teardown, exit handlers and output kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness.engine.sandbox import sanitized

# Imported first by the child: an exit handler, and an object only the interpreter's teardown would free.
_SITECUSTOMIZE = """
import atexit, pathlib, os
marks = pathlib.Path(os.environ["MARKS"])
atexit.register(lambda: (marks / "atexit").touch())

class _FreedAtTeardown:
    def __del__(self):
        (marks / "teardown").touch()

KEPT = _FreedAtTeardown()
"""


def _run(tmp_path: Path, command: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    (tmp_path / "marks").mkdir()
    env = {
        **sanitized(os.environ),  # as after cmd_run_local's re-execution
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), *sys.path]),
        "MARKS": str(tmp_path / "marks"),
        "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock",  # the command fails at once: no daemon answers
        "HARNESS_STATE_DIR": str(tmp_path / "state"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", command], env=env, capture_output=True, text=True, timeout=120
    )
    return result, {p.name for p in (tmp_path / "marks").iterdir()}


def test_the_re_executed_run_local_skips_teardown_but_keeps_exit_handlers_and_output(tmp_path: Path) -> None:
    result, marks = _run(tmp_path, "run-local")
    assert result.returncode == 4, result.stderr  # InfrastructureError
    assert "error:" in result.stderr  # printed and flushed before the process ended
    assert marks == {"atexit"}  # exit handlers ran; the ~0.7 s teardown that frees every object did not


def test_other_commands_end_normally(tmp_path: Path) -> None:
    result, marks = _run(tmp_path, "doctor")
    assert marks == {"atexit", "teardown"}, result.stderr
