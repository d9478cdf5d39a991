"""The QualityCheck step's baseline lifecycle (AWS's table: skip_check x register_new_baseline), the previous
baseline's sources (supplied, else the latest approved package's DriftCheckBaselines), fail_on_violation, and a
monitoring execution's window and job as the Model Monitor container contract describes them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from harness.emulator.monitoring_run import (
    NO_DATA,
    JobDefinition,
    capture_folders,
    execution_job_name,
    execution_status,
    merge_ground_truth,
    processing_request,
    window,
)
from harness.emulator.quality_check import run_quality_check
from harness.emulator.storage import S3Uri
from harness.errors import UserError

RESULTS = "s3://b/baseline/results"
REQUEST = {
    "AppSpecification": {"ImageUri": "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"},
    "ProcessingInputs": [{"InputName": "baseline_dataset_input", "S3Input": {"S3Uri": "s3://b/train",
                          "LocalPath": "/opt/ml/processing/input/baseline_dataset_input"}}],
    "ProcessingOutputConfig": {"Outputs": [{"OutputName": "monitoring_output", "S3Output": {
        "S3Uri": RESULTS, "LocalPath": "/opt/ml/processing/output"}}]},
    "Environment": {"dataset_format": json.dumps({"csv": {"header": False}})},
}  # fmt: skip
REGISTERED = {"DriftCheckBaselines": {"ModelDataQuality": {
    "Statistics": {"S3Uri": "s3://b/v1/statistics.json", "ContentType": "application/json"},
    "Constraints": {"S3Uri": "s3://b/v1/constraints.json", "ContentType": "application/json"}}}}  # fmt: skip


class Services:
    """The step's calls into the control plane, recorded; the job `ends` as given."""

    def __init__(self, package: dict[str, Any] | None = None, violations: list[dict[str, Any]] | None = None,
                 ends: str = "Completed") -> None:  # fmt: skip
        self.package, self.violations, self.ends = package, violations or [], ends
        self.jobs: list[dict[str, Any]] = []

    def run_step_job(self, step_type: str, job_name: str, request: dict[str, Any]) -> dict[str, Any]:
        self.jobs.append(request)
        return {"ProcessingJobStatus": self.ends, "FailureReason": "AlgorithmError: boom" if self.ends != "Completed"
                else None}  # fmt: skip

    def latest_approved_package(self, group: str) -> dict[str, Any] | None:
        return self.package

    def read_json(self, uri: str) -> Any:
        assert uri == f"{RESULTS}/constraint_violations.json"
        return {"violations": self.violations}


def _check(services: Services, **settings: Any) -> Any:
    step = {"Name": "DataQuality", "Type": "QualityCheck"}
    return run_quality_check(step, {"CheckType": "DATA_QUALITY", "ModelPackageGroupName": "models", **settings},
                             REQUEST, "pipelines-abc-DataQuality", services)  # fmt: skip


@pytest.mark.parametrize(
    ("skip", "register", "checked", "used"),
    [(False, False, True, "s3://b/v1"), (False, True, True, RESULTS), (True, False, False, "s3://b/v1"),
     (True, True, False, RESULTS)],
)  # fmt: skip
def test_the_documented_table_of_skip_check_and_register_new_baseline(
    skip: bool, register: bool, checked: bool, used: str
) -> None:
    services = Services(package=REGISTERED)
    outcome = _check(services, SkipCheck=skip, RegisterNewBaseline=register)
    assert outcome.properties == {
        "CalculatedBaselineStatistics": f"{RESULTS}/statistics.json",
        "CalculatedBaselineConstraints": f"{RESULTS}/constraints.json",
        "BaselineUsedForDriftCheckStatistics": f"{used}/statistics.json",
        "BaselineUsedForDriftCheckConstraints": f"{used}/constraints.json",
    }
    environment = services.jobs[0]["Environment"]
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in services.jobs[0]["ProcessingInputs"]}
    if checked:  # the previous baseline goes in as the analyzer's baseline files
        assert environment["baseline_constraints"] == "/opt/ml/processing/baseline/constraints/constraints.json"
        assert inputs["baseline_constraints"] == "s3://b/v1/constraints.json"
        assert outcome.metadata["ViolationReport"] == f"{RESULTS}/constraint_violations.json"
    else:
        assert "baseline_constraints" not in environment and "baseline_constraints" not in inputs
        assert "ViolationReport" not in outcome.metadata
    assert outcome.metadata["CheckJobArn"].endswith(":processing-job/pipelines-abc-dataquality")  # ARNs are lowercase
    assert REQUEST["Environment"] == {"dataset_format": json.dumps({"csv": {"header": False}})}  # not mutated


