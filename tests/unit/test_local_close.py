"""Closing a local environment when the Docker daemon has gone away or Ctrl-C arrives: every step runs."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import docker
import pytest

from harness.emulator.environment import _close
from harness.emulator.hosting import EndpointHost
from harness.emulator.storage import EmbeddedS3
from harness.engine.docker import Engine, Scope
from harness.errors import InfrastructureError


class RecordingScope(Scope):
    """A real scope whose engine is a Docker client pointed at a port nothing listens on."""

    def __init__(self, calls: list[str]) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        super().__init__(Engine(docker.DockerClient(base_url=f"tcp://127.0.0.1:{port}", version="1.41", timeout=2)))
        self.calls = calls

    def close(self) -> None:
        self.calls.append("scope")
        super().close()


class InterruptedEndpoints(EndpointHost):
    """Ctrl-C arrives while the endpoints stop."""

    def __init__(self, scope: RecordingScope, s3: EmbeddedS3, work_dir: Path) -> None:
        super().__init__(scope, s3, work_dir)
        self.calls = scope.calls

    def stop_all(self) -> None:
        self.calls.append("endpoints")
        raise KeyboardInterrupt


def _answers(s3: EmbeddedS3) -> bool:
    host, port = s3.endpoint_url.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def s3() -> EmbeddedS3:
    return EmbeddedS3().start()


def test_a_daemon_gone_at_close_is_an_infrastructure_error_and_later_steps_still_run(
    tmp_path: Path, s3: EmbeddedS3
) -> None:
    calls: list[str] = []
    scope = RecordingScope(calls)
    work_dir = tmp_path / "work"
    work_dir.mkdir()
    with pytest.raises(InfrastructureError, match="could not remove the run's containers and networks") as caught:
        _close(None, EndpointHost(scope, s3, work_dir), scope, s3, work_dir, raise_failures=True)
    assert scope.id in caught.value.fix
    assert not _answers(s3), "the embedded S3 was not stopped after the failed step"
    assert not work_dir.exists()


def test_after_a_failure_containers_go_first_and_errors_are_logged_not_raised(
    tmp_path: Path, s3: EmbeddedS3, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []
    scope = RecordingScope(calls)
    work_dir = tmp_path / "work"
    work_dir.mkdir()
    endpoints = EndpointHost(scope, s3, work_dir)
    with caplog.at_level(logging.WARNING, logger="harness.emulator.environment"):
        _close(None, endpoints, scope, s3, work_dir, raise_failures=False)
    assert calls[0] == "scope"  # force-removed before anything waits on a graceful stop
    assert "could not remove the run's containers" in caplog.text
    assert not _answers(s3) and not work_dir.exists()


def test_ctrl_c_during_clean_up_finishes_every_step_then_interrupts(tmp_path: Path, s3: EmbeddedS3) -> None:
    calls: list[str] = []
    scope = RecordingScope(calls)
    work_dir = tmp_path / "work"
    work_dir.mkdir()
    with pytest.raises(KeyboardInterrupt):
        _close(None, InterruptedEndpoints(scope, s3, work_dir), scope, s3, work_dir, raise_failures=True)
    assert calls == ["endpoints", "scope"]
    assert not _answers(s3) and not work_dir.exists()
