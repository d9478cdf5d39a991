"""The engine's features on a team's project, cloud code unchanged: examples/wine-candidates (two candidates
trained and scored at the same time on AWS's scikit-learn image, a capacity error retried by the steps' policy, a
Lambda function picking the winner, a condition with a Fail step), run three times through `sagemaker-harness run`
from the example's folder: later runs reuse every job step of the first, across servers (the state folder keeps
the cache), a stricter threshold takes the Fail step, and every connection of every process is audited."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import audited_environment, escaped_by_process

from harness.engine.docker import Engine

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "wine-candidates"
JOB_STEPS = ["Prepare", "TrainForest", "ScoreForest", "TrainLogistic", "ScoreLogistic"]


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--", sys.executable, "run_pipeline.py", *args],
        cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=1500,
    )  # fmt: skip


def _steps(stdout: str) -> dict[str, str]:
    return dict(re.findall(r"^(\w+): (\w+(?: \(.*\))?)$", stdout, re.MULTILINE))


@pytest.mark.timeout(1800)
def test_candidates_run_side_by_side_are_retried_picked_and_cached(tmp_path: Path, engine: Engine) -> None:
    env = audited_environment(tmp_path)
    first = _run(env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-6000:]
    steps = _steps(first.stdout)
    assert steps["TrainForest"] == "Succeeded (attempt 2)"  # the injected capacity error, retried by the policy
    assert all(steps[name] == "Succeeded" for name in JOB_STEPS if name != "TrainForest"), steps
    assert steps["PickWinner"] == "Succeeded" and steps["CheckWinner"] == "Succeeded"
    assert re.search(r"^winner: winner=(forest|logistic), accuracy=\d\.\d+$", first.stdout, re.MULTILINE)
    assert "WineCandidates: Succeeded" in first.stdout
    assert "CapacityError: Unable to provision requested ML compute capacity" in first.stderr  # the retry's line
    assert "candidates {" in first.stderr  # the Lambda handler's own log line
    # The two candidates' training jobs overlapped (each log line carries its step).
    assert "[TrainForest-2]" in first.stderr and "[TrainLogistic]" in first.stderr

    second = _run(env)  # a new server: its S3 starts empty, the state folder's cache does not
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-6000:]
    steps = _steps(second.stdout)
    assert all(steps[name] == "Succeeded (cached)" for name in JOB_STEPS), steps
    assert steps["PickWinner"] == "Succeeded"  # a Lambda step is not cached
    assert "no container" in second.stderr and "[TrainLogistic]" not in second.stderr

    # A stricter threshold: the cached candidates, a new decision, the Fail step with the Lambda's outputs.
    strict = _run(env, "--min-accuracy", "1.01")
    assert strict.returncode == 1, strict.stdout[-3000:] + strict.stderr[-6000:]
    assert re.search(r"^WinnerTooWeak: Failed \(.*the best candidate, \w+ scored [\d.]+ below 1\.01", strict.stdout,
                     re.MULTILINE), strict.stdout  # fmt: skip
    assert all(not found for found in escaped_by_process(tmp_path, engine).values())
