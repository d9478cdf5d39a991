"""Talking to a running inference container: wait for health, invoke.

Polls /ping fast (every 50 ms) with SageMaker's 2 s per-ping limit inside
SageMaker's start-up window, and attaches the container log to every timeout.
It stops early when the outcome is known: the container exited, or it serves
HTTP on another port than the one SageMaker sends to (seen in its
/proc/net/tcp), which waiting out the window would not change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests

from harness.engine import netprobe
from harness.engine.docker import Container
from harness.errors import ContractViolation

PING_TIMEOUT_S = 2.0  # SageMaker: each /ping must answer within 2 s
STARTUP_WINDOW_S = 240.0  # SageMaker: healthy within 4 minutes by default
INVOKE_TIMEOUT_S = 60.0  # SageMaker: /invocations must answer within 60 s
POLL_INTERVAL_S = 0.05
PORT_GRACE_S = 3.0  # a server binds its port a moment after it starts: look elsewhere only after this
PORT_LOOK_INTERVAL_S = 1.0


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

    def invoke(
        self, body: bytes, content_type: str, accept: str | None = None, timeout_s: float = INVOKE_TIMEOUT_S
    ) -> Reply:
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
    elsewhere: tuple[int, ...] = ()  # judged early: the ports that answer HTTP instead of the required one


def probe_health(
    container: Container, client: InferenceClient, window_s: float, port: int | None = None
) -> HealthProbe:
    """Poll /ping (2 s timeout each) until it answers 200, the window ends or the container stops.

    With `port` (the container port SageMaker sends to), also stop once nothing answers there after
    PORT_GRACE_S while the server answers HTTP on another port.
    """
    started, listening, slowest, last = time.monotonic(), None, 0.0, "no answer yet"
    next_look = started + PORT_GRACE_S
    while time.monotonic() - started < window_s and container.status() == "running":
        if port is not None and listening is None and time.monotonic() >= next_look:
            elsewhere, next_look = serving_elsewhere(container, port), time.monotonic() + PORT_LOOK_INTERVAL_S
            if elsewhere:
                judged = f"{wrong_port_text(elsewhere, port)} (judged after {time.monotonic() - started:.1f}s)"
                return HealthProbe(None, None, slowest, judged, elsewhere)
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


def serving_elsewhere(container: Container, port: int) -> tuple[int, ...]:
    """The ports the container answers HTTP /ping on, when it listens but not on `port`; () otherwise.

    A listening socket alone could be a metrics port opened before the server binds `port`; an HTTP
    answer to /ping on the container's address shows the server itself is there.
    """
    listening = netprobe.listening_ports(container)
    if not listening or port in listening:
        return ()
    address = netprobe.ip_address(container)
    return tuple(p for p in sorted(listening) if address and _answers_http(address, p))


def _answers_http(address: str, port: int) -> bool:
    client = InferenceClient(port, host=address)
    try:
        client.ping()
    except requests.RequestException:
        return False
    finally:
        client.close()
    return True


def wrong_port_text(elsewhere: tuple[int, ...], port: int) -> str:
    ports = ", ".join(str(p) for p in elsewhere)
    return f"listens on {ports} (its /proc/net/tcp) and /ping answers there; SageMaker sends to {port}"


def wait_until_healthy(
    container: Container, client: InferenceClient, window_s: float = STARTUP_WINDOW_S, port: int | None = None
) -> float:
    """Seconds until /ping answered 200; ContractViolation (with logs) otherwise."""
    probe = probe_health(container, client, window_s, port)
    if probe.healthy_s is not None:
        return probe.healthy_s
    if probe.elsewhere:
        raise ContractViolation(
            f"inference container {container.short_id} {probe.last}",
            fix=f"make the server listen on port {port} (or on SAGEMAKER_BIND_TO_PORT when the "
            "image carries the accept-bind-to-port label)",
            details=container.logs_tail(),
        )
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
