"""The SageMaker control plane: every operation the local AWS endpoint serves,
by its AWS name, over the emulator's jobs, hosting, pipelines and registry.

`call("CreatePipeline", {...})` is what the endpoint does with a request;
`operations()` lists what is implemented (`sagemaker-harness endpoint --operations`).
Any other operation answers UnknownOperationException, naming it.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from botocore import xform_name
from botocore.exceptions import ClientError

from harness.emulator.awserrors import validation_error
from harness.emulator.executor import StepEvent
from harness.emulator.hosting import EndpointHost
from harness.emulator.hosting_api import HostingApi
from harness.emulator.jobs_api import JobsApi
from harness.emulator.monitoring_api import MonitoringApi
from harness.emulator.package_files import PackageFiles
from harness.emulator.paging import page
from harness.emulator.pipeline_options import PipelineOptions, StepServices
from harness.emulator.pipelines_api import PipelinesApi
from harness.emulator.protocol import unknown_operation
from harness.emulator.registry import ModelRegistry
from harness.emulator.runner import JobRunner
from harness.emulator.scheduler import parallel_limit
from harness.emulator.search_api import SearchApi
from harness.emulator.storage import EmbeddedS3, S3Uri
from harness.emulator.tuning import TuningApi

TAGS_LIMIT = 50  # AddTags: at most 50 tags per resource


class RegistryApi:
    """Model package groups and versions (the model registry), and their approval."""

    def __init__(self, registry: ModelRegistry, files: PackageFiles | None = None) -> None:
        self._registry = registry
        self._files = files

    def create_model_package_group(self, ModelPackageGroupName: str, **request: Any) -> dict[str, str]:
        return self._registry.create_group(ModelPackageGroupName, request.get("ModelPackageGroupDescription", ""))

    def describe_model_package_group(self, ModelPackageGroupName: str) -> dict[str, Any]:
        return self._registry.describe_group(ModelPackageGroupName)

    def list_model_package_groups(self, **request: Any) -> dict[str, Any]:
        groups = [self._registry.describe_group(name) for name in self._registry.group_names()]
        fields = ("ModelPackageGroupName", "ModelPackageGroupArn", "ModelPackageGroupDescription", "CreationTime",
                  "ModelPackageGroupStatus")  # fmt: skip
        summaries = [{k: g[k] for k in fields if k in g} for g in groups]
        return page(summaries, request, "ModelPackageGroupSummaryList", "ModelPackageGroupName")

    def create_model_package(self, **request: Any) -> dict[str, str]:
        created = self._registry.create_package(request)
        if self._files is not None:
            self._files.keep(request)
        return created

    def describe_model_package(self, ModelPackageName: str) -> dict[str, Any]:
        return self.restored(self._registry.describe_package(ModelPackageName))

    def restored(self, package: dict[str, Any]) -> dict[str, Any]:
        """The package, its reports back in S3 if the S3 of an earlier run had them (harness.emulator.package_files)."""
        if self._files is not None:
            self._files.restore(package)
        return package

    def list_model_packages(self, **request: Any) -> dict[str, Any]:
        group = request.get("ModelPackageGroupName")
        if not group:
            raise validation_error("ListModelPackages", "ModelPackageGroupName is required locally")
        summaries = self._registry.list_packages(
            group, request.get("ModelApprovalStatus"), descending=request.get("SortOrder", "Descending") == "Descending"
        )
        size = int(request.get("MaxResults") or 100)
        start = int(request.get("NextToken") or 0)
        reply: dict[str, Any] = {"ModelPackageSummaryList": summaries[start : start + size]}
        if start + size < len(summaries):
            reply["NextToken"] = str(start + size)
        return reply

    def update_model_package(
        self, ModelPackageArn: str, ModelApprovalStatus: str = "", ApprovalDescription: str = "", **_: Any
    ) -> dict[str, str]:
        status = ModelApprovalStatus or self._registry.describe_package(ModelPackageArn)["ModelApprovalStatus"]
        return self._registry.update_package(ModelPackageArn, status, ApprovalDescription)


class TagsApi:
    """AddTags, ListTags and DeleteTags on any ARN (the SDK's `upsert()` lists and adds a pipeline's tags)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tags: dict[str, dict[str, str]] = {}

    def add_tags(self, ResourceArn: str, Tags: list[Mapping[str, str]]) -> dict[str, Any]:
        with self._lock:
            tags = self._tags.setdefault(ResourceArn, {})
            tags.update({t["Key"]: t.get("Value", "") for t in Tags})
            if len(tags) > TAGS_LIMIT:
                raise validation_error("AddTags", f"a resource can have at most {TAGS_LIMIT} tags")
        return {"Tags": [dict(t) for t in Tags]}

    def list_tags(self, ResourceArn: str, **_: Any) -> dict[str, Any]:
        return {"Tags": [{"Key": k, "Value": v} for k, v in self._tags.get(ResourceArn, {}).items()]}

    def delete_tags(self, ResourceArn: str, TagKeys: list[str]) -> dict[str, Any]:
        with self._lock:
            for key in TagKeys:
                self._tags.get(ResourceArn, {}).pop(key, None)
        return {}


