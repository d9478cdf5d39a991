"""pytest plugin (entry point `pytest11`): SageMaker container contracts as fixtures.

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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.check.inference import start_server
from harness.check.model import CheckOptions, Kind, Result, Status
from harness.check.processing import lay_out as lay_out_processing
from harness.check.processing import run_processing
from harness.check.report import as_text
from harness.check.suite import run_checks
from harness.check.training import TrainingRun, lay_out, run_training
from harness.check.workspace import model_folder
from harness.docker import Container, Engine, Scope
from harness.egress import Seal, local_allowance, sealed
from harness.serving import HealthProbe, InferenceClient, Reply, probe_health


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
    """While a fixture lives, only loopback, Unix sockets and the Docker bridge may be reached (harness.egress)."""
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
