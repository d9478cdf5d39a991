"""Inference checks: `docker run IMAGE serve` with the model at /opt/ml/model."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import requests

from harness.check import rules
from harness.check.model import (
    CheckOptions,
    Result,
    Rule,
    Status,
    check,
    failed,
    hidden,
    log_lines,
    not_applicable,
    passed,
    skipped,
)
from harness.check.workspace import model_folder
from harness.emulator.inference_client import HealthProbe, InferenceClient, probe_health
from harness.engine.docker import Container, ContainerSpec, Mount, Scope
from harness.errors import HarnessError

BIND_LABEL = "com.amazonaws.sagemaker.capabilities.accept-bind-to-port"
ALTERNATE_PORT = 8123
SIX_MB = 6 * 1024 * 1024
BAD_PAYLOADS = (
    (b"\x00\xff\x00 garbage", "text/csv"),
    (b"", "text/csv"),
    (b"{not json", "application/json"),
    (b"\x89PNG\r\n", "application/octet-stream"),
)
# Hidden, in this order, when the server never became healthy.
AFTER_HEALTH = (rules.FAST_ACCEPT, rules.INVOKE_60S, rules.NEAR_6MB, rules.SURVIVES_BAD_INPUT)
# Runs inside the container: how long a connection to the server takes to be accepted.
ACCEPT_PROBE = (
    "import socket, sys, time\n"
    "worst = 0.0\n"
    "for _ in range(5):\n"
    "    start = time.monotonic()\n"
    "    socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5).close()\n"
    "    worst = max(worst, time.monotonic() - start)\n"
    "print(worst)\n"
)


def start_server(scope: Scope, image: str, model_dir: Path, port: int, environment: dict[str, str]) -> Container:
    return scope.start(
        ContainerSpec(
            image=image,
            command=("serve",),
            ports=(port,),
            environment=environment,
            mounts=(Mount(model_dir, "/opt/ml/model", read_only=True),),
        )
    )


def check_inference(scope: Scope, image: str, options: CheckOptions, work: Path) -> list[Result]:
    info = scope.engine.image(image)
    model_dir = model_folder(options.model, work / "model")
    container = start_server(scope, image, model_dir, 8080, {})
    client = InferenceClient(container.host_port(8080))
    probe = probe_health(container, client, options.startup_window_s, port=8080)
    running = container.status() == "running"
    results = [*_startup_results(container, probe, running, options), *_after_health(container, client, probe, options)]
    if not running and probe.listening_s is None:  # `serve` itself fails: a second start on another port says nothing
        results.append(
            hidden(rules.BIND_TO_PORT, "the server does not start with `serve` (see inference.serve-argument)")
        )
    else:
        results.append(_bind_to_port(scope, image, model_dir, (info.labels if info else {}), options))
    return results


def _startup_results(container: Container, probe: HealthProbe, running: bool, options: CheckOptions) -> list[Result]:
    """What the start-up probe shows: `serve` runs, 8080 answers, /ping is fast, healthy in the window."""
    logs = log_lines(container.logs_tail())
    healthy = probe.healthy_s
    return [
        check(
            rules.SERVE_ARGUMENT,
            running,
            "still running after `serve`",
            "running" if running else f"exited ({container.status()})",
            () if running else logs,
        ),
        _port_8080(probe, logs),
        _ping_2s(probe),
        check(
            rules.HEALTHY_IN_WINDOW,
            healthy is not None,
            f"/ping 200 within {options.startup_window_s:.0f}s",
            f"healthy after {healthy:.2f}s" if healthy is not None else _never_healthy(probe),
            () if healthy else logs,
        ),
        _model_mount(probe, logs),
    ]


def _port_8080(probe: HealthProbe, logs: tuple[str, ...]) -> Result:
    listening = probe.listening_s
    silent = f"nothing answered on 8080: {probe.last}" if probe.elsewhere else "nothing answered on 8080"
    observed = f"answered after {listening:.2f}s" if listening is not None else silent
    return check(rules.PORT_8080, listening is not None, "HTTP answers on port 8080", observed, logs)


def _ping_2s(probe: HealthProbe) -> Result:
    # No answer at all on 8080 says nothing about /ping's speed or the model: skip, not pass or fail.
    if probe.listening_s is None:
        return hidden(rules.PING_2S, "no /ping answered on 8080 (see inference.port-8080)")
    return check(
        rules.PING_2S, probe.slowest_s < 2.0, "every /ping within 2 s", f"slowest /ping {probe.slowest_s:.3f}s"
    )


def _model_mount(probe: HealthProbe, logs: tuple[str, ...]) -> Result:
    if probe.listening_s is None:
        why = "nothing answered on 8080, so whether the model loads is unknown (see inference.port-8080)"
        return hidden(rules.MODEL_MOUNT, why)
    healthy = probe.healthy_s is not None
    observed = "healthy" if healthy else "not healthy with the model mounted"
    return check(
        rules.MODEL_MOUNT, healthy, "healthy with the model in /opt/ml/model", observed, () if healthy else logs
    )


def _after_health(
    container: Container, client: InferenceClient, probe: HealthProbe, options: CheckOptions
) -> list[Result]:
    """The checks that need a healthy server (hidden without one), then SIGTERM."""
    if probe.healthy_s is None:
        results = [hidden(rule, "the server never became healthy") for rule in AFTER_HEALTH]
    else:
        results = [_accept_latency(container), *_invocations(client, options), _bad_payloads(container, client)]
    if results[-1].name == rules.SURVIVES_BAD_INPUT.name and results[-1].status is Status.FAIL:
        # The server may be exiting already: timing SIGTERM on it would pass or skip by chance.
        why = "the malformed requests broke the server (see inference.survives-bad-payloads)"
        return [*results, hidden(rules.SIGTERM_30S, why)]
    return [*results, _sigterm(container)]


def _never_healthy(probe: HealthProbe) -> str:
    # Judged early, the window was not waited out: say so, and why waiting would not help.
    if probe.elsewhere:
        return "never healthy on 8080: the server answers on another port (see inference.port-8080)"
    return "never healthy"


def _accept_latency(container: Container) -> Result:
    code, output = container.exec(["python3", "-c", ACCEPT_PROBE, "8080"])
    if code != 0:
        return skipped(
            rules.FAST_ACCEPT, "no python3 in the image to time connections from inside", "no python3 in the image"
        )
    worst = float(output.strip().splitlines()[-1])
    return check(
        rules.FAST_ACCEPT, worst < 0.25, "connections accepted within 250 ms", f"slowest {worst * 1000:.0f} ms"
    )


def _invocations(client: InferenceClient, options: CheckOptions) -> list[Result]:
    if options.payload is None:
        why = "no sample payload (--payload FILE)"
        return [skipped(rules.INVOKE_60S, why, "no payload given"), skipped(rules.NEAR_6MB, why, "no payload given")]
    body = options.payload.read_bytes()
    results = [invoke_check(rules.INVOKE_60S, client, body, options.content_type)]
    if options.content_type != "text/csv":
        results.append(
            skipped(
                rules.NEAR_6MB, "only CSV payloads are grown to the limit (records are lines)", "payload is not CSV"
            )
        )
    else:
        record = body.strip() + b"\n"
        results.append(invoke_check(rules.NEAR_6MB, client, record * ((SIX_MB - 64 * 1024) // len(record)), "text/csv"))
    return results


def invoke_check(rule: Rule, client: InferenceClient, body: bytes, content_type: str) -> Result:
    started = time.monotonic()
    try:
        reply = client.invoke(body, content_type, timeout_s=60)
    except requests.RequestException as error:
        return failed(
            rule, "a 2xx answer within 60 s", f"{type(error).__name__} after {time.monotonic() - started:.1f}s"
        )
    seconds = time.monotonic() - started
    return check(
        rule,
        200 <= reply.status < 300,
        f"a 2xx answer to {len(body)} bytes within 60 s",
        f"HTTP {reply.status} after {seconds:.2f}s",
        (reply.text()[:300],) if reply.status >= 300 else (),
    )


def _bad_payloads(container: Container, client: InferenceClient) -> Result:
    answers = []
    for body, content_type in BAD_PAYLOADS:
        try:
            answers.append(str(client.invoke(body, content_type, timeout_s=10).status))
        except requests.RequestException as error:
            answers.append(type(error).__name__)
    try:
        ping = client.ping().status
    except requests.RequestException:
        ping = 0
    healthy = ping == 200 and container.status() == "running"
    return check(
        rules.SURVIVES_BAD_INPUT,
        healthy and all(a.isdigit() for a in answers),
        "an HTTP answer to each malformed request, then /ping 200",
        f"answers {', '.join(answers)}; then /ping {ping or 'no answer'}",
        () if healthy else log_lines(container.logs_tail()),
    )


def _sigterm(container: Container) -> Result:
    if container.status() != "running":
        return hidden(rules.SIGTERM_30S, "the container had already exited")
    started = time.monotonic()
    container.signal("SIGTERM")
    try:
        code = container.wait(timeout_s=30)
    except HarnessError:
        return failed(rules.SIGTERM_30S, "exit within 30 s of SIGTERM", "still running after 30 s")
    return passed(
        rules.SIGTERM_30S, "exit within 30 s of SIGTERM", f"exited {code} after {time.monotonic() - started:.1f}s"
    )


def _bind_to_port(
    scope: Scope, image: str, model_dir: Path, labels: Mapping[str, str], options: CheckOptions
) -> Result:
    if labels.get(BIND_LABEL) != "true":
        return not_applicable(rules.BIND_TO_PORT, f"the image has no {BIND_LABEL}=true label, so SageMaker uses 8080")
    container = start_server(scope, image, model_dir, ALTERNATE_PORT, {"SAGEMAKER_BIND_TO_PORT": str(ALTERNATE_PORT)})
    try:
        client = InferenceClient(container.host_port(ALTERNATE_PORT))
        probe = probe_health(container, client, min(options.startup_window_s, 120), port=ALTERNATE_PORT)
        listening = probe.listening_s
        silent = f"nothing answered there: {probe.last}" if probe.elsewhere else "nothing answered there"
        expected = f"HTTP answers on SAGEMAKER_BIND_TO_PORT={ALTERNATE_PORT}"
        if listening is not None:
            return passed(rules.BIND_TO_PORT, expected, "answered")
        return failed(rules.BIND_TO_PORT, expected, silent, log_lines(container.logs_tail()))
    finally:
        container.remove()