class SageMakerControlPlane:
    """One local SageMaker: what the endpoint serves and what the SDK's local-mode session calls."""

    def __init__(
        self,
        runner: JobRunner,
        endpoints: EndpointHost,
        registry: ModelRegistry,
        s3: EmbeddedS3,
        on_event: StepEvent,
        asynchronous: bool = False,
        pipeline_options: PipelineOptions | None = None,
        step_services: StepServices | None = None,
    ) -> None:
        self._model_registry, self._s3 = registry, s3
        self.hosting = HostingApi(endpoints, registry, s3)
        self.jobs = JobsApi(runner, endpoints, self.hosting, s3, asynchronous)
        self.registry = RegistryApi(registry, PackageFiles(registry.path.parent / "registry-files", s3))
        self.tags = TagsApi()
        services = step_services or StepServices()
        self.tuning = TuningApi(self.jobs, services.on_notice, asynchronous,
                                parallel_limit(None, (pipeline_options or PipelineOptions()).max_parallel))  # fmt: skip
        self.monitoring = MonitoringApi(self.jobs, endpoints, s3, services.on_notice, asynchronous)
        self.pipelines = PipelinesApi(self, s3, on_event, asynchronous, pipeline_options, services)
        self.search = SearchApi(self._searchable(), lambda arn: self.tags.list_tags(arn)["Tags"])
        self._table = _operation_table(
            self.hosting,
            self.jobs,
            self.registry,
            self.tags,
            self.pipelines,
            self.search,
            self.tuning,
            self.monitoring,
        )
        # The harness's own calls (X-Amz-Target: Harness.<Op>), which no AWS service has.
        self._harness_table = {"RunMonitoringSchedule": self.monitoring.run_monitoring_schedule}

    def _searchable(self) -> dict[str, Callable[[], list[dict[str, Any]]]]:
        """Search's resources, each described in full from this control plane's own List and Describe calls."""

        def every(
            listing: str, key: str, describe: str, field: str, parameter: str = "", **request: Any
        ) -> list[dict[str, Any]]:
            """Each item `listing` lists, described by `describe` with its `field` (as `parameter`, if named)."""
            found = self.call(listing, {"MaxResults": 100_000, **request})[key]
            return [dict(self.call(describe, {parameter or field: item[field]})) for item in found]

        def packages() -> list[dict[str, Any]]:
            listing = ("ListModelPackages", "ModelPackageSummaryList", "DescribeModelPackage", "ModelPackageArn")
            return [package for group in every(*groups) for package in every(
                *listing, "ModelPackageName", ModelPackageGroupName=group["ModelPackageGroupName"])]  # fmt: skip

        def executions() -> list[dict[str, Any]]:
            pipelines = every("ListPipelines", "PipelineSummaries", "DescribePipeline", "PipelineName")
            return [execution for pipeline in pipelines for execution in every(
                "ListPipelineExecutions", "PipelineExecutionSummaries", "DescribePipelineExecution",
                "PipelineExecutionArn", PipelineName=pipeline["PipelineName"])]  # fmt: skip

        groups = ("ListModelPackageGroups", "ModelPackageGroupSummaryList", "DescribeModelPackageGroup",
                  "ModelPackageGroupName")  # fmt: skip
        jobs = ("ListTrainingJobs", "TrainingJobSummaries", "DescribeTrainingJob", "TrainingJobName")
        return {
            "TrainingJob": lambda: every(*jobs),
            "Model": lambda: every("ListModels", "Models", "DescribeModel", "ModelName"),
            "Endpoint": lambda: every("ListEndpoints", "Endpoints", "DescribeEndpoint", "EndpointName"),
            "ModelPackageGroup": lambda: every(*groups),
            "ModelPackage": packages,
            "Pipeline": lambda: every("ListPipelines", "PipelineSummaries", "DescribePipeline", "PipelineName"),
            "PipelineExecution": executions,
        }

    # What pipeline steps call (harness.emulator.executor.SageMakerApi).
    def run_step_job(self, step_type: str, job_name: str, request: dict[str, Any]) -> dict[str, Any]:
        return self.jobs.run_step_job(step_type, job_name, request)

    def stop_step_job(self, step_type: str, job_name: str) -> None:
        """StopPipelineExecution: a running step's job stops as Stop*Job stops it (a transform runs to its end)."""
        stop = {"Processing": self.jobs.stop_processing_job, "QualityCheck": self.jobs.stop_processing_job,
                "Training": self.jobs.stop_training_job}.get(step_type)  # fmt: skip
        if stop is not None:
            with contextlib.suppress(ClientError):  # it ended meanwhile
                stop(job_name)

    def run_tuning(self, name: str, request: dict[str, Any]) -> dict[str, Any]:
        return self.tuning.run_tuning(name, request)

    def create_model(self, ModelName: str, **request: Any) -> dict[str, Any]:
        return self.hosting.create_model(ModelName, **request)

    def create_model_package(self, **request: Any) -> dict[str, Any]:
        return self.registry.create_model_package(**request)

    def describe_model_package(self, ModelPackageName: str) -> dict[str, Any]:
        return self.registry.describe_model_package(ModelPackageName)

    def read_property_file(self, step_properties: Mapping[str, Any], property_file: Mapping[str, Any]) -> Any:
        return self.jobs.read_property_file(step_properties, property_file)

    def latest_approved_package(self, group: str) -> dict[str, Any] | None:
        package = self._model_registry.latest_approved(group)
        return self.registry.restored(package) if package is not None else None

    def read_json(self, uri: str) -> Any:
        """An S3 object's JSON, None when there is no such object."""
        location = S3Uri.parse(uri)
        return json.loads(self._s3.get_bytes(location)) if self._s3.exists(location) else None

    # What the endpoint calls.
    def operations(self) -> list[str]:
        return sorted(self._table)

    def implements(self, operation: str) -> bool:
        return operation in self._table

    def call(self, operation: str, request: Mapping[str, Any]) -> Mapping[str, Any]:
        handler = self._table.get(operation)
        if handler is None:
            raise unknown_operation("SageMaker", operation)
        return _answer(operation, handler, request)

    def harness_call(self, operation: str, request: Mapping[str, Any]) -> Mapping[str, Any]:
        handler = self._harness_table.get(operation)
        if handler is None:
            raise unknown_operation("the harness", operation)
        return _answer(operation, handler, request)

    def close(self) -> None:
        self.monitoring.close()
        self.pipelines.close()
        self.tuning.close()
        self.jobs.close()
        self.hosting.close()


