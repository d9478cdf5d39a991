"""Request shapes: CreateProcessingJob and CreateTrainingJob requests, parsed
into frozen values and checked against what the harness supports and what
AWS accepts, before any container starts.

Every refusal names the field and what to do instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.emulator.arns import sagemaker_arn
from harness.emulator.paths import CONTAINER
from harness.errors import UserError

JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
MAX_HYPERPARAMETERS = 100
MAX_HYPERPARAMETER_CHARS = 256
DEFAULT_MAX_RUNTIME_S = 86400


def _refuse(job: str, what: str, fix: str) -> UserError:
    return UserError(f"{job}: {what} is not supported locally", fix=fix)


def _check_name(kind: str, name: str) -> str:
    if not JOB_NAME.match(name or ""):
        raise UserError(
            f"{kind} name {name!r} is invalid",
            fix="use 1-63 letters, digits and hyphens, starting with a letter or digit",
        )
    return name


@dataclass(frozen=True)
class S3Input:
    uri: str
    local_path: str  # container path


@dataclass(frozen=True)
class S3Output:
    uri: str
    local_path: str
    name: str


@dataclass(frozen=True)
class ProcessingJobSpec:
    name: str
    image: str
    entrypoint: tuple[str, ...] | None
    arguments: tuple[str, ...]
    environment: Mapping[str, str]
    inputs: tuple[S3Input, ...]
    outputs: tuple[S3Output, ...]
    instance_count: int
    instance_type: str
    max_runtime_s: int
    network_isolation: bool
    request: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_request(cls, request: Mapping[str, Any]) -> ProcessingJobSpec:
        name = _check_name("processing job", request.get("ProcessingJobName", ""))
        app = request.get("AppSpecification") or {}
        inputs = tuple(_processing_input(name, item) for item in request.get("ProcessingInputs") or [])
        outputs = tuple(
            _processing_output(name, item)
            for item in (request.get("ProcessingOutputConfig") or {}).get("Outputs") or []
        )
        cluster = (request.get("ProcessingResources") or {}).get("ClusterConfig") or {}
        entrypoint = app.get("ContainerEntrypoint")
        return cls(
            name=name,
            image=_required(name, app, "ImageUri"),
            entrypoint=tuple(entrypoint) if entrypoint else None,
            arguments=tuple(app.get("ContainerArguments") or ()),
            environment=_environment(name, request.get("Environment") or {}),
            inputs=inputs,
            outputs=outputs,
            instance_count=int(cluster.get("InstanceCount", 1)),
            instance_type=str(cluster.get("InstanceType", "local")),
            max_runtime_s=int(
                (request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME_S)
            ),
            network_isolation=bool((request.get("NetworkConfig") or {}).get("EnableNetworkIsolation", False)),
            request=request,
        )


def _required(job: str, mapping: Mapping[str, Any], key: str) -> str:
    value = mapping.get(key)
    if not value:
        raise UserError(f"{job}: {key} is required", fix=f"set {key} in the request")
    return str(value)


def _environment(job: str, environment: Mapping[str, Any]) -> dict[str, str]:
    bad = [key for key, value in environment.items() if not isinstance(value, str)]
    if bad:
        raise UserError(f"{job}: Environment values must be strings ({', '.join(bad)})", fix="quote the values")
    return dict(environment)


def _processing_input(job: str, item: Mapping[str, Any]) -> S3Input:
    if "DatasetDefinition" in item:
        raise _refuse(
            job,
            f"input {item.get('InputName')!r} with a DatasetDefinition (Athena/Redshift)",
            "stage the data in S3 and use an S3Input",
        )
    s3 = item.get("S3Input") or {}
    if s3.get("S3DataType", "S3Prefix") != "S3Prefix":
        raise _refuse(job, f"S3DataType {s3.get('S3DataType')}", "use S3Prefix")
    if s3.get("S3InputMode", "File") != "File":
        raise _refuse(job, f"S3InputMode {s3.get('S3InputMode')}", "use File mode")
    if s3.get("S3CompressionType", "None") != "None":
        raise _refuse(job, f"S3CompressionType {s3.get('S3CompressionType')}", "use None")
    local_path = _required(job, s3, "LocalPath")
    if not CONTAINER.is_under_processing(local_path) or local_path.rstrip("/") == str(CONTAINER.processing_dir):
        raise UserError(
            f"{job}: input LocalPath {local_path} must be a folder under /opt/ml/processing/",
            fix="SageMaker only maps processing inputs below /opt/ml/processing/",
        )
    return S3Input(_required(job, s3, "S3Uri"), local_path)


def _processing_output(job: str, item: Mapping[str, Any]) -> S3Output:
    if "FeatureStoreOutput" in item:
        raise _refuse(job, "FeatureStoreOutput", "write to an S3Output")
    s3 = item.get("S3Output") or {}
    local_path = _required(job, s3, "LocalPath")
    if not CONTAINER.is_under_processing(local_path):
        raise UserError(
            f"{job}: output LocalPath {local_path} must be under /opt/ml/processing/",
            fix="SageMaker only uploads processing outputs from below /opt/ml/processing/",
        )
    return S3Output(_required(job, s3, "S3Uri"), local_path, str(item.get("OutputName", "")))


@dataclass(frozen=True)
class Channel:
    name: str
    uri: str
    content_type: str
    input_mode: str
    distribution: str
    record_wrapper: str
    compression: str

    def config(self) -> dict[str, str]:
        """The channel's entry in /opt/ml/input/config/inputdataconfig.json."""
        entry = {
            "TrainingInputMode": self.input_mode,
            "S3DistributionType": self.distribution,
            "RecordWrapperType": self.record_wrapper,
        }
        if self.content_type:
            entry["ContentType"] = self.content_type
        if self.compression != "None":
            entry["CompressionType"] = self.compression
        return entry


