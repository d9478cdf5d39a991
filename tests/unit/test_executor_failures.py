"""Any exception inside a step ends the step and the execution as Failed, never "Executing"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from harness.awserrors import validation_error
from harness.errors import CorruptState
from harness.executor import PipelineRun

MODEL = {"PrimaryContainer": {"Image": "img", "ModelDataUrl": "s3://b/m.tar.gz"}}
DEFINITION = {
    "Steps": [
        {"Name": "Make", "Type": "Model", "Arguments": MODEL},
        {
            "Name": "Score",
            "Type": "Transform",
            "Arguments": {"ModelName": {"Get": "Steps.Make.ModelName"}},
            "DependsOn": ["Make"],
        },
        {"Name": "After", "Type": "Model", "Arguments": MODEL, "DependsOn": ["Score"]},
    ]
}


class RaisingApi:
    """The local API's step surface; every job raises what it was given (a Transform whose model never gets healthy
    raises a ClientError, a broken harness anything at all)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.models: list[str] = []

    def run_step_job(self, step_type: str, job_name: str, request: dict[str, Any]) -> dict[str, Any]:
        raise self.error

    def create_model(self, ModelName: str, **request: Any) -> dict[str, Any]:
        self.models.append(ModelName)
        return {"ModelArn": "arn"}

    def create_model_package(self, **request: Any) -> dict[str, Any]:
        raise AssertionError("not reached")

    def describe_model_package(self, ModelPackageName: str) -> dict[str, Any]:
        raise AssertionError("not reached")

    def read_property_file(self, step_properties: Mapping[str, Any], property_file: Mapping[str, Any]) -> Any:
        raise AssertionError("not reached")


def _statuses(run: PipelineRun) -> dict[str, tuple[str, str]]:
    return {step.name: (step.status, step.failure_reason) for step in run.steps}


def test_a_client_error_fails_the_step_and_the_execution_like_sagemaker() -> None:
    api = RaisingApi(validation_error("CreateEndpoint", "Score failed its health check: no answer on /ping"))
    events: list[tuple[str, str]] = []
    run = PipelineRun(DEFINITION, "p", {}, api, lambda r: events.append((r.name, r.status))).run()
    assert run.status == "Failed"
    reason = (
        "ClientError: An error occurred (ValidationException) when calling the CreateEndpoint operation: "
        "Score failed its health check: no answer on /ping"
    )
    assert _statuses(run)["Score"] == ("Failed", reason)
    assert run.failure_reason == f"Step failure: Score: {reason}"
    assert ("Score", "Failed") in events and "After" not in _statuses(run)  # later steps do not run
    assert len(api.models) == 1


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("the harness broke"),
        KeyError("ModelArtifacts"),
        CorruptState("/s/registry.json", "model registry", "not valid JSON"),
    ],  # its fix must reach the CLI
)
def test_an_unexpected_exception_fails_the_step_and_the_execution_then_propagates(error: Exception) -> None:
    run = PipelineRun(DEFINITION, "p", {}, RaisingApi(error), lambda r: None)
    with pytest.raises(type(error)):
        run.run()
    expected = getattr(error, "problem", None) or f"{type(error).__name__}: {error}"
    assert _statuses(run)["Score"] == ("Failed", expected)
    assert run.status == "Failed"
    assert run.failure_reason == f"Step failure: Score: {expected}"
    assert all(step.ended is not None for step in run.steps)


def test_ctrl_c_still_stops_the_step_and_the_execution() -> None:
    run = PipelineRun(DEFINITION, "p", {}, RaisingApi(KeyboardInterrupt()), lambda r: None)
    with pytest.raises(KeyboardInterrupt):
        run.run()
    assert _statuses(run)["Score"][0] == "Stopped" and run.status == "Stopped"
