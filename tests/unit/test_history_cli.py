"""The history commands on records written here: `logs --follow` on a run under way, and bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.history import store


def harness(state: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "HARNESS_STATE_DIR": str(state)}
    return subprocess.Popen([sys.executable, "-m", "harness.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def executing(run_id: str, pid: int) -> dict[str, object]:
    return {"record_version": 2, "run_id": run_id, "status": "Executing", "code": {}, "pid": pid}


def test_logs_follow_prints_a_running_steps_lines_until_the_run_ends(tmp_path: Path) -> None:
    run_id = "20261201T100000Z-aaaaaa"
    store.write(tmp_path, executing(run_id, os.getpid()), latest=False)
    log = store.files_of(tmp_path, run_id).log("pipelines-abc123-Train")
    log.parent.mkdir(parents=True)
    log.write_text("epoch 1\n")
    follower = harness(tmp_path, "logs", run_id, "Train", "--follow")
    time.sleep(1.5)  # the follower printed what was there and waits for more
    with log.open("a") as handle:
        handle.write("epoch 2\n")
    time.sleep(0.5)
    assert follower.poll() is None  # still following: the run is under way
    step = {"name": "Train", "status": "Succeeded", "log": {"path": "logs/pipelines-abc123-Train.log", "lines": 3}}
    with log.open("a") as handle:
        handle.write("done\n")
    store.write(tmp_path, {**executing(run_id, 0), "status": "Succeeded", "steps": [step]})
    out, err = follower.communicate(timeout=10)
    assert follower.returncode == 0, err
    assert out == "epoch 1\nepoch 2\ndone\n"


def test_a_run_whose_process_died_is_shown_abandoned(tmp_path: Path) -> None:
    store.write(tmp_path, executing("20261201T100000Z-aaaaaa", 2**22 + 4321), latest=False)
    out, _ = harness(tmp_path, "runs").communicate(timeout=30)
    assert "20261201T100000Z-aaaaaa" in out and "Abandoned" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("report", "20261201"), "no run '20261201'"),
        (("logs", "latest", "Train"), "not valid JSON"),
        (("report",), "not valid JSON"),
        (("debug", "nope", "Train"), "no run 'nope'"),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    store.write(tmp_path, {"record_version": 2, "run_id": "20261130T100000Z-bbbbbb", "status": "Failed", "code": {}})
    store.files_of(tmp_path, "20261130T100000Z-bbbbbb").record.write_text("{ truncated")
    process = harness(tmp_path, *args)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2, err
    assert message in err and "Traceback" not in err
    if "JSON" in message:  # the corrupt record is named, with its path
        assert "20261130T100000Z-bbbbbb.json" in err
    else:
        assert "recent runs: 20261130T100000Z-bbbbbb" in err


@pytest.mark.parametrize("command", [("run", "--", "true"), ("run-local", "--no-deploy")])
def test_a_bad_history_limit_is_refused_before_the_run(tmp_path: Path, command: tuple[str, ...]) -> None:
    env = {**os.environ, "HARNESS_STATE_DIR": str(tmp_path), "HARNESS_HISTORY_MB": "lots"}
    result = subprocess.run([sys.executable, "-m", "harness.cli", *command], env=env, capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert "HARNESS_HISTORY_MB='lots' is not a whole number of at least 1" in result.stderr
    assert store.run_ids(tmp_path) == []  # nothing ran


def test_logs_follow_waits_for_a_step_that_has_not_started_yet(tmp_path: Path) -> None:
    run_id = "20261201T100000Z-cccccc"
    store.write(tmp_path, executing(run_id, os.getpid()), latest=False)
    follower = harness(tmp_path, "logs", run_id, "Evaluate", "--follow")
    time.sleep(1.5)  # no log yet: the step has not started
    log = store.files_of(tmp_path, run_id).log("pipelines-abc123-Evaluate")
    log.parent.mkdir(parents=True)
    log.write_text("evaluating\n")
    time.sleep(0.8)
    step = {"name": "Evaluate", "status": "Succeeded", "log": {"path": "logs/pipelines-abc123-Evaluate.log"}}
    store.write(tmp_path, {**executing(run_id, 0), "status": "Succeeded", "steps": [step]})
    out, err = follower.communicate(timeout=10)
    assert follower.returncode == 0, err
    assert out == "evaluating\n"
