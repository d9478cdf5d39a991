"""The SDK's local-mode door to the emulator: in-process clients over the same
control plane the local AWS endpoint serves.

`LocalSageMakerClient` stands where `session.sagemaker_client` stands in the
SDK, `LocalRuntimeClient` where `session.sagemaker_runtime_client` stands.
Errors are botocore `ClientError`s, as user code expects from AWS. An
operation the harness does not implement fails with a message naming it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import WaiterError
from botocore.response import StreamingBody

from harness.emulator.controlplane import SageMakerControlPlane, operation_name
from harness.emulator.executor import PipelineRun
from harness.emulator.hosting import EndpointHost
from harness.emulator.runner import JobOutcome
from harness.errors import UserError


class LocalExecution:
    """What `Pipeline.start()` returns; the run has finished when it is returned."""

    def __init__(self, run: PipelineRun, control: SageMakerControlPlane) -> None:
        self.run = run
        self.arn = run.arn
        self._control = control

    def describe(self) -> dict[str, Any]:
        return self._control.pipelines.describe_pipeline_execution(PipelineExecutionArn=self.arn)

    def list_steps(self) -> list[dict[str, Any]]:
        return [step.as_api() for step in reversed(self.run.steps)]  # newest first, as AWS lists them

    def wait(self, delay: int = 30, max_attempts: int = 60) -> None:
        """The SDK's `execution.wait()`: botocore's waiter error when the execution failed, as in the cloud."""
        if self.run.status in ("Failed", "Stopped"):
            last: Any = self.describe()  # botocore's stubs type the last response as an error response
            raise WaiterError(
                name="PipelineExecutionComplete",
                reason="Waiter encountered a terminal failure state: For expression "
                f'"PipelineExecutionStatus" we matched expected path: "{self.run.status}"',
                last_response=last,
            )


ENDPOINT_WAITERS = ("endpoint_in_service", "endpoint_deleted")


class EndpointWaiter:
    """`client.get_waiter("endpoint_deleted" | "endpoint_in_service").wait(EndpointName=...)`, as boto3's."""

    def __init__(self, name: str, endpoints: EndpointHost) -> None:
        self.name = name
        self._endpoints = endpoints

    def wait(self, EndpointName: str, WaiterConfig: Mapping[str, Any] | None = None) -> None:
        config = WaiterConfig or {}
        timeout_s = float(config.get("Delay", 30)) * float(config.get("MaxAttempts", 60))
        if self.name == "endpoint_deleted":
            if not self._endpoints.wait_deleted(EndpointName, timeout_s):
                self._fail(EndpointName, "Max attempts exceeded")
            return
        found = self._endpoints.status(EndpointName)
        if found is None:  # boto3's endpoint_in_service fails at once on a ValidationException
            self._fail(
                EndpointName,
                "Waiter encountered a terminal failure state: Matched expected service error code: ValidationException",
            )
        elif found[1] != "InService":  # Deleting or Failed: it never comes back into service
            self._fail(EndpointName, f"Waiter encountered a terminal failure state: EndpointStatus {found[1]}")

    def _fail(self, endpoint: str, reason: str) -> None:
        waiter = "".join(part.title() for part in self.name.split("_"))
        found = self._endpoints.status(endpoint)
        last: Any = {"EndpointName": endpoint, "EndpointStatus": found[1]} if found else {}  # the last describe
        raise WaiterError(name=waiter, reason=reason, last_response=last)


class LocalSageMakerClient:
    """The SDK's local-mode face of the control plane: the operations by their boto3 names, plus the forms only
    the SDK's local mode uses (a Pipeline object for create/update, an execution object back from start)."""

    def __init__(self, control: SageMakerControlPlane, endpoints: EndpointHost) -> None:
        self.control = control
        self._endpoints = endpoints

    @property
    def outcomes(self) -> dict[str, JobOutcome]:
        return self.control.jobs.outcomes

    @property
    def executions(self) -> list[PipelineRun]:
        return self.control.pipelines.runs

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        if operation.startswith("_"):
            raise AttributeError(operation)
        name = operation_name(operation)
        if self.control.implements(name):
            return lambda **request: self.control.call(name, request)

        def unsupported(*_: Any, **__: Any) -> Any:
            raise UserError(
                f"the SageMaker operation {operation} is not supported by the local harness",
                fix="run it against AWS, or open an issue naming the operation",
            )

        return unsupported

    def run_step_job(self, step_type: str, job_name: str, request: dict[str, Any]) -> dict[str, Any]:
        return self.control.run_step_job(step_type, job_name, request)

    def get_waiter(self, waiter_name: str) -> EndpointWaiter:
        """boto3's endpoint waiters; they return once the state is reached (nothing here needs polling)."""
        if waiter_name not in ENDPOINT_WAITERS:
            raise UserError(
                f"the SageMaker waiter {waiter_name} is not supported by the local harness",
                fix=f"supported waiters: {', '.join(ENDPOINT_WAITERS)}; or poll the describe call yourself",
            )
        return EndpointWaiter(waiter_name, self._endpoints)

    # -- the SDK's local-mode pipeline calls ----------------------------------------------------
    def create_pipeline(
        self, pipeline: Any = None, pipeline_description: str | None = None, **request: Any
    ) -> dict[str, str]:
        return self.control.pipelines.create_pipeline(**_pipeline_request(pipeline, pipeline_description, request))

    def update_pipeline(
        self, pipeline: Any = None, pipeline_description: str | None = None, **request: Any
    ) -> dict[str, str]:
        return self.control.pipelines.update_pipeline(**_pipeline_request(pipeline, pipeline_description, request))

    def start_pipeline_execution(
        self, PipelineName: str, PipelineParameters: Any = None, **options: Any
    ) -> LocalExecution:
        values = _parameter_values(PipelineParameters)
        arn = self.control.pipelines.start_pipeline_execution(
            PipelineName=PipelineName,
            PipelineParameters=[{"Name": k, "Value": v} for k, v in values.items()],
            **options,  # display name, description, ParallelismConfiguration
        )["PipelineExecutionArn"]
        return LocalExecution(next(run for run in self.executions if run.arn == arn), self.control)


class LocalRuntimeClient:
    def __init__(self, endpoints: EndpointHost) -> None:
        self._endpoints = endpoints

    def invoke_endpoint(
        self,
        EndpointName: str,
        Body: Any,
        ContentType: str = "application/octet-stream",
        Accept: str | None = None,
        CustomAttributes: str | None = None,
        InferenceId: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        payload = Body.read() if hasattr(Body, "read") else Body
        payload = payload.encode() if isinstance(payload, str) else bytes(payload)
        answer = self._endpoints.invoke(EndpointName, payload, ContentType, Accept, CustomAttributes, InferenceId)
        body = answer.pop("Body")
        answer["Body"] = StreamingBody(io.BytesIO(body), len(body))
        answer["ResponseMetadata"] = {"HTTPStatusCode": 200}
        return {k: v for k, v in answer.items() if v is not None}


def _pipeline_request(pipeline: Any, description: str | None, request: Mapping[str, Any]) -> dict[str, Any]:
    if pipeline is None:
        return dict(request)
    # The SDK's local-mode call passes the Pipeline object itself.
    return {"PipelineName": str(pipeline.name), "PipelineDefinition": str(pipeline.definition()),
            "PipelineDescription": description or ""}  # fmt: skip


def _parameter_values(parameters: Any) -> dict[str, Any]:
    if parameters is None:
        return {}
    if isinstance(parameters, Mapping):
        return dict(parameters)
    return {item["Name"]: item["Value"] for item in parameters}  # the boto shape: [{"Name", "Value"}]
