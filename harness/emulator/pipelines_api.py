"""SageMaker's pipeline operations: pipelines, their executions and their steps.

StartPipelineExecution returns once the execution is Succeeded, Failed or
Stopped (the SDK's `execution.wait()` then matches a terminal state on its
first DescribePipelineExecution and never sleeps); in the asynchronous mode it
returns at once while the execution runs in the background, Executing until
it ends, and StopPipelineExecution stops it before its next step.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from harness.emulator.arns import sagemaker_arn
from harness.emulator.awserrors import failure_reason, not_found, validation_error
from harness.emulator.executor import PipelineRun, SageMakerApi, StepEvent, all_steps, validate
from harness.emulator.paging import page
from harness.emulator.pipeline_options import PipelineOptions, StepServices
from harness.emulator.replies import run_until_reply
from harness.emulator.selective import SelectivePlan
from harness.emulator.selective import plan as selective_plan
from harness.emulator.storage import EmbeddedS3, S3Uri

DEFINITION_LIMIT = 1024 * 1024  # CreatePipeline: PipelineDefinition at most 1 MB


@dataclass
class Execution:
    run: PipelineRun
    definition: str
    display_name: str
    description: str
    created: datetime


class PipelinesApi:
    def __init__(
        self,
        steps: SageMakerApi,
        s3: EmbeddedS3,
        on_event: StepEvent,
        asynchronous: bool,
        options: PipelineOptions | None = None,
        services: StepServices | None = None,
    ) -> None:
        self._options = options or PipelineOptions()
        self._services = services or StepServices()
        self._steps = steps
        self._s3 = s3
        self._on_event = on_event
        self._lock = threading.Lock()
        self._pipelines: dict[str, dict[str, Any]] = {}
        self._executions: dict[str, Execution] = {}
        self._asynchronous = asynchronous
        self._background = ThreadPoolExecutor(thread_name_prefix="pipeline")  # threads start on first use

    @property
    def runs(self) -> list[PipelineRun]:
        """Every execution started, oldest first."""
        return [execution.run for execution in self._executions.values()]

    # -- pipelines -----------------------------------------------------------------------
    def create_pipeline(self, PipelineName: str, **request: Any) -> dict[str, str]:
        definition = self._definition("CreatePipeline", request)
        with self._lock:
            if PipelineName in self._pipelines:
                raise validation_error(
                    "CreatePipeline",
                    "Pipeline names must be unique within an AWS account and region. "
                    f"Pipeline with name ({PipelineName}) already exists.",
                )
            now = datetime.now(UTC)
            self._pipelines[PipelineName] = {"CreationTime": now}
            return self._store(PipelineName, definition, request)

    def update_pipeline(self, PipelineName: str, **request: Any) -> dict[str, str]:
        self._pipeline(PipelineName, "UpdatePipeline")
        current = self._pipelines[PipelineName]
        definition = (
            self._definition("UpdatePipeline", request)
            if {"PipelineDefinition", "PipelineDefinitionS3Location"} & set(request)
            else current["PipelineDefinition"]
        )
        with self._lock:
            return self._store(PipelineName, definition, {**_kept(current), **request})

    def _store(self, name: str, definition: str, request: Mapping[str, Any]) -> dict[str, str]:
        arn = sagemaker_arn("pipeline", name)
        self._pipelines[name] |= {
            "PipelineName": name,
            "PipelineArn": arn,
            "PipelineDisplayName": request.get("PipelineDisplayName", name),
            "PipelineDefinition": definition,
            "PipelineDescription": request.get("PipelineDescription", ""),
            "RoleArn": request.get("RoleArn", ""),
            "PipelineStatus": "Active",
            "LastModifiedTime": datetime.now(UTC),
        }
        if request.get("ParallelismConfiguration"):
            self._pipelines[name]["ParallelismConfiguration"] = request["ParallelismConfiguration"]
        return {"PipelineArn": arn}

    def _definition(self, operation: str, request: Mapping[str, Any]) -> str:
        """The definition from the request or from S3 (the SDK uploads one over 100 KB), checked before storing."""
        if "PipelineDefinition" in request:
            text = str(request["PipelineDefinition"])
        elif "PipelineDefinitionS3Location" in request:
            location = request["PipelineDefinitionS3Location"]
            uri = S3Uri(str(location.get("Bucket", "")), str(location.get("ObjectKey", "")))
            if not self._s3.exists(uri):
                raise validation_error(operation, f"The pipeline definition at {uri} does not exist.")
            text = self._s3.get_bytes(uri).decode()
        else:
            raise validation_error(operation, "Either PipelineDefinition or PipelineDefinitionS3Location is required.")
        if len(text.encode()) > DEFINITION_LIMIT:
            raise validation_error(operation, "PipelineDefinition must be at most 1 MB; upload it to S3 instead.")
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as error:
            raise validation_error(operation, f"The pipeline definition is not valid JSON: {error}") from None
        if not isinstance(parsed, dict):
            raise validation_error(operation, "The pipeline definition must be a JSON object.")
        validate(parsed, self._services.lambdas)  # refuse unsupported steps before anything runs
        return text

    def describe_pipeline(self, PipelineName: str, **_: Any) -> dict[str, Any]:
        return dict(self._pipeline(PipelineName, "DescribePipeline"))

    def list_pipelines(self, **request: Any) -> dict[str, Any]:
        fields = ("PipelineArn", "PipelineName", "PipelineDisplayName", "PipelineDescription", "RoleArn",
                  "CreationTime", "LastModifiedTime", "LastExecutionTime")  # fmt: skip
        prefix = request.get("PipelineNamePrefix", "")
        summaries = [
            {k: p[k] for k in fields if k in p}
            for p in self._pipelines.values()
            if p["PipelineName"].startswith(prefix)
        ]
        return page(summaries, request, "PipelineSummaries", "PipelineName")

    def delete_pipeline(self, PipelineName: str, **_: Any) -> dict[str, str]:
        described = self._pipeline(PipelineName, "DeletePipeline")
        self._pipelines.pop(PipelineName, None)
        return {"PipelineArn": described["PipelineArn"]}

    def _pipeline(self, name: str, operation: str) -> dict[str, Any]:
        found = self._pipelines.get(name) or next(
            (p for p in self._pipelines.values() if p.get("PipelineArn") == name), None
        )
        if found is None:
            raise not_found(operation, f"Pipeline '{sagemaker_arn('pipeline', name)}' does not exist.")
        return found

    # -- executions ----------------------------------------------------------------------
    def start_pipeline_execution(self, PipelineName: str, **request: Any) -> dict[str, str]:
        pipeline = self._pipeline(PipelineName, "StartPipelineExecution")
        definition = pipeline["PipelineDefinition"]
        parsed = json.loads(definition)
        selective = self._selective(request.get("SelectiveExecutionConfig"), parsed, pipeline["PipelineName"])
        run = PipelineRun(
            parsed, pipeline["PipelineName"], _parameter_values(request), self._steps, self._on_event,
            request.get("ParallelismConfiguration") or pipeline.get("ParallelismConfiguration"),
            self._options, self._services, selective,
        )  # fmt: skip
        execution = Execution(
            run,
            definition,
            str(request.get("PipelineExecutionDisplayName") or f"execution-{int(run.started.timestamp() * 1000)}"),
            str(request.get("PipelineExecutionDescription", "")),
            run.started,
        )
        with self._lock:
            self._executions[run.arn] = execution
            pipeline["LastExecutionTime"] = run.started
        if self._asynchronous:
            self._background.submit(_run_quietly, run)
        else:  # to its end, or until the HTTP reply's deadline (harness.emulator.replies)
            run_until_reply(self._background, run.run)
        return {"PipelineExecutionArn": run.arn}

    def _selective(self, config: Any, definition: Mapping[str, Any], pipeline: str) -> SelectivePlan | None:
        if not config:
            return None
        source = str(config.get("SourcePipelineExecutionArn") or "")
        reference = self._executions.get(source)
        if source and (reference is None or reference.run.pipeline_name != pipeline):
            raise validation_error(
                "StartPipelineExecution",
                f"SourcePipelineExecutionArn {source} is not an execution of pipeline {pipeline}.",
            )
        return selective_plan(config, all_steps(definition.get("Steps", [])), pipeline,
                              reference.run if reference else None)  # fmt: skip

    def describe_pipeline_execution(self, PipelineExecutionArn: str) -> dict[str, Any]:
        execution = self._execution(PipelineExecutionArn, "DescribePipelineExecution")
        run = execution.run
        described: dict[str, Any] = {
            "PipelineArn": sagemaker_arn("pipeline", run.pipeline_name),
            "PipelineExecutionArn": run.arn,
            "PipelineExecutionDisplayName": execution.display_name,
            "PipelineExecutionDescription": execution.description,
            "PipelineExecutionStatus": run.status,
            "CreationTime": execution.created,
            "LastModifiedTime": max((s.ended or s.started for s in run.steps), default=execution.created),
        }
        if run.failure_reason:
            described["FailureReason"] = run.failure_reason
        if run.parallelism:
            described["ParallelismConfiguration"] = dict(run.parallelism)
        if run.selective:
            described["SelectiveExecutionConfig"] = dict(run.selective.config)
        return described

    def list_pipeline_executions(self, PipelineName: str, **request: Any) -> dict[str, Any]:
        pipeline = self._pipeline(PipelineName, "ListPipelineExecutions")
        summaries = []
        for execution in list(self._executions.values()):
            if execution.run.pipeline_name != pipeline["PipelineName"]:
                continue
            summary = {
                "PipelineExecutionArn": execution.run.arn,
                "StartTime": execution.created,
                "PipelineExecutionStatus": execution.run.status,
                "PipelineExecutionDescription": execution.description,
                "PipelineExecutionDisplayName": execution.display_name,
            }
            if execution.run.failure_reason:
                summary["PipelineExecutionFailureReason"] = execution.run.failure_reason
            summaries.append(summary)
        return page(summaries, request, "PipelineExecutionSummaries", "PipelineExecutionDisplayName", "StartTime")

    def list_pipeline_execution_steps(self, PipelineExecutionArn: str, **request: Any) -> dict[str, Any]:
        run = self._execution(PipelineExecutionArn, "ListPipelineExecutionSteps").run
        steps = [step.as_api() for step in list(run.steps)]
        ascending = request.get("SortOrder") == "Ascending"
        ordered = steps if ascending else list(reversed(steps))  # newest first by default, as AWS lists them
        start, size = int(request.get("NextToken") or 0), int(request.get("MaxResults") or 50)
        reply: dict[str, Any] = {"PipelineExecutionSteps": ordered[start : start + size]}
        if start + size < len(ordered):
            reply["NextToken"] = str(start + size)
        return reply

    def describe_pipeline_definition_for_execution(self, PipelineExecutionArn: str) -> dict[str, Any]:
        execution = self._execution(PipelineExecutionArn, "DescribePipelineDefinitionForExecution")
        return {"PipelineDefinition": execution.definition, "CreationTime": execution.created}

    def list_pipeline_parameters_for_execution(self, PipelineExecutionArn: str, **_: Any) -> dict[str, Any]:
        run = self._execution(PipelineExecutionArn, "ListPipelineParametersForExecution").run
        return {"PipelineParameters": [{"Name": k, "Value": _as_text(v)} for k, v in run.parameters.items()]}

    def stop_pipeline_execution(self, PipelineExecutionArn: str, **_: Any) -> dict[str, str]:
        run = self._execution(PipelineExecutionArn, "StopPipelineExecution").run
        if run.status != "Executing":
            raise validation_error(
                "StopPipelineExecution",
                f"Pipeline execution {run.arn} is in status {run.status} and cannot be stopped.",
            )
        run.request_stop()
        return {"PipelineExecutionArn": run.arn}

    def send_pipeline_execution_step_success(
        self, CallbackToken: str, OutputParameters: list[dict[str, Any]] | None = None, **_: Any
    ) -> dict[str, str]:
        arn = self._services.callbacks.succeed(
            "SendPipelineExecutionStepSuccess", CallbackToken, OutputParameters or []
        )
        return {"PipelineExecutionArn": arn}

    def send_pipeline_execution_step_failure(
        self, CallbackToken: str, FailureReason: str = "", **_: Any
    ) -> dict[str, str]:
        arn = self._services.callbacks.fail("SendPipelineExecutionStepFailure", CallbackToken, FailureReason)
        return {"PipelineExecutionArn": arn}

    def _execution(self, arn: str, operation: str) -> Execution:
        execution = self._executions.get(arn)
        if execution is None:
            raise not_found(operation, f"Pipeline execution '{arn}' does not exist.")
        return execution

    def close(self) -> None:
        for run in self.runs:
            if run.status == "Executing":
                run.request_stop()
        self._background.shutdown(wait=True)


def _kept(current: Mapping[str, Any]) -> dict[str, Any]:
    """What UpdatePipeline keeps when the request leaves it out."""
    keys = ("PipelineDisplayName", "PipelineDescription", "RoleArn", "ParallelismConfiguration")
    return {k: current[k] for k in keys if k in current}


def _parameter_values(request: Mapping[str, Any]) -> dict[str, Any]:
    return {item["Name"]: item["Value"] for item in request.get("PipelineParameters") or []}


def _as_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _run_quietly(run: PipelineRun) -> None:
    """A background execution: its failure is in its status; a bug is in its FailureReason."""
    try:
        run.run()
    except Exception as error:  # noqa: BLE001 (the run is already marked Failed; nobody is waiting to catch it)
        run.failure_reason = run.failure_reason or failure_reason(error)
