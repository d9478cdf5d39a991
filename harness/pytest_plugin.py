"""pytest plugin (entry point `pytest11`): SageMaker container contracts and the local AWS endpoint as fixtures.

    def test_my_image_serves(sagemaker_inference, tmp_path):
        server = sagemaker_inference("my-inference:latest", model="build/model.tar.gz")
        assert server.invoke(b"1,2,3", "text/csv").status == 200

    def test_my_training_image(sagemaker_training_job):
        job = sagemaker_training_job("my-training:latest", channels={"train": "data/train.csv"},
                                     hyperparameters={"epochs": "3"})
        assert job.exit_code == 0 and job.model_files

    def test_contract(sagemaker_contract):
        sagemaker_contract.assert_inference("my-inference:latest", model="build/model.tar.gz",
                                            payload="tests/payload.csv")

Every container a fixture starts is removed when the test ends, pass or fail.

The local AWS endpoint, for a team's own cloud code (boto3, the SageMaker SDK,
scripts run as they are):

    def test_my_pipeline(sagemaker_local_aws):
        sm = boto3.client("sagemaker", **sagemaker_local_aws.client_kwargs)
        sagemaker_local_aws.s3.put_bytes(b"1,2\n", S3Uri("team-raw", "in/data.csv"))  # harness.emulator.storage.S3Uri
        subprocess.run(["python", "pipeline.py"], env=sagemaker_local_aws.environment, check=True)
        assert [run.status for run in sagemaker_local_aws.control.pipelines.runs] == ["Succeeded"]

`sagemaker_local_aws` is a `LocalAws`: the endpoint's `url` (S3, STS and the
rest of AWS through moto; SageMaker, sagemaker-runtime and CloudWatch Logs
through the harness); `client_kwargs` for `boto3.client(service, **...)`
(endpoint_url, region, dummy keys); `environment`, the environment for a
subprocess (`sagemaker-harness run`'s: the endpoint as AWS_ENDPOINT_URL, the
region, dummy keys, no host AWS settings, empty AWS config files, the SDK's
telemetry off, and a sitecustomize that sends clients built for an AWS host to
the endpoint); `s3`, the EmbeddedS3 (`put_file`, `put_tree`, `get_bytes`,
`keys`...); `control`, the SageMaker control plane (`control.pipelines.runs`:
every execution with its steps); `local`, the whole LocalEnvironment;
`boto_session()`, a boto3 session whose every client goes to the endpoint
(isolated from the host's AWS set-up, unlike `boto3.client(**client_kwargs)`,
which still reads its profile and config files); and `session()`, a plain
`sagemaker.Session` on it, or `session(pipeline=True)` a `PipelineSession`,
both with the SDK's telemetry off (default bucket
sagemaker-us-east-1-000000000000 unless `default_bucket=` names one).
Pipeline steps and jobs run as containers that reach the endpoint with the
same settings; their log lines and step statuses are printed, so pytest shows
them with a failing test.

The project's configuration applies as under `sagemaker-harness run`: the
`[tool.harness]` table of the nearest pyproject.toml at or above the test's
file (its `images`, those with a Dockerfile built when absent; its `data`,
seeded before the test; `lambda`, `faults`, `max-parallel`, `wheelhouse`).

Options, by marker on the test, its class or module (`pytestmark`):

    @pytest.mark.sagemaker_local_aws(images={"<account>.dkr.ecr.<region>.amazonaws.com/team/prep:1": "prep:dev"},
                                     asynchronous=True)

`images` maps a cloud image URI (or its repository) to the local image that
stands for it (an image tagged with the URI itself needs no entry), over the
configuration's; `asynchronous` makes Create*/Start* return at once, as the
service does.

One endpoint per test: its state folder is under tmp_path, and when the test
ends (pass or fail) its containers, networks, endpoints and server are gone.
SageMaker state (pipelines, jobs, executions) is the test's own; S3 and the
other moto services are not: moto keeps its backends for the whole process,
so buckets and objects made in one test are still there in the next. Give
each test its own bucket names, or delete what it made. While the fixture
lives, the process may connect only to loopback, Unix sockets and the Docker
bridge (`harness.engine.egress`); `local.egress.refusals` lists what was refused.
Subprocesses are not guarded; `environment` points them at the endpoint.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.check.inference import start_server
from harness.check.model import CheckOptions, Kind, Result, Status
from harness.check.processing import lay_out as lay_out_processing
from harness.check.processing import run_processing
from harness.check.report import as_text
from harness.check.suite import run_checks
from harness.check.training import TrainingRun, lay_out, run_training
from harness.check.workspace import model_folder
from harness.emulator.inference_client import HealthProbe, InferenceClient, Reply, probe_health
from harness.engine.docker import Container, Engine, Scope
from harness.engine.egress import Seal, local_allowance, sealed
from harness.errors import UserError

if TYPE_CHECKING:  # imported when a fixture needs them: the SDK and moto take ~2 s to import, every pytest run
    import boto3

    from harness.emulator.controlplane import SageMakerControlPlane
    from harness.emulator.environment import LocalEnvironment
    from harness.emulator.executor import StepRecord
    from harness.emulator.storage import EmbeddedS3

LOCAL_AWS_MARKER = "sagemaker_local_aws"
_LOCAL_AWS_OPTIONS = {"images", "asynchronous"}


@dataclass(frozen=True)
class InferenceServer:
    container: Container
    client: InferenceClient
    seconds_to_healthy: float

    def ping(self) -> Reply:
        return self.client.ping()

    def invoke(self, body: bytes, content_type: str = "text/csv", accept: str | None = None) -> Reply:
        return self.client.invoke(body, content_type, accept)

    def logs(self) -> str:
        return self.container.logs()


@dataclass(frozen=True)
class ProcessingRun:
    exit_code: int
    logs: str
    outputs: dict[str, Path]


class ContractChecker:
    """Runs `harness check` rules as assertions."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def check(self, kind: str, images: list[str], **options: Any) -> list[Result]:
        return run_checks(self._engine, Kind(kind), images, _options(options))

    def _assert(self, kind: str, images: list[str], options: dict[str, Any]) -> list[Result]:
        """Fails on any FAIL, and on any SKIP (a check that could not run) unless `allow_skipped` names it.

        `allow_skipped=True` allows every skip; a set of check names allows only those.
        """
        allowed = options.pop("allow_skipped", False)
        results = self.check(kind, images, **options)
        if any(r.status is Status.FAIL for r in results):
            raise AssertionError(f"SageMaker {kind} contract violated by {' '.join(images)}:\n{as_text(results)}")
        unverified = [r for r in results if r.status is Status.SKIPPED and not _allowed(r.name, allowed)]
        if unverified:
            raise AssertionError(
                f"SageMaker {kind} contract not fully checked for {' '.join(images)}: "
                + "; ".join(f"{r.name} skipped: {r.observed}" for r in unverified)
                + f"\n(give the missing inputs, or pass allow_skipped={sorted(r.name for r in unverified)!r})\n"
                + as_text(results)
            )
        return results

    def assert_inference(self, image: str, **options: Any) -> list[Result]:
        return self._assert("inference", [image], options)

    def assert_training(self, image: str, **options: Any) -> list[Result]:
        return self._assert("training", [image], options)

    def assert_processing(self, image: str, **options: Any) -> list[Result]:
        return self._assert("processing", [image], options)

    def assert_pair(self, training_image: str, inference_image: str, **options: Any) -> list[Result]:
        return self._assert("pair", [training_image, inference_image], options)


