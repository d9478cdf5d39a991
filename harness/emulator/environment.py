"""Everything a local run needs, opened together and closed together.

`LocalEnvironment.open()` starts the local AWS endpoint (S3 and the rest of
AWS through moto, SageMaker through our control plane), a container scope
whose containers reach that endpoint, a work folder, and a SageMaker SDK
session on the same control plane; leaving the block (success, failure or
Ctrl-C) stops the endpoints, removes every container and network of the
scope, stops the server and deletes the work folder.
While the block runs, the process may connect only to loopback, Unix sockets
and the Docker bridge (`harness.engine.egress`); `env.egress.refusals` lists what was
refused.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.loaders import Loader

from harness.emulator.callbacks import Callbacks
from harness.emulator.controlplane import SageMakerControlPlane
from harness.emulator.executor import StepEvent
from harness.emulator.hosting import EndpointHost
from harness.emulator.kept_jobs import JobKeeper
from harness.emulator.lambda_step import LambdaFunctions
from harness.emulator.local_mode import LocalRuntimeClient, LocalSageMakerClient
from harness.emulator.pipeline_options import PipelineOptions, StepServices
from harness.emulator.platform import ImageResolver, container_environment, wheelhouse_platform
from harness.emulator.registry import ModelRegistry
from harness.emulator.runner import JobRunner, LogSink
from harness.emulator.server import Listener, Routes
from harness.emulator.step_cache import StepCache, cache_limit
from harness.emulator.storage import EmbeddedS3, boto_session
from harness.engine.docker import SCOPE_LABEL, Engine, Platform, Scope
from harness.engine.egress import Seal, local_allowance, sealed
from harness.errors import InfrastructureError
from harness.images.standins import StandIns

if TYPE_CHECKING:
    from harness.emulator.sdk_session import HarnessSession

DEFAULT_BUCKET = "harness-local"
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnvironmentOptions:
    """How a local environment is opened beyond its defaults."""

    bucket: str = DEFAULT_BUCKET
    scope_name: str = "run"
    images: Mapping[str, str] = field(default_factory=dict)  # cloud image URI or repository -> local image
    port: int = 0  # the endpoint's port; 0: a free one
    asynchronous: bool = False  # Create*/Start* return at once, as the service does
    # The SDK session door (`env.session`); without it the SageMaker SDK is never imported (a `run` command's
    # own process imports it; the harness's does not need to pay its ~3 s).
    sdk_session: bool = True
    # Where the harness's notices go (a stand-in standing for AWS's image, and how it differs): never silent.
    on_notice: Callable[[str], None] = field(default=lambda text: print(text, file=sys.stderr, flush=True))
    wheelhouse: Path | None = None  # wheels pip finds in every container (harness.emulator.platform)
    pipelines: PipelineOptions = field(default_factory=PipelineOptions)
    # --keep-on-failure: a failed job's containers and work folder are kept here (harness.emulator.kept_jobs).
    keep_failed_in: Path | None = None
    # The endpoint's sockets, bound already (`run` starts its command against them before the environment opens).
    listener: Listener | None = None
    # Clients' requests wait until `env.routes.ready` is set (by the caller, once its data is seeded).
    hold_clients: bool = False


@dataclass(frozen=True)
class LocalEnvironment:
    state_dir: Path
    scope: Scope
    s3: EmbeddedS3
    bucket: str
    work_dir: Path
    registry: ModelRegistry
    endpoints: EndpointHost
    control: SageMakerControlPlane
    routes: Routes
    client: LocalSageMakerClient
    runtime: LocalRuntimeClient
    session: HarnessSession | None  # None when opened with sdk_session=False
    egress: Seal
    stand_ins: StandIns  # AWS's framework images used, and what stood for them
    runner: JobRunner  # its `kept`: the failed jobs kept for `harness debug`

    @property
    def endpoint_url(self) -> str:
        """The local AWS endpoint, for clients on this host (AWS_ENDPOINT_URL)."""
        return self.s3.server.url

    @classmethod
    @contextlib.contextmanager
    def open(
        cls,
        state_dir: Path,
        engine: Engine,
        on_log: LogSink,
        on_event: StepEvent,
        options: EnvironmentOptions | None = None,
    ) -> Iterator[LocalEnvironment]:
        options = options or EnvironmentOptions()
        cache_bytes = cache_limit()  # a bad HARNESS_STEP_CACHE_MB is refused before anything starts
        allowance = local_allowance(engine)  # the Docker bridge's subnet, read from the engine
        state_dir.mkdir(parents=True, exist_ok=True)
        work_dir = Path(tempfile.mkdtemp(prefix="harness-run-"))
        scope = Scope(engine, options.scope_name)
        routes = Routes()
        if options.hold_clients:
            routes.ready.clear()
        # The SDK's parsed service models, shared; the bridge gateway, where containers reach the endpoint.
        s3 = EmbeddedS3(boto_session(_sdk_models() if options.sdk_session else None), routes,
                        engine.bridge_gateway(), options.port, options.listener)  # fmt: skip
        endpoints = EndpointHost(scope, s3, work_dir, routes.logs.writer)
        control: SageMakerControlPlane | None = None
        runner: JobRunner | None = None
        with sealed(allowance) as seal:
            try:
                s3.start()
                stand_ins = StandIns(engine, options.on_notice)
                pip_environment, pip_mounts = wheelhouse_platform(options.wheelhouse)
                resolver = ImageResolver(engine, options.images, stand_ins)
                scope.platform = Platform(
                    {**container_environment(s3.server.container_url), **pip_environment}, resolver, pip_mounts
                )
                services = StepServices(
                    cache=StepCache(state_dir / "step-cache", s3, resolver.local_id, cache_bytes),
                    lambdas=LambdaFunctions(options.pipelines.lambdas, lambda: s3.endpoint_url),
                    on_log=on_log,
                    on_notice=options.on_notice,
                    callbacks=Callbacks(_sqs_sender(s3), options.on_notice),
                )
                registry = ModelRegistry(state_dir / "registry.json")
                keeper = JobKeeper(options.keep_failed_in) if options.keep_failed_in else None
                runner = JobRunner(engine, scope, s3, work_dir, on_log, routes.logs.job_writer, keeper)
                control = SageMakerControlPlane(
                    runner, endpoints, registry, s3, on_event, options.asynchronous, options.pipelines, services
                )
                routes.sagemaker, routes.endpoints = control, endpoints
                client = LocalSageMakerClient(control, endpoints)
                runtime = LocalRuntimeClient(endpoints)
                session = _sdk_session(s3, options.bucket, client, runtime) if options.sdk_session else None
                yield cls(
                    state_dir, scope, s3, options.bucket, work_dir, registry, endpoints, control, routes, client,
                    runtime, session, seal, stand_ins, runner,
                )  # fmt: skip
            except BaseException as error:
                if runner is not None and isinstance(error, KeyboardInterrupt):
                    runner.discard_kept()  # no record will name what --keep-on-failure kept: nothing may be left
                _close(control, endpoints, scope, s3, work_dir, raise_failures=False)  # the error on its way out wins
                raise
            else:
                _close(control, endpoints, scope, s3, work_dir, raise_failures=True)


def _sqs_sender(s3: EmbeddedS3) -> Callable[[str, str], None]:
    """A callback step's message, sent to the local endpoint's SQS (its queue must exist there)."""

    def send(queue_url: str, body: str) -> None:
        client = s3.boto_session.client("sqs", endpoint_url=s3.endpoint_url)
        client.send_message(QueueUrl=client.get_queue_url(QueueName=queue_url.rstrip("/").rsplit("/", 1)[-1])[
            "QueueUrl"], MessageBody=body)  # fmt: skip

    return send


def _sdk_models() -> Loader | None:
    from harness.emulator.sdk_session import sdk_models  # imports the SDK

    return sdk_models()


def _sdk_session(
    s3: EmbeddedS3, bucket: str, client: LocalSageMakerClient, runtime: LocalRuntimeClient
) -> HarnessSession:
    from harness.emulator.sdk_session import HarnessSession  # imports the SDK

    return HarnessSession(s3, bucket, client, runtime)


def _close(
    control: SageMakerControlPlane | None,
    endpoints: EndpointHost,
    scope: Scope,
    s3: EmbeddedS3,
    work_dir: Path,
    raise_failures: bool,
) -> None:
    """Every clean-up step runs even if one before it fails, or Ctrl-C arrives: nothing may be left behind.

    After a failure (`raise_failures=False`) the scope's containers are force-removed
    first, so nobody waits out endpoints' SIGTERM grace; after success, endpoints stop
    gracefully as SageMaker stops them. A failed step (typically: the Docker daemon went
    away) is raised after all of them ran, unless another error is already on its way
    out; then it is logged, so it cannot hide the error that caused it. A Ctrl-C during
    clean-up is raised again once every step ran.
    """
    graceful = ("stop the endpoints", endpoints.stop_all)
    steps = [
        ("remove the run's containers and networks", scope.close),
        ("stop the local AWS endpoint", s3.stop),
        ("delete the work folder", lambda: _remove_tree(work_dir)),
    ]
    steps.insert(0 if raise_failures else 1, graceful)
    if control is not None:  # background jobs and executions first (asynchronous mode): nothing outlives the run
        steps.insert(0 if raise_failures else 1, ("finish background work", control.close))
    failures, interrupted = [], False
    for what, step in steps:
        try:
            step()
        except KeyboardInterrupt:
            interrupted = True
        except Exception as error:  # noqa: BLE001 (each step must run; every failure is reported below)
            failures.append(f"could not {what}: {type(error).__name__}: {error}")
    if interrupted:
        raise KeyboardInterrupt
    _report(failures, scope, work_dir, raise_failures)


def _remove_tree(folder: Path) -> None:
    """rmtree that says what it could not remove (a container may have written files its user cannot delete)."""
    if not folder.exists():
        return
    problems: list[str] = []
    shutil.rmtree(folder, onerror=lambda _function, path, error: problems.append(f"{path}: {error[1]}"))
    if problems:
        raise OSError(f"{len(problems)} path(s) left, e.g. {problems[0]}")


def _report(failures: list[str], scope: Scope, work_dir: Path, raise_failures: bool) -> None:
    if not failures:
        return
    if not raise_failures:
        for failure in failures:
            _LOG.warning("clean-up after a failed run: %s", failure)
        return
    raise InfrastructureError(
        "clean-up after the run failed: " + "; ".join(failures),
        fix=f"check that the Docker daemon answers (`docker ps`), then remove what is left: "
        f"`docker rm -f $(docker ps -aq --filter label={SCOPE_LABEL}={scope.id})` and {work_dir}",
    )
