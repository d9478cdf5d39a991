"""Any exception inside a step ends the step and the execution as Failed, never "Executing"; the FailureReason
says what SageMaker would say (AWS's message, the harness's problem) and holds at most 1024 characters."""

from __future__ import annotations

from typing import Any

import pytest
from support import UnusedStepApi

from harness.emulator.awserrors import FAILURE_REASON_LIMIT, failure_reason, validation_error
from harness.emulator.executor import PipelineRun
from harness.errors import ContractViolation, CorruptState, JobFailed

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
UNHEALTHY = "ClientError: Score failed its health check: no answer on /ping"


class FakeApi(UnusedStepApi):
    """The local API's step surface, as the real one behaves: a Transform whose model never gets healthy is a Failed
    job (run_transform catches the ClientError); `job_error` is what a broken harness raises from any job, and
    `model_error` what CreateModel raises (a rejected request raises, as in boto3)."""

    def __init__(self, job_error: BaseException | None = None, model_error: BaseException | None = None) -> None:
        self.job_error = job_error
        self.model_error = model_error
        self.models: list[str] = []

    def run_step_job(self, step_type: str, job_name: str, request: dict[str, Any]) -> dict[str, Any]:
        if self.job_error is not None:
            raise self.job_error
        return {"TransformJobStatus": "Failed", "FailureReason": UNHEALTHY, "TransformJobArn": f"arn:{job_name}"}

    def create_model(self, ModelName: str, **request: Any) -> dict[str, Any]:
        if self.model_error is not None:
            raise self.model_error
        self.models.append(ModelName)
        return {"ModelArn": "arn"}


def _statuses(run: PipelineRun) -> dict[str, tuple[str, str]]:
    return {step.name: (step.status, step.failure_reason) for step in run.steps}


def test_a_failed_transform_job_fails_the_step_and_the_execution_like_sagemaker() -> None:
    api = FakeApi()
    events: list[tuple[str, str]] = []
    run = PipelineRun(DEFINITION, "p", {}, api, lambda r: events.append((r.name, r.status))).run()
    assert run.status == "Failed"
    assert _statuses(run)["Score"] == ("Failed", UNHEALTHY)
    assert run.failure_reason == f"Step failure: Score: {UNHEALTHY}"
    assert ("Score", "Failed") in events and "After" not in _statuses(run)  # later steps do not run
    assert len(api.models) == 1


def test_a_rejected_request_fails_the_step_with_aws_message() -> None:
    error = validation_error("CreateModel", "Could not find model data at s3://b/m.tar.gz.")
    run = PipelineRun(DEFINITION, "p", {}, FakeApi(model_error=error), lambda r: None).run()
    reason = "ClientError: Could not find model data at s3://b/m.tar.gz."
    assert _statuses(run) == {"Make": ("Failed", reason)}
    assert (run.status, run.failure_reason) == ("Failed", f"Step failure: Make: {reason}")


@pytest.mark.parametrize(
    "error",
    [JobFailed("training job t failed: exit code 1"), ContractViolation("the image listens on 8081, not 8080")],
)
def test_a_harness_error_fails_the_step_with_its_problem_not_its_class(error: JobFailed | ContractViolation) -> None:
    run = PipelineRun(DEFINITION, "p", {}, FakeApi(job_error=error), lambda r: None).run()
    assert _statuses(run)["Score"] == ("Failed", error.problem)
    assert run.failure_reason == f"Step failure: Score: {error.problem}"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (RuntimeError("the harness broke"), "RuntimeError: the harness broke"),
        (KeyError("ModelArtifacts"), "KeyError: 'ModelArtifacts'"),
        (
            CorruptState("/s/registry.json", "model registry", "not valid JSON"),  # its fix must reach the CLI
            "the model registry /s/registry.json is corrupt or was edited by hand (not valid JSON)",
        ),
    ],
)
def test_an_unexpected_exception_fails_the_step_and_the_execution_then_propagates(
    error: Exception, expected: str
) -> None:
    run = PipelineRun(DEFINITION, "p", {}, FakeApi(job_error=error), lambda r: None)
    with pytest.raises(type(error)):
        run.run()
    assert _statuses(run)["Score"] == ("Failed", expected)
    assert run.status == "Failed"
    assert run.failure_reason == f"Step failure: Score: {expected}"
    assert all(step.ended is not None for step in run.steps)


def test_failure_reasons_are_capped_at_1024_characters() -> None:
    tail = "\n".join(f"log line {n}: " + "x" * 60 for n in range(60))  # a CreateEndpoint health message with logs
    run = PipelineRun(DEFINITION, "p", {}, FakeApi(model_error=validation_error("CreateModel", tail)), lambda r: None)
    reason = run.run().steps[0].failure_reason
    assert len(reason) == FAILURE_REASON_LIMIT == 1024 and reason.startswith("ClientError: log line 0: ")
    fail = {"Steps": [{"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": "y" * 3072}}]}
    stopped = PipelineRun(fail, "p", {}, FakeApi(), lambda r: None).run()
    assert stopped.steps[0].failure_reason == "y" * 1024
    assert stopped.failure_reason == "Step failure: Stop: " + "y" * 1024


def test_failure_reason_for_each_kind_of_error() -> None:
    assert failure_reason(validation_error("CreateEndpoint", "no answer on /ping")) == "ClientError: no answer on /ping"
    assert failure_reason(JobFailed("job j failed", fix="read the logs")) == "job j failed"
    assert failure_reason(ValueError("bad")) == "ValueError: bad"
    assert len(failure_reason(JobFailed("z" * 5000))) == 1024


def test_ctrl_c_still_stops_the_step_and_the_execution() -> None:
    run = PipelineRun(DEFINITION, "p", {}, FakeApi(job_error=KeyboardInterrupt()), lambda r: None)
    with pytest.raises(KeyboardInterrupt):
        run.run()
    assert _statuses(run)["Score"][0] == "Stopped" and run.status == "Stopped"
