"""One monitoring execution: the processing job Model Monitor starts for a schedule, over a window of the
endpoint's captured records, with the environment AWS documents for its container ("Container Contract
Inputs"), and how its end becomes the execution's status.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from harness.emulator.storage import S3Uri
from harness.errors import UserError

ENDPOINT_LOCAL_PATH = "/opt/ml/processing/input/endpoint"  # EndpointInput.LocalPath's usual value
RESULT_LOCAL_PATH = "/opt/ml/processing/resultdata"  # as the service's contract example
_BASELINE = "/opt/ml/processing/baseline"
_CODE = "/opt/ml/processing/code"  # where the pre- and post-processing scripts are put (ours: AWS does not say)
_RELATIVE = re.compile(r"^-PT(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?$")  # DataAnalysisStartTime's form
NO_DATA = "Job inputs had no data"  # the service's FailureReason for an empty window


@dataclass(frozen=True)
class JobDefinition:
    """A monitoring job, from an inline MonitoringJobDefinition or a Create*JobDefinition's request."""

    name: str  # "" when inline
    monitoring_type: str  # DataQuality | ModelQuality
    image: str
    endpoint: str
    role: str
    resources: dict[str, Any]  # MonitoringResources / JobResources
    output_uri: str
    output_local_path: str = RESULT_LOCAL_PATH
    input_local_path: str = ENDPOINT_LOCAL_PATH
    environment: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)
    constraints_uri: str = ""
    statistics_uri: str = ""
    preprocessor_uri: str = ""
    postprocessor_uri: str = ""
    stopping: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, str] = field(default_factory=dict)  # model quality's problem type and attributes
    ground_truth_uri: str = ""  # model quality: where the ground truth records are uploaded
    start_offset: str = ""  # EndpointInput.StartTimeOffset / EndTimeOffset: the default window (-PT1H...)
    end_offset: str = ""

    @classmethod
    def from_typed(cls, kind: str, name: str, request: Mapping[str, Any]) -> JobDefinition:
        """A CreateDataQualityJobDefinition / CreateModelQualityJobDefinition request (`kind`: DataQuality...)."""
        app = dict(request.get(f"{kind}AppSpecification") or {})
        endpoint = dict((request.get(f"{kind}JobInput") or {}).get("EndpointInput") or {})
        if not endpoint:
            raise UserError(
                f"job definition {name}: only EndpointInput is monitored locally (BatchTransformInput is not yet)",
                fix="monitor an endpoint's captured data",
            )
        quality = {key: str(value) for key, value in {
            "problem_type": app.get("ProblemType"),
            "inference_attribute": endpoint.get("InferenceAttribute"),
            "probability_attribute": endpoint.get("ProbabilityAttribute"),
            "probability_threshold_attribute": endpoint.get("ProbabilityThresholdAttribute"),
        }.items() if value is not None}  # fmt: skip
        ground_truth = (request.get(f"{kind}JobInput") or {}).get("GroundTruthS3Input") or {}
        return cls._of(
            name, kind, app, endpoint, request, app.get("Environment"),
            baseline=request.get(f"{kind}BaselineConfig"), output=request.get(f"{kind}JobOutputConfig"),
            resources=request.get("JobResources"), quality=quality, ground_truth_uri=str(ground_truth.get("S3Uri", "")),
        )  # fmt: skip

    @classmethod
    def from_inline(cls, monitoring_type: str, definition: Mapping[str, Any]) -> JobDefinition:
        """MonitoringScheduleConfig.MonitoringJobDefinition (the older, untyped form)."""
        app = dict(definition.get("MonitoringAppSpecification") or {})
        endpoint = dict(((definition.get("MonitoringInputs") or [{}])[0]).get("EndpointInput") or {})
        if not endpoint:
            raise UserError("the monitoring job definition has no EndpointInput", fix="monitor an endpoint")
        return cls._of(
            "", monitoring_type, app, endpoint, definition, definition.get("Environment"),
            baseline=definition.get("BaselineConfig"), output=definition.get("MonitoringOutputConfig"),
            resources=definition.get("MonitoringResources"),
        )  # fmt: skip

    @classmethod
    def _of(
        cls, name: str, kind: str, app: Mapping[str, Any], endpoint: Mapping[str, Any], request: Mapping[str, Any],
        environment: Mapping[str, Any] | None, baseline: Mapping[str, Any] | None, output: Mapping[str, Any] | None,
        resources: Mapping[str, Any] | None, quality: dict[str, str] | None = None, ground_truth_uri: str = "",
    ) -> JobDefinition:  # fmt: skip
        """The members both forms share, each under its own name in its form."""
        baseline, written = dict(baseline or {}), _first_output(output or {}, name or "inline")
        return cls(
            name=name,
            monitoring_type=kind,
            image=str(app.get("ImageUri", "")),
            endpoint=str(endpoint.get("EndpointName", "")),
            role=str(request.get("RoleArn", "")),
            resources=dict(resources or {}),
            output_uri=str(written.get("S3Uri", "")),
            output_local_path=str(written.get("LocalPath") or RESULT_LOCAL_PATH),
            input_local_path=str(endpoint.get("LocalPath") or ENDPOINT_LOCAL_PATH),
            environment={str(k): str(v) for k, v in (environment or {}).items()},
            entrypoint=list(app.get("ContainerEntrypoint") or []),
            arguments=list(app.get("ContainerArguments") or []),
            constraints_uri=str((baseline.get("ConstraintsResource") or {}).get("S3Uri", "")),
            statistics_uri=str((baseline.get("StatisticsResource") or {}).get("S3Uri", "")),
            preprocessor_uri=str(app.get("RecordPreprocessorSourceUri", "")),
            postprocessor_uri=str(app.get("PostAnalyticsProcessorSourceUri", "")),
            stopping=dict(request.get("StoppingCondition") or {}),
            quality=quality or {},
            ground_truth_uri=ground_truth_uri,
            start_offset=str(endpoint.get("StartTimeOffset") or ""),
            end_offset=str(endpoint.get("EndTimeOffset") or ""),
        )