def _allowed(name: str, allowed: bool | str | Iterable[str]) -> bool:
    if isinstance(allowed, bool):
        return allowed
    return name == allowed if isinstance(allowed, str) else name in set(allowed)  # a str is one name, not letters


def _options(options: dict[str, Any]) -> CheckOptions:
    paths = {"model", "payload"}
    mappings = {"channels", "inputs"}
    converted = {}
    for key, value in options.items():
        if key in paths and value is not None:
            value = Path(value)
        elif key in mappings:
            value = {name: Path(path) for name, path in value.items()}
        elif key in ("outputs", "entrypoint", "arguments", "libraries"):
            value = tuple(value)
        converted[key] = value
    return CheckOptions(**converted)


@pytest.fixture(scope="session")
def sagemaker_engine() -> Engine:
    """The Docker engine; a missing daemon fails the test with the fix."""
    return Engine.connect()


@pytest.fixture
def sagemaker_no_egress(sagemaker_engine: Engine) -> Iterator[Seal]:
    """While a fixture lives, only loopback, Unix sockets and the Docker bridge may be reached (engine.egress)."""
    with sealed(local_allowance(sagemaker_engine)) as seal:
        yield seal


@pytest.fixture
def sagemaker_scope(sagemaker_engine: Engine, sagemaker_no_egress: Seal) -> Iterator[Scope]:
    with Scope(sagemaker_engine, "pytest") as scope:
        yield scope


