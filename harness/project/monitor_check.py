"""run-local's monitoring pass: Model Monitor on the deployed endpoint, as a team sets it up in the cloud.

A data-quality schedule on the endpoint with the pipeline's own baseline (its QualityCheck step's calculated
statistics and constraints), one execution over the requests the run sent (which must be clean), then the
deliberately drifted payloads and a second execution over them alone (which must report violations).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness.emulator.environment import LocalEnvironment
from harness.emulator.storage import S3Uri
from harness.errors import UserError

HOURLY = "cron(0 * ? * * *)"  # as AWS's examples schedule data quality


def monitoring_pass(
    env: LocalEnvironment,
    endpoint: str,
    role: str,
    baseline_step: str,
    step_properties: Mapping[str, Any],
    drifted: list[Path],
    window_start: datetime,
    on_line: Callable[[str], None],
    preprocessor: Path | None = None,
) -> dict[str, Any]:
    """Both executions' outcomes, for the run record; the schedule and its definition are deleted after."""
    baseline = step_properties.get(baseline_step)
    if baseline is None or "CalculatedBaselineConstraints" not in baseline:
        raise UserError(
            f"[tool.harness.run-local] monitor-baseline names {baseline_step!r}, which is not a QualityCheck step "
            "this execution ran",
            fix="name the pipeline's data-quality check step",
        )
    client = env.client
    name = f"{endpoint}-data-quality"[:63]
    app: dict[str, Any] = {"ImageUri": _analyzer_image(env, baseline_step)}
    if preprocessor is not None:  # uploaded as the SDK uploads it (create_monitoring_schedule's local path)
        script = S3Uri(env.bucket, f"monitoring/code/{preprocessor.name}")
        env.s3.put_file(preprocessor, script)
        app["RecordPreprocessorSourceUri"] = str(script)
    client.create_data_quality_job_definition(
        JobDefinitionName=name,
        DataQualityAppSpecification=app,
        DataQualityBaselineConfig={
            "ConstraintsResource": {"S3Uri": baseline["CalculatedBaselineConstraints"]},
            "StatisticsResource": {"S3Uri": baseline["CalculatedBaselineStatistics"]},
        },
        DataQualityJobInput={"EndpointInput": {"EndpointName": endpoint, "LocalPath": "/opt/ml/processing/input"}},
        DataQualityJobOutputConfig={
            "MonitoringOutputs": [
                {
                    "S3Output": {
                        "S3Uri": str(S3Uri(env.bucket, "monitoring/reports")),
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    }
                }
            ]
        },
        JobResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
        RoleArn=role,
    )
    try:
        client.create_monitoring_schedule(MonitoringScheduleName=name, MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": HOURLY}, "MonitoringJobDefinitionName": name,
            "MonitoringType": "DataQuality"})  # fmt: skip
        monitoring = client.control.monitoring
        clean = monitoring.run_monitoring_schedule(name, _iso(window_start), _iso(_next_second()))
        on_line(_line("the run's requests", clean))
        drift: dict[str, Any] = {}
        if drifted:
            _wait_for_next_second()  # capture times have whole seconds: the drifted window starts after the clean
            drift_start = datetime.now(UTC).replace(microsecond=0)
            rows = [row for path in drifted for row in path.read_text().splitlines() if row.strip()]
            for row in rows:  # one request a row, as a real-time client sends them
                env.runtime.invoke_endpoint(EndpointName=endpoint, Body=row.encode(), ContentType="text/csv")
            drift = monitoring.run_monitoring_schedule(name, _iso(drift_start), _iso(_next_second()))
            drift["requests"] = len(rows)
            drift["violations"] = [{key: v.get(key, "") for key in ("feature_name", "constraint_check_type",
                                   "description")} for v in drift.pop("Violations", [])]  # fmt: skip
            on_line(_line(f"{len(rows)} drifted requests", drift))
            for violation in drift["violations"]:
                on_line(f"      {violation['constraint_check_type']} {violation.get('feature_name', '')}")
    finally:
        client.delete_monitoring_schedule(MonitoringScheduleName=name)
        client.delete_data_quality_job_definition(JobDefinitionName=name)
    return {"schedule": name, "baseline_step": baseline_step, "clean": _entry(clean), "drifted": _entry(drift)}


def _analyzer_image(env: LocalEnvironment, step: str) -> str:
    """The image the pipeline's check step ran on: AWS's analyzer for the run's region."""
    for execution in reversed(env.client.executions):
        for record in execution.steps:
            if record.name == step and record.job:
                described = env.client.describe_processing_job(ProcessingJobName=record.job)
                return str(described["AppSpecification"]["ImageUri"])
    raise UserError(f"step {step!r} ran no job", fix="name a QualityCheck step in monitor-baseline")


def _entry(execution: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("MonitoringExecutionStatus", "ViolationCount", "ReportUri", "FailureReason", "requests", "violations")
    return {key: execution[key] for key in keys if key in execution}


def _line(what: str, execution: Mapping[str, Any]) -> str:
    status, count = execution["MonitoringExecutionStatus"], execution.get("ViolationCount", 0)
    reason = f": {execution['FailureReason']}" if execution.get("FailureReason") else ""
    return f"    Model Monitor over {what}: {status}, {count} violation(s){reason}"


def _next_second() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)


def _wait_for_next_second() -> None:
    time.sleep(1 - datetime.now(UTC).microsecond / 1e6)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