def test_supplied_baselines_win_over_the_registry_and_strings_from_parameters_are_flags() -> None:
    services = Services(package=REGISTERED)
    supplied = {"SuppliedBaselineStatistics": "s3://b/mine/s.json", "SuppliedBaselineConstraints": "s3://b/mine/c.json"}
    outcome = _check(services, SkipCheck="false", RegisterNewBaseline="false", **supplied)
    assert outcome.properties["BaselineUsedForDriftCheckConstraints"] == "s3://b/mine/c.json"
    assert services.jobs[0]["Environment"]["baseline_statistics"] == "/opt/ml/processing/baseline/statistics/s.json"


def test_a_needed_previous_baseline_that_does_not_exist_fails_the_step_with_the_fix() -> None:
    with pytest.raises(UserError) as raised:
        _check(Services(package=None), SkipCheck=False, RegisterNewBaseline=True)
    assert "no approved package with DriftCheckBaselines.ModelDataQuality" in raised.value.problem
    assert "skip_check=True and register_new_baseline=True" in (raised.value.fix or "")


def test_violations_fail_the_step_unless_fail_on_violation_is_false() -> None:
    violations = [{"feature_name": "_c1", "constraint_check_type": "baseline_drift_check", "description": "d"}]
    failed = _check(Services(package=REGISTERED, violations=violations), SkipCheck=False, FailOnViolation=True)
    assert "1 violation(s)" in failed.failure and "baseline_drift_check on _c1" in failed.failure
    assert f"{RESULTS}/constraint_violations.json" in failed.failure
    assert failed.metadata["ViolationReport"] == f"{RESULTS}/constraint_violations.json"
    # Checked against the previous baseline even when the new one is registered: the reason names the one it used.
    renewed = _check(Services(package=REGISTERED, violations=violations), SkipCheck=False, RegisterNewBaseline=True)
    assert "baseline constraints s3://b/v1/constraints.json" in renewed.failure
    outcome = _check(Services(package=REGISTERED, violations=violations), SkipCheck=False, FailOnViolation=False)
    assert outcome.metadata["SkipCheck"] is False and outcome.failure == ""


def test_a_failed_check_job_fails_the_step_with_its_reason() -> None:
    with pytest.raises(UserError, match="AlgorithmError: boom"):
        _check(Services(ends="Failed"), SkipCheck=True, RegisterNewBaseline=True)


def test_the_analysis_window_takes_iso_times_and_the_services_relative_form() -> None:
    now = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
    assert window(None, None, now).start == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    span = window("-PT2H", "-PT0H", now)
    assert (span.start, span.end) == (datetime(2026, 12, 1, 8, 30, tzinfo=UTC), now)
    assert [h.hour for h in span.hours()] == [8, 9, 10]
    assert window("2026-12-01T10:00:00Z", None, now).start.minute == 0
    # A record captured in the current second (inferenceTime has whole seconds) is inside a window ending now.
    assert window(None, None, now.replace(microsecond=300_000)).end == now.replace(second=1)
    with pytest.raises(UserError, match="not before its end"):
        window("-PT0H", "-PT1H", now)
    with pytest.raises(UserError, match="is not a time"):
        window("yesterday", None, now)


