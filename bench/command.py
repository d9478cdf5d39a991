"""Whole-command figures for bench/pipeline.py: `harness run-local` as a user types it.

The command runs in a subprocess from a cold interpreter (SDK import, its
re-execution into the offline environment and every container included) and
is timed to its exit; its peak RSS is its VmHWM (/proc/PID/status), sampled
every 20 ms while it runs. Not ru_maxrss: Linux carries the forking parent's
RSS into a child's ru_maxrss across exec, so any child of this (large)
benchmark would report at least the benchmark's own size. Containers are the
Docker daemon's children, not the command's: their memory is not included.
The floor is what no harness can avoid: the bare `docker run`s of its
containers plus the SageMaker SDK's import in a fresh interpreter.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.engine.sandbox import MARKER

COMMAND_TIMEOUT_S = 600
SAMPLE_INTERVAL_S = 0.02
SDK_IMPORT = "import sagemaker.workflow.pipeline"  # what jobs/pipeline.py needs; it runs sagemaker/__init__
GOAL_PEAK_RSS_MB = 200.0
GOAL_COMMAND_RATIO = 1.25
LOG_TAIL_CHARS = 4000


@dataclass(frozen=True)
class Measured:
    wall_s: float
    peak_rss_mb: float  # the largest VmHWM seen (the command re-executes itself: the larger of both images)
    exit_code: int


def run_measured(
    argv: Sequence[str], env: Mapping[str, str], cwd: Path, log_file: Path, timeout_s: float = COMMAND_TIMEOUT_S
) -> Measured:
    """Run `argv` to its end in its own session (killed as a group on timeout or Ctrl-C)."""
    with log_file.open("w") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(argv), env=dict(env), cwd=cwd, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        timer = threading.Timer(timeout_s, _kill_group, args=(process.pid,))
        timer.start()
        try:
            peak_kb = _wait_sampling(process)
        except BaseException:
            _kill_group(process.pid)
            process.wait()
            raise
        finally:
            timer.cancel()
        wall_s = time.perf_counter() - started
    return Measured(round(wall_s, 3), round(peak_kb / 1024, 1), int(process.returncode))


def _wait_sampling(process: subprocess.Popen[bytes]) -> int:
    """Wait for the process to exit; the largest VmHWM (kB) it showed meanwhile."""
    status_file = Path(f"/proc/{process.pid}/status")
    peak_kb = 0
    while process.poll() is None:
        peak_kb = max(peak_kb, _high_water_kb(status_file))
        time.sleep(SAMPLE_INTERVAL_S)
    return peak_kb


def _high_water_kb(status_file: Path) -> int:
    try:
        text = status_file.read_text()
    except OSError:  # exited between the poll and the read
        return 0
    line = next((line for line in text.splitlines() if line.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1])


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def sdk_import(scratch: Path) -> Measured:
    """A fresh interpreter importing the SDK (in this offline environment): the floor's SDK part."""
    measured = run_measured([sys.executable, "-c", SDK_IMPORT], os.environ, scratch, scratch / "sdk-import.log")
    if measured.exit_code != 0:
        raise RuntimeError(f"importing the SDK failed:\n{(scratch / 'sdk-import.log').read_text()[-LOG_TAIL_CHARS:]}")
    return measured


def harness_command() -> list[str]:
    """The console script users run, next to this interpreter; else the module."""
    script = Path(sys.executable).parent / "harness"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script), "run-local", "--quiet"]
    return [sys.executable, "-m", "harness.cli", "run-local", "--quiet"]


def run_command(project_root: Path, state_dir: Path, log_file: Path) -> Measured:
    """`harness run-local --quiet` from a shell-like environment: without the offline marker, so the command
    re-executes itself as it does for users; its own state folder (registry, parity cache, run record)."""
    env = {k: v for k, v in os.environ.items() if k != MARKER}
    env["HARNESS_STATE_DIR"] = str(state_dir)
    measured = run_measured(harness_command(), env, project_root, log_file)
    if measured.exit_code != 0:
        raise RuntimeError(
            f"`harness run-local` exited {measured.exit_code}:\n{log_file.read_text()[-LOG_TAIL_CHARS:]}"
        )
    return measured


def floor_seconds(
    bare_jobs: Mapping[str, Mapping[str, float]], bare_serve: Mapping[str, float], sdk_import_s: float
) -> float:
    """Bare runs of the three jobs, of serve (create -> first prediction -> stopped), and the SDK import."""
    jobs = sum(parts["job_s"] for parts in bare_jobs.values())
    return round(jobs + bare_serve["first_prediction_s"] + bare_serve["stop_s"] + sdk_import_s, 3)
