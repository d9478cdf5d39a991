"""Talking to a running inference container: wait for health, invoke.

Polls /ping fast (every 50 ms) with SageMaker's 2 s per-ping limit inside
SageMaker's start-up window, and attaches the container log to every timeout.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests

from harness.docker import Container
from harness.errors import ContractViolation

PING_TIMEOUT_S = 2.0  # SageMaker: each /ping must answer within 2 s
STARTUP_WINDOW_S = 240.0  # SageMaker: healthy within 4 minutes by default
INVOKE_TIMEOUT_S = 60.0  # SageMaker: /invocations must answer within 60 s
POLL_INTERVAL_S = 0.05


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class InferenceClient:
    """HTTP client for one container's /ping and /invocations on 127.0.0.1."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.base_url = f"http://{host}:{port}"
        self._session = requests.Session()

    def ping(self, timeout_s: float = PING_TIMEOUT_S) -> Reply:
        # No keep-alive for health checks: an idle kept-alive socket delays the
        # server's graceful shutdown (gunicorn waits on it after SIGTERM).
        response = self._session.get(f"{self.base_url}/ping", timeout=timeout_s, headers={"Connection": "close"})
        return Reply(response.status_code, response.headers.get("Content-Type", ""), response.content)

    def invoke(self, body: bytes, content_type: str, accept: str | None = None,
               timeout_s: float = INVOKE_TIMEOUT_S) -> Reply:
        headers = {"Content-Type": content_type}
        if accept:
            headers["Accept"] = accept
        response = self._session.post(f"{self.base_url}/invocations", data=body, headers=headers, timeout=timeout_s)
        return Reply(response.status_code, response.headers.get("Content-Type", ""), response.content)

    def close(self) -> None:
        self._session.close()


@dataclass(frozen=True)
class HealthProbe:
    """What polling /ping saw: seconds until HTTP answered, until 200, the slowest ping, the last answer."""

    listening_s: float | None
    healthy_s: float | None
    slowest_s: float
    last: str


def probe_health(container: Container, client: InferenceClient, window_s: float) -> HealthProbe:
    """Poll /ping (2 s timeout each) until it answers 200, the window ends or the container stops."""
    started, listening, slowest, last = time.monotonic(), None, 0.0, "no answer yet"
    while time.monotonic() - started < window_s and container.status() == "running":
        before = time.monotonic()
        try:
            reply = client.ping()
        except requests.Timeout:
            slowest, last = max(slowest, PING_TIMEOUT_S), "Timeout"
            listening = listening if listening is not None else time.monotonic() - started
        except requests.RequestException as error:
            last = type(error).__name__  # nothing answers HTTP yet
        else:
            slowest = max(slowest, time.monotonic() - before)
            listening = listening if listening is not None else time.monotonic() - started
            if reply.status == 200:
                return HealthProbe(listening, time.monotonic() - started, slowest, "HTTP 200")
            last = f"HTTP {reply.status}: {reply.text()[:300]}"
        time.sleep(POLL_INTERVAL_S)
    return HealthProbe(listening, None, slowest, last)


def wait_until_healthy(container: Container, client: InferenceClient,
                       window_s: float = STARTUP_WINDOW_S) -> float:
    """Seconds until /ping answered 200; ContractViolation (with logs) otherwise."""
    probe = probe_health(container, client, window_s)
    if probe.healthy_s is not None:
        return probe.healthy_s
    if container.status() in {"exited", "dead"}:
        raise ContractViolation(
            f"inference container {container.short_id} exited before /ping answered 200 (last: {probe.last})",
            details=container.logs_tail(),
        )
    raise ContractViolation(
        f"inference container {container.short_id} not healthy within {window_s:.0f} s (last /ping: {probe.last})",
        fix="check that the server listens on port 8080 (or SAGEMAKER_BIND_TO_PORT) and that the model loads",
        details=container.logs_tail(),
    )