@dataclass(frozen=True)
class TrainingJobSpec:
    name: str
    image: str
    entrypoint: tuple[str, ...] | None
    arguments: tuple[str, ...]
    hyperparameters: Mapping[str, str]
    channels: tuple[Channel, ...]
    output_path: str
    instance_count: int
    instance_type: str
    environment: Mapping[str, str]
    max_runtime_s: int
    network_isolation: bool
    request: Mapping[str, Any] = field(repr=False)
    metric_definitions: tuple[tuple[str, str], ...] = ()  # (name, regex), the request's

    @property
    def arn(self) -> str:
        return sagemaker_arn("training-job", self.name)

    @classmethod
    def from_request(cls, request: Mapping[str, Any]) -> TrainingJobSpec:
        name = _check_name("training job", request.get("TrainingJobName", ""))
        algorithm = request.get("AlgorithmSpecification") or {}
        if algorithm.get("AlgorithmName"):
            raise _refuse(name, "AlgorithmName (a marketplace or built-in algorithm)", "use TrainingImage")
        mode = algorithm.get("TrainingInputMode", "File")
        if mode not in ("File", "FastFile"):
            raise _refuse(name, f"TrainingInputMode {mode}", "use File (or FastFile, run as File)")
        resources = request.get("ResourceConfig") or {}
        if resources.get("InstanceGroups"):
            raise _refuse(name, "heterogeneous InstanceGroups", "use InstanceCount and InstanceType")
        entrypoint = algorithm.get("ContainerEntrypoint")
        return cls(
            name=name,
            image=_required(name, algorithm, "TrainingImage"),
            entrypoint=tuple(entrypoint) if entrypoint else None,
            arguments=tuple(algorithm.get("ContainerArguments") or ()),
            hyperparameters=_hyperparameters(name, request.get("HyperParameters") or {}),
            channels=tuple(_channel(name, item, mode) for item in request.get("InputDataConfig") or []),
            output_path=_required(name, request.get("OutputDataConfig") or {}, "S3OutputPath"),
            instance_count=int(resources.get("InstanceCount", 1)),
            instance_type=str(resources.get("InstanceType", "local")),
            environment=_environment(name, request.get("Environment") or {}),
            max_runtime_s=int(
                (request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME_S)
            ),
            network_isolation=bool(request.get("EnableNetworkIsolation", False)),
            request=request,
            metric_definitions=tuple(
                (str(d["Name"]), str(d["Regex"])) for d in algorithm.get("MetricDefinitions") or []
            ),
        )


def _hyperparameters(job: str, raw: Mapping[str, Any]) -> dict[str, str]:
    if len(raw) > MAX_HYPERPARAMETERS:
        raise UserError(
            f"{job}: {len(raw)} hyperparameters; SageMaker accepts at most {MAX_HYPERPARAMETERS}",
            fix="pass the rest in a config file in a channel",
        )
    result = {}
    for key, value in raw.items():
        text = value if isinstance(value, str) else json.dumps(value)
        if len(key) > MAX_HYPERPARAMETER_CHARS or len(text) > MAX_HYPERPARAMETER_CHARS:
            raise UserError(
                f"{job}: hyperparameter {key!r} is longer than {MAX_HYPERPARAMETER_CHARS} characters",
                fix="SageMaker rejects it; pass large values in a channel instead",
            )
        result[str(key)] = text
    return result


def _channel(job: str, item: Mapping[str, Any], job_mode: str) -> Channel:
    name = _required(job, item, "ChannelName")
    source = item.get("DataSource") or {}
    if "S3DataSource" not in source:
        raise _refuse(job, f"channel {name!r} without an S3DataSource (EFS/FSx)", "stage the data in S3")
    s3 = source["S3DataSource"]
    if s3.get("S3DataType", "S3Prefix") != "S3Prefix":
        raise _refuse(job, f"channel {name!r} S3DataType {s3.get('S3DataType')}", "use S3Prefix")
    mode = item.get("InputMode", job_mode)
    if mode == "Pipe":
        raise _refuse(job, f"channel {name!r} in Pipe mode", "use File mode")
    compression = item.get("CompressionType", "None")
    if compression != "None":
        raise _refuse(job, f"channel {name!r} CompressionType {compression}", "upload the data uncompressed")
    return Channel(
        name=name,
        uri=_required(job, s3, "S3Uri"),
        content_type=str(item.get("ContentType", "")),
        input_mode=mode,
        distribution=str(s3.get("S3DataDistributionType", "FullyReplicated")),
        record_wrapper=str(item.get("RecordWrapperType", "None")),
        compression=compression,
    )
