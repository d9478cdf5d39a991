"""Model Monitor's control plane: data and model quality job definitions, monitoring schedules and their
executions.

A schedule does not run on its clock locally (nobody waits an hour in a test): `sagemaker-harness monitor run`
runs one execution of it now, over a window of the endpoint's captured records. A schedule whose expression is
`NOW` (the service's one-time monitoring) runs its execution when it is created, as in the service; by default
CreateMonitoringSchedule answers once that execution ended (the asynchronous mode answers at once). Each execution is
a processing job on the definition's image (AWS's analyzer: the stand-in), which DescribeProcessingJob and the
SDK's `MonitoringExecution` read as they do in the cloud.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from harness.emulator.arns import sagemaker_arn
from harness.emulator.awserrors import client_error, failure_reason, not_found, validation_error
from harness.emulator.hosting import EndpointHost
from harness.emulator.jobs_api import JobsApi
from harness.emulator.monitoring_run import (
    NO_DATA,
    CaptureFolder,
    JobDefinition,
    capture_folders,
    execution_job_name,
    execution_status,
    merge_ground_truth,
    processing_request,
    window,
)
from harness.emulator.paging import page
from harness.emulator.replies import run_until_reply
from harness.emulator.storage import EmbeddedS3, S3Uri

MONITORING_TYPES = ("DataQuality", "ModelQuality")
_EXECUTION_FIELDS = ("MonitoringScheduleName", "ScheduledTime", "CreationTime", "LastModifiedTime",
                     "MonitoringExecutionStatus", "ProcessingJobArn", "EndpointName", "FailureReason",
                     "MonitoringJobDefinitionName", "MonitoringType")  # fmt: skip


class MonitoringApi:
    def __init__(self, jobs: JobsApi, endpoints: EndpointHost, s3: EmbeddedS3, on_notice: Callable[[str], None],
                 asynchronous: bool = False) -> None:  # fmt: skip
        self._jobs = jobs
        self._asynchronous = asynchronous
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitoring")
        self._endpoints = endpoints
        self._s3 = s3
        self._notice = on_notice
        self._lock = threading.Lock()
        self._definitions: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in MONITORING_TYPES}
        self._schedules: dict[str, dict[str, Any]] = {}
        self._captures: dict[str, tuple[str, str]] = {}  # schedule -> (capture destination, variant) at creation
        self._executions: dict[str, list[dict[str, Any]]] = {}  # schedule -> executions, oldest first

    # -- job definitions -----------------------------------------------------------------
    def create_data_quality_job_definition(self, JobDefinitionName: str, **request: Any) -> dict[str, str]:
        return self._create_definition("DataQuality", JobDefinitionName, request)

    def describe_data_quality_job_definition(self, JobDefinitionName: str) -> dict[str, Any]:
        return self._definition("DataQuality", JobDefinitionName, "DescribeDataQualityJobDefinition")

    def delete_data_quality_job_definition(self, JobDefinitionName: str) -> dict[str, Any]:
        return self._delete_definition("DataQuality", JobDefinitionName)

    def list_data_quality_job_definitions(self, **request: Any) -> dict[str, Any]:
        return self._list_definitions("DataQuality", request)

    def create_model_quality_job_definition(self, JobDefinitionName: str, **request: Any) -> dict[str, str]:
        return self._create_definition("ModelQuality", JobDefinitionName, request)

    def describe_model_quality_job_definition(self, JobDefinitionName: str) -> dict[str, Any]:
        return self._definition("ModelQuality", JobDefinitionName, "DescribeModelQualityJobDefinition")

    def delete_model_quality_job_definition(self, JobDefinitionName: str) -> dict[str, Any]:
        return self._delete_definition("ModelQuality", JobDefinitionName)

    def list_model_quality_job_definitions(self, **request: Any) -> dict[str, Any]:
        return self._list_definitions("ModelQuality", request)

    def _create_definition(self, kind: str, name: str, request: Mapping[str, Any]) -> dict[str, str]:
        operation = f"Create{kind}JobDefinition"
        JobDefinition.from_typed(kind, name, request)  # refused now, not at the first execution
        arn = sagemaker_arn(f"{_arn_kind(kind)}-job-definition", name)
        with self._lock:
            if name in self._definitions[kind]:
                raise client_error(operation, "ResourceInUse", f"Job definition {arn} already exists.")
            self._definitions[kind][name] = {
                **request, "JobDefinitionName": name, "JobDefinitionArn": arn, "CreationTime": datetime.now(UTC)
            }  # fmt: skip
        return {"JobDefinitionArn": arn}

    def _definition(self, kind: str, name: str, operation: str) -> dict[str, Any]:
        with self._lock:
            found = self._definitions[kind].get(name)
        if found is None:
            raise not_found(operation, f"Job definition {sagemaker_arn(f'{_arn_kind(kind)}-job-definition', name)} "
                            "does not exist.")  # fmt: skip
        return dict(found)

    def _delete_definition(self, kind: str, name: str) -> dict[str, Any]:
        self._definition(kind, name, f"Delete{kind}JobDefinition")
        with self._lock:
            self._definitions[kind].pop(name, None)
        return {}

    def _list_definitions(self, kind: str, request: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            items = [{"MonitoringJobDefinitionName": d["JobDefinitionName"],
                      "MonitoringJobDefinitionArn": d["JobDefinitionArn"], "CreationTime": d["CreationTime"],
                      "EndpointName": JobDefinition.from_typed(kind, d["JobDefinitionName"], d).endpoint}
                     for d in self._definitions[kind].values()]  # fmt: skip
        return page(items, request, "JobDefinitionSummaries", "MonitoringJobDefinitionName")

    # -- schedules -----------------------------------------------------------------------
    def create_monitoring_schedule(self, MonitoringScheduleName: str, MonitoringScheduleConfig: Mapping[str, Any],
                                   **_: Any) -> dict[str, str]:  # fmt: skip
        name, operation = MonitoringScheduleName, "CreateMonitoringSchedule"
        definition = self._job_definition(dict(MonitoringScheduleConfig), operation)
        capture = self._capture_of(definition.endpoint, operation)
        arn = sagemaker_arn("monitoring-schedule", name)
        now = datetime.now(UTC)
        with self._lock:
            if name in self._schedules:
                raise client_error(operation, "ResourceInUse", f"Monitoring schedule {arn} already exists.")
            self._schedules[name] = {
                "MonitoringScheduleArn": arn,
                "MonitoringScheduleName": name,
                "MonitoringScheduleStatus": "Scheduled",
                "MonitoringType": definition.monitoring_type,
                "CreationTime": now,
                "LastModifiedTime": now,
                "MonitoringScheduleConfig": dict(MonitoringScheduleConfig),
                "EndpointName": definition.endpoint,
            }
            self._captures[name] = capture
            self._executions.setdefault(name, [])
        expression = str((MonitoringScheduleConfig.get("ScheduleConfig") or {}).get("ScheduleExpression", ""))
        if expression == "NOW":  # the service's one-time schedule: its execution runs now (to its end, by default)
            schedule = MonitoringScheduleConfig.get("ScheduleConfig") or {}
            start, end = schedule.get("DataAnalysisStartTime"), schedule.get("DataAnalysisEndTime")
            work = functools.partial(self._run_quietly, name, start, end)
            if self._asynchronous:
                self._background.submit(work)
            else:
                run_until_reply(self._background, work)
        else:
            self._notice(
                f"harness: monitoring schedule {name} ({expression or 'no expression'}) does not run on its clock "
                f"locally; run an execution now with `sagemaker-harness monitor run {name}`"
            )
        return {"MonitoringScheduleArn": arn}

    def describe_monitoring_schedule(self, MonitoringScheduleName: str) -> dict[str, Any]:
        schedule = self._schedule(MonitoringScheduleName, "DescribeMonitoringSchedule")
        with self._lock:
            executions = list(self._executions.get(MonitoringScheduleName, []))
        if executions:
            schedule["LastMonitoringExecutionSummary"] = _summary(executions[-1])
        return schedule

    def list_monitoring_schedules(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            items = [{key: s[key] for key in ("MonitoringScheduleName", "MonitoringScheduleArn", "CreationTime",
                      "LastModifiedTime", "MonitoringScheduleStatus", "EndpointName", "MonitoringType")}
                     for s in self._schedules.values()]  # fmt: skip
        endpoint = request.get("EndpointName")
        items = [item for item in items if endpoint in (None, item["EndpointName"])]
        return page(items, request, "MonitoringScheduleSummaries", "MonitoringScheduleName")

    def update_monitoring_schedule(self, MonitoringScheduleName: str, MonitoringScheduleConfig: Mapping[str, Any],
                                   **_: Any) -> dict[str, str]:  # fmt: skip
        operation = "UpdateMonitoringSchedule"
        self._schedule(MonitoringScheduleName, operation)
        definition = self._job_definition(dict(MonitoringScheduleConfig), operation)
        capture = self._capture_of(definition.endpoint, operation)
        with self._lock:
            stored = self._schedules[MonitoringScheduleName]
            stored.update(MonitoringScheduleConfig=dict(MonitoringScheduleConfig), LastModifiedTime=datetime.now(UTC),
                          EndpointName=definition.endpoint, MonitoringType=definition.monitoring_type)  # fmt: skip
            self._captures[MonitoringScheduleName] = capture
        return {"MonitoringScheduleArn": stored["MonitoringScheduleArn"]}

    def delete_monitoring_schedule(self, MonitoringScheduleName: str) -> dict[str, Any]:
        self._schedule(MonitoringScheduleName, "DeleteMonitoringSchedule")
        with self._lock:
            self._schedules.pop(MonitoringScheduleName, None)
            self._executions.pop(MonitoringScheduleName, None)
        return {}

    def start_monitoring_schedule(self, MonitoringScheduleName: str) -> dict[str, Any]:
        return self._set_status(MonitoringScheduleName, "Scheduled", "StartMonitoringSchedule")

    def stop_monitoring_schedule(self, MonitoringScheduleName: str) -> dict[str, Any]:
        return self._set_status(MonitoringScheduleName, "Stopped", "StopMonitoringSchedule")

    def list_monitoring_executions(self, **request: Any) -> dict[str, Any]:
        schedule, endpoint = request.get("MonitoringScheduleName"), request.get("EndpointName")
        with self._lock:
            found = [_summary(e) for name, executions in self._executions.items() for e in executions
                     if schedule in (None, name) and endpoint in (None, e.get("EndpointName"))]  # fmt: skip
        sort = {"Status": "MonitoringExecutionStatus", "CreationTime": "CreationTime"}.get(
            str(request.get("SortBy")), "ScheduledTime"
        )
        return page(found, {**request, "SortBy": None}, "MonitoringExecutionSummaries", "MonitoringScheduleName", sort)

    # -- executions (sagemaker-harness monitor run) --------------------------------------
    def run_monitoring_schedule(self, MonitoringScheduleName: str, DataAnalysisStartTime: str | None = None,
                                DataAnalysisEndTime: str | None = None) -> dict[str, Any]:  # fmt: skip
        """One execution of the schedule now, over [start, end) (by default the last hour); its summary."""
        name, operation = MonitoringScheduleName, "RunMonitoringSchedule"
        schedule = self._schedule(name, operation)
        definition = self._job_definition(schedule["MonitoringScheduleConfig"], operation)
        now = datetime.now(UTC)
        span = window(DataAnalysisStartTime or definition.start_offset or None,
                      DataAnalysisEndTime or definition.end_offset or None, now)  # fmt: skip
        destination, variant = self._capture_now(name, definition.endpoint)
        folders = [f for f in capture_folders(definition, S3Uri.parse(destination), variant, span)
                   if self._s3.keys(f.prefix)]  # fmt: skip
        if folders and definition.monitoring_type == "ModelQuality":
            folders = self._merged(definition, name, folders, now)
        execution: dict[str, Any] = {
            "MonitoringScheduleName": name, "ScheduledTime": now, "CreationTime": now, "LastModifiedTime": now,
            "EndpointName": definition.endpoint, "MonitoringType": definition.monitoring_type,
            "MonitoringExecutionStatus": "InProgress",
            **({"MonitoringJobDefinitionName": definition.name} if definition.name else {}),
        }  # fmt: skip
        with self._lock:
            self._executions.setdefault(name, []).append(execution)
        if not folders:  # as the service ends an execution whose window has no captured records
            execution.update(MonitoringExecutionStatus="Failed", FailureReason=NO_DATA, LastModifiedTime=now)
            return _summary(execution)
        job = execution_job_name(name, now)
        execution["ProcessingJobArn"] = sagemaker_arn("processing-job", job)
        request = processing_request(job, name, definition, folders, span, now)
        try:
            description = self._jobs.run_step_job("Processing", job, request)
        except Exception as error:  # noqa: BLE001 (a refused job: the execution fails with its reason)
            execution.update(MonitoringExecutionStatus="Failed", FailureReason=failure_reason(error))
            return _summary(execution)
        report = S3Uri.parse(request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"])
        violations = self._violations(report.join("constraint_violations.json"))
        execution.update(MonitoringExecutionStatus=execution_status(description, violations),
                         LastModifiedTime=datetime.now(UTC))  # fmt: skip
        if description.get("FailureReason"):
            execution["FailureReason"] = description["FailureReason"]
        summary = _summary(execution)
        # Not in AWS's summary: what `monitor run` and run-local print, without reading the report again.
        summary["ViolationCount"] = len(violations or [])
        summary["Violations"] = violations or []
        summary["ReportUri"] = str(report)
        return summary

    def _merged(self, definition: JobDefinition, schedule: str, folders: list[CaptureFolder],
                scheduled: datetime) -> list[CaptureFolder]:  # fmt: skip
        """Model quality: the window's records merged with their ground truth, as one folder (none: no data)."""
        captured = [self._s3.get_bytes(S3Uri(f.prefix.bucket, key)) for f in folders for key in self._s3.keys(f.prefix)]
        truth_prefix = S3Uri.parse(definition.ground_truth_uri)
        truth = [self._s3.get_bytes(S3Uri(truth_prefix.bucket, key)) for key in self._s3.keys(truth_prefix)]
        merged = merge_ground_truth(captured, truth)
        if not merged:
            return []
        hour = f"{scheduled:%Y/%m/%d/%H}"
        target = S3Uri.parse(definition.output_uri).join(definition.endpoint, schedule, "merged", hour)
        self._s3.put_bytes(merged, target.join("merged.jsonl"))
        return [CaptureFolder(target, folders[0].local)]

    def _run_quietly(self, name: str, start: str | None, end: str | None) -> None:
        try:
            self.run_monitoring_schedule(name, start, end)
        except Exception as error:  # noqa: BLE001 (a background execution: its failure is a notice, not a crash)
            self._notice(f"harness: monitoring schedule {name}'s execution failed: {failure_reason(error)}")

    def close(self) -> None:
        # Not waiting: a running execution's job ends when the jobs close, after this.
        self._background.shutdown(wait=False, cancel_futures=True)

    # -- shared --------------------------------------------------------------------------
    def _job_definition(self, config: Mapping[str, Any], operation: str) -> JobDefinition:
        kind = str(config.get("MonitoringType") or "DataQuality")
        if kind not in MONITORING_TYPES:
            raise validation_error(
                operation,
                f"MonitoringType {kind} is not monitored locally (only {', '.join(MONITORING_TYPES)}; bias and "
                "explainability monitoring run AWS's Clarify container)",
            )
        if config.get("MonitoringJobDefinition"):
            return JobDefinition.from_inline(kind, config["MonitoringJobDefinition"])
        name = str(config.get("MonitoringJobDefinitionName") or "")
        if not name:
            raise validation_error(operation, "MonitoringScheduleConfig needs MonitoringJobDefinition or "
                                   "MonitoringJobDefinitionName")  # fmt: skip
        return JobDefinition.from_typed(kind, name, self._definition(kind, name, operation))

    def _capture_of(self, endpoint: str, operation: str) -> tuple[str, str]:
        """The endpoint's capture destination and variant; refused, as the service refuses, without capture."""
        found = self._endpoints.status(endpoint)
        if found is None:
            raise validation_error(operation, f'Could not find endpoint "{sagemaker_arn("endpoint", endpoint)}".')
        served, _ = found
        if served.capture is None or not served.capture.capture_input:
            raise validation_error(
                operation,
                f"Endpoint {endpoint} does not capture its requests (DataCaptureConfig.EnableCapture with the "
                "Input capture mode): Model Monitor analyses captured data. Deploy with "
                "data_capture_config=DataCaptureConfig(enable_capture=True, ...)",
            )
        return str(served.capture.destination), served.variant

    def _capture_now(self, schedule: str, endpoint: str) -> tuple[str, str]:
        """The endpoint's capture as it is now, else as it was when the schedule was made (the endpoint deleted
        since: its captured records are still in S3)."""
        found = self._endpoints.status(endpoint)
        if found is not None and found[0].capture is not None:
            return str(found[0].capture.destination), found[0].variant
        with self._lock:
            return self._captures[schedule]

    def _violations(self, uri: S3Uri) -> list[Any] | None:
        if not self._s3.exists(uri):
            return None
        return list(json.loads(self._s3.get_bytes(uri)).get("violations", []))

    def _schedule(self, name: str, operation: str) -> dict[str, Any]:
        with self._lock:
            found = self._schedules.get(name)
        if found is None:
            raise not_found(operation, f"Monitoring schedule {sagemaker_arn('monitoring-schedule', name)} does not "
                            "exist.")  # fmt: skip
        return dict(found)

    def _set_status(self, name: str, status: str, operation: str) -> dict[str, Any]:
        self._schedule(name, operation)
        with self._lock:
            self._schedules[name].update(MonitoringScheduleStatus=status, LastModifiedTime=datetime.now(UTC))
        return {}


def _summary(execution: Mapping[str, Any]) -> dict[str, Any]:
    return {key: execution[key] for key in _EXECUTION_FIELDS if key in execution}


def _arn_kind(kind: str) -> str:
    return {"DataQuality": "data-quality", "ModelQuality": "model-quality"}[kind]