_NOT_OPERATIONS = frozenset({"close", "model", "run_step_job", "stop_step_job", "read_property_file", "runs",
                             "outcomes", "run_tuning", "step_properties", "latest_approved_package",
                             "read_json", "run_monitoring_schedule", "harness_call", "restored"})  # fmt: skip
PARTS = (HostingApi, JobsApi, RegistryApi, TagsApi, PipelinesApi, SearchApi, TuningApi, MonitoringApi)


def _answer(operation: str, handler: Callable[..., Any], request: Mapping[str, Any]) -> Mapping[str, Any]:
    try:
        answer: Mapping[str, Any] = handler(**request)
        return answer
    except TypeError as error:  # a required member missing or an unknown one: AWS's answer is a validation error
        if "argument" not in str(error):
            raise
        raise validation_error(operation, f"invalid request for {operation}: {error}") from None


def operation_name(method: str) -> str:
    """boto3's method name -> AWS's operation name: create_pipeline -> CreatePipeline."""
    return "".join(word.title() for word in method.split("_"))


def operation_names(part: type) -> dict[str, str]:
    """AWS operation name -> method name, for a part's public methods named as boto3 names operations."""
    names = {}
    for attribute in dir(part):
        if attribute.startswith("_") or attribute in _NOT_OPERATIONS or not callable(getattr(part, attribute)):
            continue
        operation = operation_name(attribute)
        if xform_name(operation) == attribute:
            names[operation] = attribute
    return names


def implemented() -> list[str]:
    return sorted(name for part in PARTS for name in operation_names(part))


def _operation_table(*parts: object) -> dict[str, Callable[..., Any]]:
    return {op: getattr(part, method) for part in parts for op, method in operation_names(type(part)).items()}
