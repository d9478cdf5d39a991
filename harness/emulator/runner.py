"""One processing or training job, start to finish, under SageMaker's contract.

Per host (`algo-1` .. `algo-N`, one bridge network when N > 1) the runner lays
out its own /opt/ml folder on the host, copies the inputs in from the local
S3, writes the config files SageMaker writes, runs the container, and on
success uploads what SageMaker uploads. No host credentials enter a container.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from harness.emulator.archives import pack
from harness.emulator.kept_jobs import JobKeeper
from harness.emulator.metrics import MetricCollector, as_logged
from harness.emulator.paths import Cluster, TrainingConfig, on_host, write_processing_config, write_training_config
from harness.emulator.specs import ProcessingJobSpec, TrainingJobSpec
from harness.emulator.storage import EmbeddedS3, S3Uri
from harness.engine.docker import Container, ContainerSpec, Engine, Mount, Scope
from harness.errors import ContainerTimeout, InfrastructureError, UserError
from harness.images.aws import builtin_metric_definitions
from harness.lines import prefixed

FAILURE_REASON_CHARS = 1024  # SageMaker keeps this much of /opt/ml/output/failure
STOP_GRACE_S = 30  # SIGTERM, then SIGKILL 30 s later
STOP_JOB_GRACE_S = 120  # Stop*Job: SageMaker's SIGTERM, then SIGKILL 120 s later

LOG_DRAIN_S = 5.0
LogSink = Callable[[str, str], None]  # (job name, line)
# (job kind, job name, host) -> where that container's lines go (the jobs' CloudWatch Logs streams)
LogStreams = Callable[[str, str, str], Callable[[str], None]]


def _no_streams(kind: str, job: str, host: str) -> Callable[[str], None]:
    return lambda line: None


class JobStatus:
    COMPLETED = "Completed"
    FAILED = "Failed"


@dataclass(frozen=True)
class JobOutcome:
    name: str
    status: str
    failure_reason: str
    started: datetime
    ended: datetime
    exit_codes: tuple[int, ...]
    image_id: str
    artifacts: dict[str, str] = field(default_factory=dict)
    metrics: tuple[dict[str, Any], ...] = ()  # training: FinalMetricDataList

    @property
    def succeeded(self) -> bool:
        return self.status == JobStatus.COMPLETED

    @property
    def seconds(self) -> float:
        return (self.ended - self.started).total_seconds()


def hosts(count: int) -> list[str]:
    return [f"algo-{index}" for index in range(1, count + 1)]


class JobRunner:
    """Runs jobs in containers owned by `scope`; `work_dir` holds their host folders."""

    def __init__(
        self,
        engine: Engine,
        scope: Scope,
        s3: EmbeddedS3,
        work_dir: Path,
        on_log: LogSink,
        log_streams: LogStreams = _no_streams,
        keeper: JobKeeper | None = None,
    ) -> None:
        self._engine = engine
        self._keeper = keeper  # --keep-on-failure
        self._keep_lock = threading.Lock()
        self.kept: dict[str, Path] = {}  # job -> where its failed containers' spec and work folder are kept
        self._scope = scope
        self._s3 = s3
        self._work_dir = work_dir
        self._on_log = on_log
        self._log_streams = log_streams
        self._running: dict[str, list[Container]] = {}  # job -> its host containers, while they run
        self._running_lock = threading.Lock()
        self._stop_requested: set[str] = set()  # stopped before its containers started: they never start

    def stop(self, job: str) -> bool:
        """Stop a running job's containers as SageMaker does (SIGTERM, then SIGKILL after the grace period);
        False when none of its containers runs yet (they then never start) or any more."""
        with self._running_lock:
            self._stop_requested.add(job)
            containers = list(self._running.get(job, ()))
        for container in containers:
            threading.Thread(target=container.stop, args=(STOP_JOB_GRACE_S,), daemon=True).start()
        return bool(containers)

    # -- processing ------------------------------------------------------------
    def run_processing(self, spec: ProcessingJobSpec) -> JobOutcome:
        run = self._execute(
            "Processing",
            spec.name,
            spec.instance_count,
            spec.max_runtime_s,
            lambda host, names, root: self._stage_processing(spec, host, names, root),
            lambda host, root: self._processing_container(spec, host, root),
        )
        if run.reason:
            return self._outcome(spec.name, spec.image, run)
        artifacts = {}
        for output in spec.outputs:  # every host uploads its outputs under the same prefix
            for root in run.roots.values():
                folder = _host_path(root, output.local_path)
                if folder.is_dir():
                    self._s3.put_tree(folder, S3Uri.parse(output.uri))
            artifacts[output.name] = output.uri
        return self._outcome(spec.name, spec.image, run, artifacts)

    def _stage_processing(self, spec: ProcessingJobSpec, host: str, names: list[str], root: Path) -> None:
        for item in spec.inputs:
            self._s3.download_prefix(S3Uri.parse(item.uri), _host_path(root, item.local_path))
        for output in spec.outputs:
            _host_path(root, output.local_path).mkdir(parents=True, exist_ok=True)
        write_processing_config(root, Cluster(host, tuple(names), spec.instance_type), spec.request)

    def _processing_container(self, spec: ProcessingJobSpec, host: str, root: Path) -> ContainerSpec:
        return ContainerSpec(
            image=spec.image,
            entrypoint=spec.entrypoint,
            command=spec.arguments,
            environment=dict(spec.environment),
            network_disabled=spec.network_isolation,
            hostname=host,
            mounts=(Mount(root / "processing", "/opt/ml/processing"), Mount(root / "config", "/opt/ml/config")),
        )

    # -- training ----------------------------------------------------------------
    def run_training(self, spec: TrainingJobSpec) -> JobOutcome:
        # The job's own definitions, else those SageMaker registers for AWS's built-in algorithm images.
        metrics = MetricCollector(spec.metric_definitions or builtin_metric_definitions(spec.image))
        run = self._execute(
            "Training",
            spec.name,
            spec.instance_count,
            spec.max_runtime_s,
            lambda host, names, root: self._stage_training(spec, host, names, root),
            lambda host, root: self._training_container(spec, host, root),
            metrics.feed,
        )
        if run.reason:
            return self._outcome(spec.name, spec.image, run, metrics=metrics.final())
        # The first host's artifacts are the job's (each host has its own /opt/ml/model).
        output = S3Uri.parse(spec.output_path).join(spec.name, "output")
        first = run.roots["algo-1"]
        artifacts = {
            "model": self._upload_archive(first / "model", output.join("model.tar.gz"), spec.name),
            "output": self._upload_archive(first / "output" / "data", output.join("output.tar.gz"), spec.name),
        }
        return self._outcome(spec.name, spec.image, run, artifacts, metrics.final())

    def _stage_training(self, spec: TrainingJobSpec, host: str, names: list[str], root: Path) -> None:
        for channel in spec.channels:
            target = Path(on_host(root).channel_dir(channel.name))
            target.mkdir(parents=True, exist_ok=True)
            self._s3.download_prefix(S3Uri.parse(channel.uri), target)
        write_training_config(
            root,
            TrainingConfig(
                hyperparameters=spec.hyperparameters,
                channels={c.name: c.config() for c in spec.channels},
                cluster=Cluster(host, tuple(names), spec.instance_type),
                job=spec.request,
            ),
        )

    def _training_container(self, spec: TrainingJobSpec, host: str, root: Path) -> ContainerSpec:
        environment = {**spec.environment, "TRAINING_JOB_NAME": spec.name, "TRAINING_JOB_ARN": spec.arn}
        return ContainerSpec(
            image=spec.image,
            entrypoint=spec.entrypoint,
            command=spec.arguments or ("train",),
            environment=environment,
            network_disabled=spec.network_isolation,
            hostname=host,
            mounts=(Mount(root, "/opt/ml"),),
        )

    # -- shared ------------------------------------------------------------------
    def _execute(
        self,
        kind: str,
        job: str,
        instance_count: int,
        max_runtime_s: int,
        stage: Callable[[str, list[str], Path], None],
        make_spec: Callable[[str, Path], ContainerSpec],
        on_logged: Callable[[str], None] = lambda line: None,
    ) -> _Execution:
        """Stage every host's folder, run all hosts, collect exit codes and the failure reason; `on_logged` sees
        every line as CloudWatch Logs holds it."""
        started = _now()
        names = hosts(instance_count)
        roots = {host: self._host_root(job, host) for host in names}
        for host, root in roots.items():
            stage(host, names, root)
        codes, reason = self._run_hosts(kind, job, names, roots, max_runtime_s, make_spec, on_logged)
        return _Execution(started, roots, codes, reason)

    def _host_root(self, job: str, host: str) -> Path:
        root = self._work_dir / job / host
        root.mkdir(parents=True, exist_ok=True)
        return root

    def _run_hosts(
        self,
        kind: str,
        job: str,
        names: list[str],
        roots: dict[str, Path],
        max_runtime_s: int,
        make_spec: Callable[[str, Path], ContainerSpec],
        on_logged: Callable[[str], None],
    ) -> tuple[tuple[int, ...], str]:
        """Start every host, wait for all of them; (exit codes, failure reason or '')."""
        network = self._scope.network(job) if len(names) > 1 else None
        containers: dict[str, Container] = {}
        for host in names:
            spec = make_spec(host, roots[host])
            if network and not spec.network_disabled:
                spec = replace(spec, network=network)
            try:
                containers[host] = self._scope.create(spec)
            except UserError as error:  # the image: as in SageMaker, the job fails and says why
                for created in containers.values():
                    created.remove()
                return (), f"ClientError: {error.problem}" + (f". Fix: {error.fix}" if error.fix else "")
        with self._running_lock:
            if job in self._stop_requested:
                for created in containers.values():
                    created.remove()
                return (), ""
            self._running[job] = list(containers.values())
        try:
            return self._wait_for_hosts(kind, job, names, roots, containers, max_runtime_s, on_logged)
        finally:
            with self._running_lock:
                self._running.pop(job, None)

    def _wait_for_hosts(
        self,
        kind: str,
        job: str,
        names: list[str],
        roots: dict[str, Path],
        containers: dict[str, Container],
        max_runtime_s: int,
        on_logged: Callable[[str], None],
    ) -> tuple[tuple[int, ...], str]:
        followers: list[threading.Thread] = []
        for host, container in containers.items():  # all created first: the hosts come up together
            container.start()
            prefix = f"{host} " if len(names) > 1 else ""
            console = prefixed(partial(self._on_log, job), prefix)
            stream = _escaped(_both(self._log_streams(kind, job, host), on_logged))
            followers.append(container.stream_logs(_both(console, stream)))
        deadline = time.monotonic() + max_runtime_s
        codes: dict[str, int] = {}
        for host, container in containers.items():
            try:
                codes[host] = container.wait(max(1.0, deadline - time.monotonic()))
            except ContainerTimeout:
                for other in containers.values():
                    other.stop(STOP_GRACE_S)
                return tuple(codes.values()), (
                    f"MaxRuntimeExceeded: the job ran past MaxRuntimeInSeconds={max_runtime_s}"
                )
            except InfrastructureError as error:  # not the job's doing: say what broke, not MaxRuntimeExceeded
                raise InfrastructureError(
                    f"the Docker daemon stopped answering while waiting for job {job}",
                    fix=error.fix,
                    details=error.details,
                ) from error
        for follower in followers:  # the last lines reach the log streams before the job is reported done
            follower.join(timeout=LOG_DRAIN_S)
        last_lines = {host: _last_line(c.logs_tail(5)) for host, c in containers.items() if codes[host] != 0}
        reason = _failure_reason(names, roots, codes, last_lines)
        if not (reason and self._keep(kind, job, containers)):
            for container in containers.values():
                container.remove()
        return tuple(codes[h] for h in names), reason

    def _keep(self, kind: str, job: str, containers: dict[str, Container]) -> bool:
        """--keep-on-failure: keep a job that failed by itself (not one stopped, nor one the run's end killed)."""
        with self._running_lock:
            stopped = job in self._stop_requested
        with self._keep_lock:  # not while discard_kept() runs: what it missed would outlive the run
            if self._keeper is None or stopped:
                return False
            try:
                self.kept[job] = self._keeper.keep(self._scope, kind, job, containers, self._work_dir / job)
            except Exception:  # noqa: BLE001 (the scope is closing under it, or the disk is full: nothing kept)
                return False
            return True

    def discard_kept(self) -> None:
        """Keep nothing after all (the run was interrupted): the scope's close removes the containers."""
        with self._keep_lock:
            self._keeper = None  # a job failing from now on is not kept either
            self._scope.keep_nothing()
            for folder in self.kept.values():
                shutil.rmtree(folder, ignore_errors=True)
            self.kept.clear()

    def _upload_archive(self, folder: Path, uri: S3Uri, job: str) -> str:
        archive = pack(folder, self._work_dir / job / uri.key.rsplit("/", 1)[-1])
        self._s3.put_file(archive, uri)
        return str(uri)

    def _outcome(
        self,
        job: str,
        image: str,
        run: _Execution,
        artifacts: dict[str, str] | None = None,
        metrics: Sequence[dict[str, Any]] = (),
    ) -> JobOutcome:
        info = self._engine.image(image)
        status = JobStatus.FAILED if run.reason else JobStatus.COMPLETED
        return JobOutcome(
            job, status, run.reason, run.started, _now(), run.codes, info.id if info else "", artifacts or {},
            tuple(metrics),
        )  # fmt: skip


@dataclass(frozen=True)
class _Execution:
    started: datetime
    roots: dict[str, Path]
    codes: tuple[int, ...]
    reason: str


def _failure_reason(names: list[str], roots: dict[str, Path], codes: dict[str, int], last_lines: dict[str, str]) -> str:
    """SageMaker's FailureReason: the failure file's first 1024 characters, or a
    pointer to the logs (here: their last line) when the container wrote none."""
    for host in names:
        if codes[host] == 0:
            continue
        failure = roots[host] / "output" / "failure"
        text = failure.read_text(errors="replace")[:FAILURE_REASON_CHARS].strip() if failure.is_file() else ""
        detail = text or f"See job logs for more information (last line: {last_lines.get(host, '')!r})"
        return f"AlgorithmError: {detail}, exit code: {codes[host]}"
    return ""


def _both(first: Callable[[str], None], second: Callable[[str], None]) -> Callable[[str], None]:
    def both(line: str) -> None:
        first(line)
        second(line)

    return both


def _escaped(sink: Callable[[str], None]) -> Callable[[str], None]:
    """A sink of lines as CloudWatch Logs holds them (the console sees them as the container wrote them)."""
    return lambda line: sink(as_logged(line))


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _host_path(root: Path, container_path: str) -> Path:
    """Where a path under /opt/ml lives in a host's folder."""
    return root / PurePosixPath(container_path).relative_to("/opt/ml")


def _now() -> datetime:
    return datetime.now(UTC)