@pytest.fixture
def sagemaker_inference(sagemaker_scope: Scope, tmp_path: Path) -> Callable[..., InferenceServer]:
    """Start an inference image with `serve` and a model; returns a healthy server."""

    def start(
        image: str,
        model: str | Path | None = None,
        environment: dict[str, str] | None = None,
        startup_window_s: float = 240.0,
    ) -> InferenceServer:
        model_dir = model_folder(Path(model) if model else None, tmp_path / f"model-{len(list(tmp_path.iterdir()))}")
        container = start_server(sagemaker_scope, image, model_dir, 8080, environment or {})
        client = InferenceClient(container.host_port(8080))
        probe = probe_health(container, client, startup_window_s, port=8080)
        if probe.healthy_s is None:
            raise AssertionError(
                f"{image} {_unhealthy(probe, container, startup_window_s)}; its log:\n" + container.logs_tail()
            )
        return InferenceServer(container, client, probe.healthy_s)

    return start


def _unhealthy(probe: HealthProbe, container: Container, window_s: float) -> str:
    if probe.elsewhere:  # judged at once: waiting out the window would not change it
        return f"will never be healthy: it {probe.last}"
    if container.status() != "running":
        return f"exited before /ping answered 200 (last: {probe.last})"
    return f"did not answer /ping 200 within {window_s:.0f}s (last: {probe.last})"


@pytest.fixture
def sagemaker_training_job(sagemaker_scope: Scope, tmp_path: Path) -> Callable[..., TrainingRun]:
    """Run a training image as `train` on channels; returns exit code, logs, model files, failure text."""

    def run(
        image: str,
        channels: dict[str, str | Path],
        hyperparameters: dict[str, str] | None = None,
        network: bool = False,
    ) -> TrainingRun:
        options = CheckOptions(
            channels={k: Path(v) for k, v in channels.items()}, hyperparameters=dict(hyperparameters or {})
        )
        root = lay_out(tmp_path / f"job-{len(list(tmp_path.iterdir()))}", options, dict(options.hyperparameters))
        return run_training(sagemaker_scope, image, root, network)

    return run


@pytest.fixture
def sagemaker_processing_job(sagemaker_scope: Scope, tmp_path: Path) -> Callable[..., ProcessingRun]:
    """Run a processing image with inputs under /opt/ml/processing/input/<name>; returns its outputs."""

    def run(
        image: str,
        inputs: dict[str, str | Path],
        outputs: list[str],
        entrypoint: list[str] | None = None,
        arguments: list[str] | None = None,
    ) -> ProcessingRun:
        options = CheckOptions(
            inputs={k: Path(v) for k, v in inputs.items()},
            outputs=tuple(outputs),
            entrypoint=tuple(entrypoint or ()),
            arguments=tuple(arguments or ()),
        )
        root = lay_out_processing(tmp_path / f"processing-{len(list(tmp_path.iterdir()))}", options)
        code, logs, _ = run_processing(sagemaker_scope, image, options, root)
        if code is None:
            raise AssertionError(f"{image} could not start: {logs}")
        return ProcessingRun(code, logs, {n: root / "output" / n for n in outputs})

    return run


@pytest.fixture
def sagemaker_contract(sagemaker_engine: Engine, sagemaker_no_egress: Seal) -> ContractChecker:
    """`harness check` as assertions: assert_inference / assert_training / assert_processing / assert_pair."""
    return ContractChecker(sagemaker_engine)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{LOCAL_AWS_MARKER}(images=None, asynchronous=False): options of the sagemaker_local_aws fixture "
        "(local images for cloud image URIs; Create*/Start* returning at once)",
    )


@dataclass(frozen=True)
class LocalAws:
    """One test's local AWS endpoint and what code needs to reach it (see the module docstring)."""

    url: str
    environment: dict[str, str]  # for subprocess.run(..., env=...)
    client_kwargs: dict[str, str]  # for boto3.client(service, **...)
    s3: EmbeddedS3
    control: SageMakerControlPlane
    local: LocalEnvironment

    def boto_session(self) -> boto3.Session:
        """A boto3 session on the endpoint: the region, dummy keys, nothing read from the host's AWS set-up, and
        every client and resource created against the endpoint, whatever endpoint the caller names (the SDK
        names STS's AWS host)."""
        return _endpoint_session(self.url)

    def session(self, default_bucket: str | None = None, pipeline: bool = False) -> Any:
        """A plain `sagemaker.Session` on `boto_session()` (`pipeline=True`: a `PipelineSession`, whose job
        calls become pipeline steps), with the SDK config the subprocesses get: telemetry off."""
        from harness.engine.sandbox import offline_sdk_import
        from harness.run_command import sdk_config_without_telemetry

        with offline_sdk_import():  # already imported by the environment; kept offline if it was not
            from sagemaker.session import Session
            from sagemaker.workflow.pipeline_context import PipelineSession

        return (PipelineSession if pipeline else Session)(
            boto_session=self.boto_session(),
            default_bucket=default_bucket,
            sagemaker_config=sdk_config_without_telemetry(os.environ),
        )


