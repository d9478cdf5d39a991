"""`sagemaker-harness run` torn down by SIGTERM (CI cancelling) and Ctrl-C while a job runs:
the command is stopped, the job's container and the scope's networks are removed, the
server is gone, and the harness exits 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.engine.docker import OWNER_LABEL, SCOPE_LABEL, Engine

# Starts a processing job whose container sleeps far longer than the test waits.
LONG_JOB = """
import boto3
boto3.client("sagemaker").create_processing_job(
    ProcessingJobName="sleeps-long",
    ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}},
    AppSpecification={"ImageUri": "%s", "ContainerEntrypoint": ["sleep", "300"]},
    RoleArn="arn:aws:iam::111122223333:role/r",
)
"""


def run_scopes(engine: Engine) -> list[str]:
    # The daemon's listing as it is, without an inspection per container (which fails on a container that
    # another test's clean-up removes meanwhile).
    listed = engine.client.api.containers(all=True, filters={"label": OWNER_LABEL})
    return sorted({s for c in listed if (s := (c.get("Labels") or {}).get(SCOPE_LABEL, "")).startswith("cmd-")})


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_command_and_removes_everything(
    tmp_path: Path, images: dict, engine: Engine, stop_signal: signal.Signals
) -> None:
    (tmp_path / "job.py").write_text(LONG_JOB % images["processing"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "HARNESS_PROJECT_ROOT"}
    env["HARNESS_STATE_DIR"] = str(tmp_path / "state")
    scratch = tmp_path / "tmp"  # the harness's temporary folders (work folder, the command's config) go here
    scratch.mkdir()
    env["TMPDIR"] = str(scratch)
    harness = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", "--", sys.executable, "job.py"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    before = set(run_scopes(engine))
    deadline = time.monotonic() + 120
    while not set(run_scopes(engine)) - before:  # the job's container is up
        assert harness.poll() is None, harness.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.2)
    harness.send_signal(stop_signal)  # Ctrl-C reaches the whole foreground group; here only the harness
    started = time.monotonic()
    _, stderr = harness.communicate(timeout=60)
    assert harness.returncode == 130, stderr[-3000:]
    # Not the job's 300 s, nor a container's stop grace many times over.
    assert time.monotonic() - started < 30, stderr[-3000:]
    assert "interrupted" in stderr
    assert set(run_scopes(engine)) <= before
    assert list(scratch.iterdir()) == []  # the work folder and the command's SDK config are gone
