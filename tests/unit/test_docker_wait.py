"""Container.wait against a daemon that errors, hangs up or is slow: an HTTP server speaking
the Docker Engine API's wait and logs calls, reached by the real Docker SDK over TCP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import docker
import pytest

from harness.engine.docker import Container
from harness.errors import ContainerTimeout, InfrastructureError

CONTAINER_ID = "c0ffee" * 10 + "abcd"


class _Daemon(BaseHTTPRequestHandler):
    mode = "error"  # set per server class below

    def do_POST(self) -> None:
        if self.mode == "hang-up":
            self.close_connection = True
            self.connection.shutdown(2)  # no response at all: the daemon died mid-call
            return
        if self.mode == "slow":
            time.sleep(3)
        status, body = (
            (500, {"message": "containerd: connection refused"}) if self.mode == "error" else (200, {"StatusCode": 0})
        )
        self._answer(status, body)

    def do_GET(self) -> None:
        if self.path.split("?")[0].endswith("/json"):
            self._answer(200, {"Id": CONTAINER_ID, "Config": {"Tty": False}})
            return
        frame = b"\x01\x00\x00\x00\x00\x00\x00\x0cstill busy\r\n"  # one stdout frame of the multiplexed stream
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.docker.multiplexed-stream")
        self.send_header("Content-Length", str(len(frame)))
        self.end_headers()
        self.wfile.write(frame)

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def container(request: pytest.FixtureRequest) -> Iterator[Container]:
    handler = type("Handler", (_Daemon,), {"mode": request.param})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = docker.DockerClient(base_url=f"tcp://127.0.0.1:{server.server_port}", version="1.41")
    try:
        yield Container(client.containers.prepare_model({"Id": CONTAINER_ID}))
    finally:
        client.close()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("container", ["error", "hang-up"], indirect=True)
def test_a_daemon_that_errors_or_hangs_up_is_reported_as_that(container: Container) -> None:
    with pytest.raises(InfrastructureError) as caught:
        container.wait(timeout_s=10)
    assert not isinstance(caught.value, ContainerTimeout)
    assert (
        caught.value.problem == f"the Docker daemon stopped answering while waiting for container {CONTAINER_ID[:12]}"
    )
    assert "docker info" in caught.value.fix


@pytest.mark.parametrize("container", ["slow"], indirect=True)
def test_a_container_that_outlives_its_time_is_a_timeout(container: Container) -> None:
    with pytest.raises(ContainerTimeout, match=r"did not exit within 1 s") as caught:
        container.wait(timeout_s=1)
    assert "still busy" in caught.value.details  # the log tail travels with the timeout


@pytest.mark.parametrize("container", ["ok"], indirect=True)
def test_an_answered_wait_is_the_exit_code(container: Container) -> None:
    assert container.wait(timeout_s=10) == 0
