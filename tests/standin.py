"""Test doubles for what cannot run here: AWS itself.

`AwsStandIn` is moto's server (S3, ECR, SageMaker, STS, IAM over the real AWS
protocols) on a free loopback port, plus the two SageMaker operations moto
lacks (CreateMonitoringSchedule, DescribeMonitoringSchedule), answered in the
same JSON protocol. `LocalRegistry` is Debian's docker-registry (the CNCF
distribution registry) on loopback: the push target behind the ECR flow.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import make_server

_SHIMMED = ("SageMaker.CreateMonitoringSchedule", "SageMaker.DescribeMonitoringSchedule")


class _MonitoringShim:
    """WSGI middleware: monitoring schedules here, everything else to moto."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self.schedules: dict[str, dict[str, Any]] = {}
        # X-Amz-Target -> (HTTP status, error code, message): answered instead of the operation.
        self.failures: dict[str, tuple[int, str, str]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target in self.failures:
            status, code, message = self.failures[target]
            return self._answer(start_response, status, {"__type": code, "message": message})
        if target not in _SHIMMED:
            return self._app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = json.loads(environ["wsgi.input"].read(length) or b"{}")
        name = request["MonitoringScheduleName"]
        if target.endswith("CreateMonitoringSchedule"):
            if name in self.schedules:
                return self._answer(
                    start_response,
                    400,
                    {"__type": "ResourceInUse", "message": f"Monitoring schedule {name} already exists"},
                )
            self.schedules[name] = request
            return self._answer(start_response, 200, {"MonitoringScheduleArn": f"arn:monitoring-schedule/{name}"})
        if name not in self.schedules:
            return self._answer(start_response, 400, {"__type": "ResourceNotFound", "message": f"{name} not found"})
        return self._answer(start_response, 200, {**self.schedules[name], "MonitoringScheduleStatus": "Scheduled"})

    @staticmethod
    def _answer(start_response: Callable[..., Any], status: int, body: dict[str, Any]) -> Iterable[bytes]:
        start_response(
            f"{status} {'OK' if status == 200 else 'Bad Request'}", [("Content-Type", "application/x-amz-json-1.1")]
        )
        return [json.dumps(body).encode()]


class AwsStandIn:
    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

        self.shim = _MonitoringShim(DomainDispatcherApplication(create_backend_app))
        self._server = make_server("127.0.0.1", 0, self.shim, threaded=True, request_handler=MotoRequestHandler)
        self.endpoint_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> AwsStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)

    def reset(self) -> None:
        requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=10)
        self.shim.schedules.clear()
        self.shim.failures.clear()

    def fail(self, target: str, code: str, message: str, status: int = 400) -> None:
        """Answer the JSON-protocol operation `target` (e.g. "SageMaker.CreateModel") with an AWS error."""
        self.shim.failures[target] = (status, code, message)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalRegistry:
    """`docker-registry serve` on 127.0.0.1 with its storage in a temporary folder."""

    BINARY = "/usr/bin/docker-registry"

    def __init__(self) -> None:
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self._folder = Path(tempfile.mkdtemp(prefix="harness-registry-"))
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LocalRegistry:
        if not Path(self.BINARY).is_file():
            raise RuntimeError(f"{self.BINARY} is missing: `harness provision --test-registry` installs it")
        config = self._folder / "config.yml"
        config.write_text(
            f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {self._folder / 'data'}\n"
            f"http:\n  addr: {self.address}\nlog:\n  level: error\n"
        )
        self._process = subprocess.Popen(
            [self.BINARY, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://{self.address}/v2/", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("the local registry did not start within 30 s")

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
        shutil.rmtree(self._folder, ignore_errors=True)

    def repositories(self) -> list[str]:
        return list(requests.get(f"http://{self.address}/v2/_catalog", timeout=10).json().get("repositories") or [])

    def config_digest(self, repository: str, tag: str) -> str:
        """The image ID of a pushed image: its manifest's config digest."""
        manifest = requests.get(
            f"http://{self.address}/v2/{repository}/manifests/{tag}",
            timeout=10,
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        ).json()
        return str(manifest["config"]["digest"])
