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
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.api import LocalRuntimeClient, LocalSageMakerClient
from harness.config import Settings
from harness.docker import Engine, Scope
from harness.egress import Seal, local_allowance, sealed
from harness.endpoints import EndpointHost
from harness.executor import StepEvent
from harness.registry import ModelRegistry
from harness.runner import JobRunner, LogSink
from harness.session import HarnessSession
from harness.storage import EmbeddedS3

DEFAULT_BUCKET = "harness-local"


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
        s3 = EmbeddedS3()
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
            finally:
                # Each step runs even if the one before fails: nothing may be left behind.
                with contextlib.suppress(Exception):
                    endpoints.stop_all()
                scope.close()
                s3.stop()
                shutil.rmtree(work_dir, ignore_errors=True)