def test_an_executions_job_follows_the_container_contract() -> None:
    definition = JobDefinition.from_typed("DataQuality", "dq", {
        "DataQualityAppSpecification": {"ImageUri": "analyzer", "RecordPreprocessorSourceUri": "s3://b/code/pre.py",
                                        "Environment": {"publish_cloudwatch_metrics": "Disabled"}},
        "DataQualityBaselineConfig": {"ConstraintsResource": {"S3Uri": "s3://b/base/constraints.json"},
                                      "StatisticsResource": {"S3Uri": "s3://b/base/statistics.json"}},
        "DataQualityJobInput": {"EndpointInput": {"EndpointName": "ep", "LocalPath": "/opt/ml/processing/input"}},
        "DataQualityJobOutputConfig": {"MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://b/reports",
                                                                           "LocalPath": "/opt/ml/processing/output"}}]},
        "JobResources": {"ClusterConfig": {"InstanceCount": 1}}, "RoleArn": "arn:aws:iam::1:role/r",
    })  # fmt: skip
    scheduled = datetime(2026, 12, 1, 10, 5, tzinfo=UTC)
    span = window("-PT1H", None, scheduled)
    folders = capture_folders(definition, S3Uri.parse("s3://b/capture"), "AllTraffic", span)
    assert [str(f.prefix) for f in folders] == [
        "s3://b/capture/ep/AllTraffic/2026/12/01/09", "s3://b/capture/ep/AllTraffic/2026/12/01/10"
    ]  # fmt: skip
    job = execution_job_name("sched", scheduled)
    request = processing_request(job, "sched", definition, folders, span, scheduled)
    assert job.startswith("model-monitoring-202612011005-") and len(job) <= 63
    local = {i["InputName"]: i["S3Input"]["LocalPath"] for i in request["ProcessingInputs"]}
    assert local["endpoint_input_1"] == "/opt/ml/processing/input/ep/AllTraffic/2026/12/01/09"
    assert local["endpoint_input_2"] == "/opt/ml/processing/input/ep/AllTraffic/2026/12/01/10"
    environment = request["Environment"]
    assert json.loads(environment["dataset_format"]) == {
        "sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}
    }
    assert {
        "dataset_source": "/opt/ml/processing/input", "output_path": "/opt/ml/processing/output",
        "start_time": "2026-12-01T09:05:00Z", "end_time": "2026-12-01T10:05:00Z",
        "sagemaker_endpoint_name": "ep", "sagemaker_monitoring_schedule_name": "sched",
        "publish_cloudwatch_metrics": "Disabled",
        "baseline_constraints": "/opt/ml/processing/baseline/constraints/constraints.json",
        "baseline_statistics": "/opt/ml/processing/baseline/stats/statistics.json",
        "record_preprocessor_script": "/opt/ml/processing/code/preprocessing/pre.py",
    }.items() <= environment.items()  # fmt: skip
    output = request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]
    assert output["S3Uri"] == "s3://b/reports/ep/sched/2026/12/01/10"
    assert execution_status({"ProcessingJobStatus": "Completed"}, [{"x": 1}]) == "CompletedWithViolations"
    assert execution_status({"ProcessingJobStatus": "Completed"}, []) == "Completed"
    assert execution_status({"ProcessingJobStatus": "Failed"}, None) == "Failed"
    assert NO_DATA == "Job inputs had no data"


def test_captured_records_merge_with_the_ground_truth_that_names_them() -> None:
    def captured(event: str, inference: str | None) -> str:
        metadata = {"eventId": event, **({"inferenceId": inference} if inference else {})}
        return json.dumps({"captureData": {"endpointOutput": {"data": "1", "encoding": "CSV"}},
                           "eventMetadata": metadata, "eventVersion": "0"})  # fmt: skip

    def truth(event: str, label: str) -> str:
        return json.dumps({"groundTruthData": {"data": label, "encoding": "CSV"}, "eventMetadata": {"eventId": event},
                           "eventVersion": "0"})  # fmt: skip

    capture = "\n".join([captured("e1", "order-1"), captured("e2", None), captured("e3", "order-3")]).encode()
    merged = merge_ground_truth([capture], [f"{truth('order-1', '1')}\n{truth('e2', '0')}\n".encode()])
    records = [json.loads(line) for line in merged.decode().splitlines()]
    assert [(r["eventMetadata"]["eventId"], r["groundTruthData"]["data"]) for r in records] == [
        ("e1", "1"),
        ("e2", "0"),
    ]


def test_a_batch_transform_monitor_is_refused_by_name() -> None:
    with pytest.raises(UserError, match="BatchTransformInput is not yet"):
        JobDefinition.from_typed("DataQuality", "dq", {"DataQualityJobInput": {"BatchTransformInput": {}}})
