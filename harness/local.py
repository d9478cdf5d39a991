"""Everything a local run needs, opened together and closed together.

`LocalEnvironment.open()` starts the embedded S3, a container scope, a work
folder and the local SageMaker API behind a SageMaker SDK session; leaving the
block (success, failure or Ctrl-C) stops the endpoints, removes every
container and network of the scope, stops S3 and deletes the work folder.
While the block runs, the process may connect only to loopback, Unix sockets
and the Docker bridge (`harness.egress`); `env.egress.refusals` lists what was
refused.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.api import LocalRuntimeClient, LocalSageMakerClient
from harness.config import Settings
from harness.docker import SCOPE_LABEL, Engine, Scope
from harness.egress import Seal, local_allowance, sealed
from harness.endpoints import EndpointHost
from harness.errors import InfrastructureError
from harness.executor import StepEvent
from harness.registry import ModelRegistry
from harness.runner import JobRunner, LogSink
from harness.session import HarnessSession, sdk_models
from harness.storage import EmbeddedS3, boto_session

DEFAULT_BUCKET = "harness-local"
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalEnvironment:
    settings: Settings
    scope: Scope
    s3: EmbeddedS3
    bucket: str
    work_dir: Path
    registry: ModelRegistry
    endpoints: EndpointHost
    client: LocalSageMakerClient
    runtime: LocalRuntimeClient
    session: HarnessSession
    egress: Seal

    @classmethod
    @contextlib.contextmanager
    def open(
        cls,
        settings: Settings,
        engine: Engine,
        on_log: LogSink,
        on_event: StepEvent,
        bucket: str = DEFAULT_BUCKET,
        scope_name: str = "run",
    ) -> Iterator[LocalEnvironment]:
        allowance = local_allowance(engine)  # the Docker bridge's subnet, read from the engine
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        work_dir = Path(tempfile.mkdtemp(prefix="harness-run-"))
        scope = Scope(engine, scope_name)
        s3 = EmbeddedS3(boto_session(sdk_models()))  # the SDK's parsed service models, shared
        endpoints = EndpointHost(scope, s3, work_dir)
        with sealed(allowance) as seal:
            try:
                s3.start()
                registry = ModelRegistry(settings.state_dir / "registry.json")
                client = LocalSageMakerClient(
                    JobRunner(engine, scope, s3, work_dir, on_log), endpoints, registry, s3, on_event
                )
                runtime = LocalRuntimeClient(endpoints)
                session = HarnessSession(s3, bucket, client, runtime)
                yield cls(settings, scope, s3, bucket, work_dir, registry, endpoints, client, runtime, session, seal)
            except BaseException:
                _close(endpoints, scope, s3, work_dir, raise_failures=False)  # the error on its way out wins
                raise
            else:
                _close(endpoints, scope, s3, work_dir, raise_failures=True)


def _close(endpoints: EndpointHost, scope: Scope, s3: EmbeddedS3, work_dir: Path, raise_failures: bool) -> None:
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
        ("stop the embedded S3", s3.stop),
        ("delete the work folder", lambda: _remove_tree(work_dir)),
    ]
    steps.insert(0 if raise_failures else 1, graceful)
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