def _endpoint_session(url: str) -> boto3.Session:
    import boto3
    import botocore.session

    from harness.emulator.arns import REGION
    from harness.emulator.storage import (  # the isolation of harness.emulator.storage.boto_session
        ISOLATED_SESSION_VARS,
        LOCAL_CREDENTIALS,
    )

    class EndpointSession(boto3.Session):
        def client(self, *args: Any, **kwargs: Any) -> Any:  # resource() creates its client through here too
            return super().client(*args, **{**kwargs, "endpoint_url": url})

    core = botocore.session.Session(session_vars=ISOLATED_SESSION_VARS)  # its own: two boto3 sessions on one clash
    return EndpointSession(botocore_session=core, region_name=REGION, **LOCAL_CREDENTIALS)


def _local_aws_options(marker: pytest.Mark | None) -> dict[str, Any]:
    if marker is None:
        return {}
    unknown = sorted(set(marker.kwargs) - _LOCAL_AWS_OPTIONS)
    if marker.args or unknown:
        pytest.fail(
            f"@pytest.mark.{LOCAL_AWS_MARKER} takes only the keywords {sorted(_LOCAL_AWS_OPTIONS)}"
            + (f"; not {unknown}" if unknown else f"; not positional arguments {marker.args!r}"),
            pytrace=False,
        )
    images = marker.kwargs.get("images") or {}
    if not isinstance(images, Mapping) or not all(isinstance(v, str) for v in (*images, *images.values())):
        pytest.fail(f"@pytest.mark.{LOCAL_AWS_MARKER}(images=...) maps image URIs to local image names", pytrace=False)
    return {"images": dict(images), "asynchronous": bool(marker.kwargs.get("asynchronous", False))}


@pytest.fixture
def sagemaker_local_aws(request: pytest.FixtureRequest, sagemaker_engine: Engine, tmp_path: Path) -> Iterator[LocalAws]:
    """The local AWS endpoint for one test, with its environment; everything it started is gone after the test."""
    from harness.emulator.arns import REGION
    from harness.emulator.environment import EnvironmentOptions, LocalEnvironment
    from harness.emulator.pipeline_options import PipelineOptions
    from harness.emulator.platform import command_environment
    from harness.emulator.storage import LOCAL_CREDENTIALS
    from harness.progress import Progress
    from harness.projectconfig import load_project
    from harness.run_command import build_project_images, seed, write_command_files

    marked = _local_aws_options(request.node.get_closest_marker(LOCAL_AWS_MARKER))
    progress = Progress(stream=sys.stdout, live=False)  # pytest shows what a failing test printed
    try:
        project = load_project(request.path.parent)  # the test's project: its [tool.harness], as `run` reads it
        build_project_images(project.images, sagemaker_engine, progress, build=False)  # the absent ones
    except UserError as error:
        pytest.fail(error.render(), pytrace=False)
    options = EnvironmentOptions(
        scope_name="pytest-aws",
        images={**project.aliases(), **marked.get("images", {})},
        asynchronous=marked.get("asynchronous", False),
        wheelhouse=project.wheelhouse,
        pipelines=PipelineOptions(project.max_parallel, True, project.faults, project.lambdas),
    )
    folder = tmp_path / "local-aws"
    folder.mkdir()
    command_files = write_command_files(folder, os.environ)
    with LocalEnvironment.open(folder / "state", sagemaker_engine, _print_log, _print_step, options) as env:
        seed(env.s3, project.data, progress)
        url = env.endpoint_url
        yield LocalAws(
            url=url,
            environment=command_environment(os.environ, url, *command_files),
            client_kwargs={"endpoint_url": url, "region_name": REGION, **LOCAL_CREDENTIALS},
            s3=env.s3,
            control=env.control,
            local=env,
        )


def _print_log(job: str, line: str) -> None:
    print(f"    [{job}] {line}", flush=True)  # pytest shows what a failing test printed


def _print_step(record: StepRecord) -> None:
    reason = f": {record.failure_reason}" if record.failure_reason else ""
    print(f"step {record.name} ({record.step_type}) {record.status}{reason}", flush=True)
