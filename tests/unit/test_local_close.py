"""Closing a local environment when the Docker daemon has gone away: every step runs, the error says so."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import docker
import pytest

from harness.docker import Engine, Scope
from harness.endpoints import EndpointHost
from harness.errors import InfrastructureError
from harness.local import _close
from harness.storage import EmbeddedS3


def _gone_daemon_scope() -> Scope:
    """A scope whose engine is a real Docker client pointed at a port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = docker.DockerClient(base_url=f"tcp://127.0.0.1:{port}", version="1.41", timeout=2)
    return Scope(Engine(client), "unit-close")


def _parts(tmp_path: Path) -> tuple[EndpointHost, Scope, EmbeddedS3, Path]:
    scope, s3 = _gone_daemon_scope(), EmbeddedS3()
    work_dir = tmp_path / "work"
    work_dir.mkdir()
    return EndpointHost(scope, s3, work_dir), scope, s3, work_dir


def test_a_daemon_gone_at_close_is_an_infrastructure_error_naming_the_scope(tmp_path: Path) -> None:
    endpoints, scope, s3, work_dir = _parts(tmp_path)
    with pytest.raises(InfrastructureError, match="could not remove the run's containers and networks") as caught:
        _close(endpoints, scope, s3, work_dir, raise_failures=True)
    assert scope.id in caught.value.fix
    assert not work_dir.exists()  # the steps after the failed one still ran


def test_clean_up_failures_do_not_hide_the_error_on_its_way_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    endpoints, scope, s3, work_dir = _parts(tmp_path)
    with caplog.at_level(logging.WARNING, logger="harness.local"):
        _close(endpoints, scope, s3, work_dir, raise_failures=False)
    assert "could not remove the run's containers" in caplog.text
    assert not work_dir.exists()
