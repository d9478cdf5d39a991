"""The CLI through its real entry point; the daemon is pointed at a socket
that does not exist, so these need no Docker."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import cli

NO_DAEMON = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["--version"])
    assert caught.value.code == 0
    assert "harness 0.1.0" in capsys.readouterr().out


def test_unknown_image_kind_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["images", "build", "--kind", "gpu"])
    assert caught.value.code == 2
    assert "invalid choice: 'gpu'" in capsys.readouterr().err


def test_doctor_without_a_daemon_names_the_fix() -> None:
    result = run_cli("doctor", env=NO_DAEMON)
    assert result.returncode == 1
    assert "missing  docker daemon      no Docker daemon answers" in result.stdout
    assert "fix: run `harness provision`" in result.stdout


def test_build_without_a_daemon_is_an_infrastructure_error() -> None:
    result = run_cli("images", "build", env=NO_DAEMON)
    assert result.returncode == 4
    assert result.stderr.startswith("error: no Docker daemon answers")
    assert "Traceback" not in result.stderr


def test_a_malformed_param_is_a_usage_error_not_a_bug(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["run-local", "--param", "RegularizationC"])
    assert caught.value.code == 2
    assert "expected KEY=VALUE, got 'RegularizationC'" in capsys.readouterr().err