def _first_output(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    outputs = config.get("MonitoringOutputs") or []
    if not outputs or not (outputs[0].get("S3Output") or {}).get("S3Uri"):
        raise UserError(f"job definition {name}: MonitoringOutputs needs one S3Output with an S3Uri")
    return dict(outputs[0]["S3Output"])


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def hours(self) -> list[datetime]:
        """Each capture hour folder the window touches."""
        hour, found = self.start.replace(minute=0, second=0, microsecond=0), []
        while hour < self.end:
            found.append(hour)
            hour += timedelta(hours=1)
        return found


def window(start: str | None, end: str | None, now: datetime) -> Window:
    """The analysis window: ISO 8601 times or the service's relative `-PT1H` form; by default the last hour."""
    ends = parse_time(end, now) if end else now
    if ends.microsecond:  # capture times are whole seconds: a record of this very second is inside the window
        ends = ends.replace(microsecond=0) + timedelta(seconds=1)
    starts = parse_time(start, now) if start else ends - timedelta(hours=1)
    if starts >= ends:
        raise UserError(
            f"the analysis window starts at {starts:%Y-%m-%dT%H:%M:%SZ}, not before its end {ends:%Y-%m-%dT%H:%M:%SZ}",
            fix="give a start before the end (e.g. --start=-PT2H --end=-PT0H)",
        )
    return Window(starts, ends)


def parse_time(text: str, now: datetime) -> datetime:
    relative = _RELATIVE.match(text)
    if relative and text != "-PT":
        return now - timedelta(hours=int(relative["hours"] or 0), minutes=int(relative["minutes"] or 0))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(
            f"{text!r} is not a time", fix="use ISO 8601 (2026-12-01T10:00:00Z) or an offset such as -PT1H"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def capture_folders(definition: JobDefinition, capture: S3Uri, variant: str, span: Window) -> list[CaptureFolder]:
    """The window's capture hour folders, each with its place under the job's input path."""
    return [
        CaptureFolder(capture.join(definition.endpoint, variant, f"{hour:%Y/%m/%d/%H}"),
                      f"{definition.endpoint}/{variant}/{hour:%Y/%m/%d/%H}")
        for hour in span.hours()
    ]  # fmt: skip


@dataclass(frozen=True)
class CaptureFolder:
    prefix: S3Uri
    local: str  # below the definition's input_local_path: <endpoint>/<variant>/yyyy/mm/dd/hh


def merge_ground_truth(captured: list[bytes], ground_truth: list[bytes]) -> bytes:
    """Captured records joined with the ground truth records naming them (their eventId is the capture's
    inferenceId, or its eventId when the request named none), as the service's merge job joins them; records
    without ground truth are left out."""
    truth: dict[str, Any] = {}
    for line in (line for blob in ground_truth for line in blob.decode("utf-8", "replace").splitlines()):
        if line.strip():
            record = json.loads(line)
            truth[str((record.get("eventMetadata") or {}).get("eventId"))] = record.get("groundTruthData")
    merged = []
    for line in (line for blob in captured for line in blob.decode("utf-8", "replace").splitlines()):
        if not line.strip():
            continue
        record = json.loads(line)
        metadata = record.get("eventMetadata") or {}
        key = str(metadata.get("inferenceId") or metadata.get("eventId"))
        if truth.get(key) is not None:
            merged.append(json.dumps({**record, "groundTruthData": truth[key]}))
    return "".join(f"{line}\n" for line in merged).encode()


def processing_request(
    job: str, schedule: str, definition: JobDefinition, folders: list[CaptureFolder], span: Window,
    scheduled: datetime,
) -> dict[str, Any]:  # fmt: skip
    """The processing job of one execution: the window's capture folders in, the baseline in, the report out."""
    inputs: list[dict[str, Any]] = []
    for folder in folders:
        local = f"{definition.input_local_path}/{folder.local}"
        inputs.append(_input(f"endpoint_input_{len(inputs) + 1}", str(folder.prefix), local))
    environment = {
        **definition.environment,
        "dataset_format": json.dumps(
            {"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}
        ),
        "dataset_source": definition.input_local_path,
        "output_path": definition.output_local_path,
        "start_time": f"{span.start:%Y-%m-%dT%H:%M:%SZ}",
        "end_time": f"{span.end:%Y-%m-%dT%H:%M:%SZ}",
        "metric_time": f"{scheduled:%Y-%m-%dT%H:%M:%SZ}",
        "sagemaker_endpoint_name": definition.endpoint,
        "sagemaker_monitoring_schedule_name": schedule,
    }
    environment.setdefault("publish_cloudwatch_metrics", "Enabled")
    if definition.monitoring_type == "ModelQuality":
        environment.update({"analysis_type": "MODEL_QUALITY", **definition.quality})
    for name, uri, place in (
        ("constraints", definition.constraints_uri, f"{_BASELINE}/constraints"),
        ("statistics", definition.statistics_uri, f"{_BASELINE}/stats"),
        ("record_preprocessor_script", definition.preprocessor_uri, f"{_CODE}/preprocessing"),
        ("post_analytics_processor_script", definition.postprocessor_uri, f"{_CODE}/postprocessing"),
    ):
        if uri:
            inputs.append(_input(name, uri, place))
            key = f"baseline_{name}" if name in ("constraints", "statistics") else name
            environment[key] = f"{place}/{uri.rstrip('/').rsplit('/', 1)[-1]}"
    app: dict[str, Any] = {"ImageUri": definition.image}
    if definition.entrypoint:
        app["ContainerEntrypoint"] = definition.entrypoint
    if definition.arguments:
        app["ContainerArguments"] = definition.arguments
    return {
        "ProcessingJobName": job,
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "result",
                    "S3Output": {
                        "S3Uri": result_uri(definition, schedule, scheduled),
                        "LocalPath": definition.output_local_path,
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "ProcessingResources": definition.resources
        or {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}},
        "AppSpecification": app,
        "Environment": environment,
        "RoleArn": definition.role,
        "StoppingCondition": definition.stopping or {"MaxRuntimeInSeconds": 3600},
    }


def result_uri(definition: JobDefinition, schedule: str, scheduled: datetime) -> str:
    """Where the service writes an execution's reports: <output>/<endpoint>/<schedule>/yyyy/mm/dd/hh."""
    return f"{definition.output_uri.rstrip('/')}/{definition.endpoint}/{schedule}/{scheduled:%Y/%m/%d/%H}"


def execution_job_name(schedule: str, scheduled: datetime) -> str:
    """`model-monitoring-<yyyymmddhhmm>-<hash>`: the form of the service's execution jobs (its hash is its own)."""
    digest = hashlib.sha256(f"{schedule}{scheduled.isoformat()}".encode()).hexdigest()[:24]
    return f"model-monitoring-{scheduled:%Y%m%d%H%M}-{digest}"


def execution_status(description: Mapping[str, Any], violations: list[Any] | None) -> str:
    """MonitoringExecutionStatus from the job's end and its violations report."""
    status = str(description.get("ProcessingJobStatus", "Failed"))
    if status == "Completed":
        return "CompletedWithViolations" if violations else "Completed"
    return status


def _input(name: str, uri: str, local: str) -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {"S3Uri": uri, "LocalPath": local, "S3DataType": "S3Prefix", "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated"},
    }  # fmt: skip
