"""The local SageMaker API: boto-shaped methods over the harness's runner,
endpoint host, model registry and pipeline executor.

`LocalSageMakerClient` stands where `session.sagemaker_client` stands in the
SDK, `LocalRuntimeClient` where `session.sagemaker_runtime_client` stands.
Errors are botocore `ClientError`s, as user code expects from AWS. An
operation the harness does not implement fails with a message naming it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import WaiterError
from botocore.response import StreamingBody

from harness.arns import sagemaker_arn
from harness.awserrors import client_error, not_found, validation_error
from harness.endpoints import EndpointHost, ModelDefinition, not_found_endpoint
from harness.errors import UserError
from harness.executor import PipelineRun, StepEvent, validate
from harness.expressions import walk
from harness.registry import ModelRegistry
from harness.runner import JobOutcome, JobRunner
from harness.specs import ProcessingJobSpec, TrainingJobSpec
from harness.storage import EmbeddedS3, S3Uri
from harness.transform import TransformJobSpec, run_transform


class LocalExecution:
    """What `Pipeline.start()` returns; the run has finished when it is returned."""

    def __init__(self, run: PipelineRun) -> None:
        self.run = run
        self.arn = run.arn

    def describe(self) -> dict[str, Any]:
        run = self.run
        described = {
            "PipelineArn": sagemaker_arn("pipeline", run.pipeline_name),
            "PipelineExecutionArn": run.arn,
            "PipelineExecutionStatus": run.status,
            "CreationTime": run.started,
        }
        if run.failure_reason:
            described["FailureReason"] = run.failure_reason
        return described

    def list_steps(self) -> list[dict[str, Any]]:
        return [step.as_api() for step in reversed(self.run.steps)]  # newest first, as AWS lists them

    def wait(self, delay: int = 30, max_attempts: int = 60) -> None:
        if self.run.status == "Failed":
            raise client_error(
                "DescribePipelineExecution",
                "WaiterError",
                f"pipeline execution {self.arn} failed: {self.run.failure_reason}",
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
    def __init__(
        self, runner: JobRunner, endpoints: EndpointHost, registry: ModelRegistry, s3: EmbeddedS3, on_event: StepEvent
    ) -> None:
        self._runner = runner
        self._endpoints = endpoints
        self._registry = registry
        self._s3 = s3
        self._on_event = on_event
        self._jobs: dict[str, dict[str, Any]] = {}
        self.outcomes: dict[str, JobOutcome] = {}  # what the run record needs beyond AWS's shapes
        self._models: dict[str, ModelDefinition] = {}
        self._endpoint_configs: dict[str, dict[str, Any]] = {}
        self._pipelines: dict[str, dict[str, Any]] = {}
        self.executions: list[PipelineRun] = []

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        if operation.startswith("_"):
            raise AttributeError(operation)

        def unsupported(*_: Any, **__: Any) -> Any:
            raise UserError(
                f"the SageMaker operation {operation} is not supported by the local harness",
                fix="run it against AWS, or open an issue naming the operation",
            )

        return unsupported

    # -- jobs --------------------------------------------------------------------
    def create_processing_job(self, **request: Any) -> dict[str, str]:
        spec = ProcessingJobSpec.from_request(request)
        outcome = self._runner.run_processing(spec)
        self.outcomes[spec.name] = outcome
        self._jobs[spec.name] = _described("Processing", request, outcome, {})
        return {"ProcessingJobArn": self._jobs[spec.name]["ProcessingJobArn"]}

    def describe_processing_job(self, ProcessingJobName: str) -> dict[str, Any]:
        return self._job(ProcessingJobName, "DescribeProcessingJob")

    def create_training_job(self, **request: Any) -> dict[str, str]:
        spec = TrainingJobSpec.from_request(request)
        outcome = self._runner.run_training(spec)
        extra = {"ModelArtifacts": {"S3ModelArtifacts": outcome.artifacts["model"]}} if outcome.succeeded else {}
        self.outcomes[spec.name] = outcome
        self._jobs[spec.name] = _described("Training", request, outcome, extra)
        return {"TrainingJobArn": self._jobs[spec.name]["TrainingJobArn"]}

    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        return self._job(TrainingJobName, "DescribeTrainingJob")

    def create_transform_job(self, **request: Any) -> dict[str, str]:
        spec = TransformJobSpec.from_request(request)
        outcome = run_transform(spec, self._model(spec.model_name, "CreateTransformJob"), self._endpoints, self._s3)
        self.outcomes[spec.name] = outcome
        self._jobs[spec.name] = _described("Transform", request, outcome, {})
        return {"TransformJobArn": self._jobs[spec.name]["TransformJobArn"]}

    def describe_transform_job(self, TransformJobName: str) -> dict[str, Any]:
        return self._job(TransformJobName, "DescribeTransformJob")

    def _job(self, name: str, operation: str) -> dict[str, Any]:
        if name not in self._jobs:
            raise validation_error(operation, f"Could not find job {name}.")
        return self._jobs[name]

    def run_step_job(self, step_type: str, job_name: str, request: dict[str, Any]) -> dict[str, Any]:
        """What a pipeline step does: create the job, then describe it."""
        create = {
            "Processing": self.create_processing_job,
            "Training": self.create_training_job,
            "Transform": self.create_transform_job,
        }[step_type]
        create(**{**request, f"{step_type}JobName": job_name})
        return self._jobs[job_name]

    def read_property_file(self, step_properties: Mapping[str, Any], property_file: Mapping[str, Any]) -> Any:
        output = walk(
            step_properties, f"ProcessingOutputConfig.Outputs['{property_file['OutputName']}']", "property file"
        )
        uri = S3Uri.parse(output["S3Output"]["S3Uri"]).join(property_file["FilePath"])
        return json.loads(self._s3.get_bytes(uri))

    # -- models and endpoints ----------------------------------------------------
    def create_model(self, ModelName: str, **request: Any) -> dict[str, str]:
        containers = request.get("Containers") or [request.get("PrimaryContainer") or {}]
        if len(containers) != 1:
            raise validation_error("CreateModel", "the local harness serves single-container models only")
        container = containers[0]
        if container.get("ModelPackageName"):  # deploying a registered package: it is a blueprint
            package = self._registry.describe_package(container["ModelPackageName"])
            container = {**package["InferenceSpecification"]["Containers"][0], **container}
        if not container.get("Image") or not container.get("ModelDataUrl"):
            raise validation_error("CreateModel", f"model {ModelName} needs an Image and a ModelDataUrl")
        self._models[ModelName] = ModelDefinition(
            ModelName, container["Image"], container["ModelDataUrl"], dict(container.get("Environment") or {})
        )
        return {"ModelArn": sagemaker_arn("model", ModelName)}

    def describe_model(self, ModelName: str) -> dict[str, Any]:
        model = self._model(ModelName, "DescribeModel")
        return {
            "ModelName": model.name,
            "ModelArn": sagemaker_arn("model", model.name),
            "PrimaryContainer": {
                "Image": model.image,
                "ModelDataUrl": model.model_data_url,
                "Environment": model.environment,
            },
        }

    def delete_model(self, ModelName: str) -> dict[str, Any]:
        self._models.pop(ModelName, None)
        return {}

    def _model(self, name: str, operation: str) -> ModelDefinition:
        if name not in self._models:
            raise validation_error(operation, f'Could not find model "{sagemaker_arn("model", name)}".')
        return self._models[name]

    def create_endpoint_config(self, EndpointConfigName: str, **request: Any) -> dict[str, str]:
        arn = sagemaker_arn("endpoint-config", EndpointConfigName)
        if EndpointConfigName in self._endpoint_configs:
            raise validation_error(
                "CreateEndpointConfig", f'Cannot create already existing endpoint configuration "{arn}".'
            )
        for variant in request.get("ProductionVariants") or []:
            self._model(variant.get("ModelName", ""), "CreateEndpointConfig")
        self._endpoint_configs[EndpointConfigName] = dict(request)
        return {"EndpointConfigArn": arn}

    def describe_endpoint_config(self, EndpointConfigName: str) -> dict[str, Any]:
        if EndpointConfigName not in self._endpoint_configs:
            raise validation_error(
                "DescribeEndpointConfig",
                f'Could not find endpoint configuration "{sagemaker_arn("endpoint-config", EndpointConfigName)}".',
            )
        return {"EndpointConfigName": EndpointConfigName, **self._endpoint_configs[EndpointConfigName]}

    def delete_endpoint_config(self, EndpointConfigName: str) -> dict[str, Any]:
        self._endpoint_configs.pop(EndpointConfigName, None)
        return {}

    def create_endpoint(self, EndpointName: str, EndpointConfigName: str, **_: Any) -> dict[str, str]:
        config = self.describe_endpoint_config(EndpointConfigName)
        model = self._model(config["ProductionVariants"][0]["ModelName"], "CreateEndpoint")
        self._endpoints.start(EndpointName, EndpointConfigName, config, model)
        return {"EndpointArn": sagemaker_arn("endpoint", EndpointName)}

    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:
        found = self._endpoints.status(EndpointName)
        if found is None:
            raise not_found_endpoint("DescribeEndpoint", EndpointName)
        endpoint, status = found
        return {
            "EndpointName": EndpointName,
            "EndpointArn": sagemaker_arn("endpoint", EndpointName),
            "EndpointConfigName": endpoint.config_name,
            "EndpointStatus": status,
            "CreationTime": endpoint.created,
            "ProductionVariants": [{"VariantName": endpoint.variant}],
            "DataCaptureConfig": {"EnableCapture": endpoint.capture is not None},
        }

    def delete_endpoint(self, EndpointName: str) -> dict[str, Any]:
        self._endpoints.stop(EndpointName)  # answers at once; the endpoint is Deleting until its container is gone
        return {}

    def get_waiter(self, waiter_name: str) -> EndpointWaiter:
        """boto3's endpoint waiters; they return once the state is reached (nothing here needs polling)."""
        if waiter_name not in ENDPOINT_WAITERS:
            raise UserError(
                f"the SageMaker waiter {waiter_name} is not supported by the local harness",
                fix=f"supported waiters: {', '.join(ENDPOINT_WAITERS)}; or poll the describe call yourself",
            )
        return EndpointWaiter(waiter_name, self._endpoints)

    # -- model registry ----------------------------------------------------------
    def create_model_package_group(self, ModelPackageGroupName: str, **request: Any) -> dict[str, str]:
        return self._registry.create_group(ModelPackageGroupName, request.get("ModelPackageGroupDescription", ""))

    def describe_model_package_group(self, ModelPackageGroupName: str) -> dict[str, Any]:
        return self._registry.describe_group(ModelPackageGroupName)

    def create_model_package(self, **request: Any) -> dict[str, str]:
        return self._registry.create_package(request)

    def describe_model_package(self, ModelPackageName: str) -> dict[str, Any]:
        return self._registry.describe_package(ModelPackageName)

    def list_model_packages(
        self,
        ModelPackageGroupName: str,
        ModelApprovalStatus: str | None = None,
        SortOrder: str = "Descending",
        **_: Any,
    ) -> dict[str, Any]:
        summaries = self._registry.list_packages(
            ModelPackageGroupName, ModelApprovalStatus, descending=SortOrder == "Descending"
        )
        return {"ModelPackageSummaryList": summaries}

    def update_model_package(
        self, ModelPackageArn: str, ModelApprovalStatus: str, ApprovalDescription: str = "", **_: Any
    ) -> dict[str, str]:
        return self._registry.update_package(ModelPackageArn, ModelApprovalStatus, ApprovalDescription)

    # -- pipelines -----------------------------------------------------------------
    def create_pipeline(
        self, pipeline: Any = None, pipeline_description: str | None = None, **request: Any
    ) -> dict[str, str]:
        name, definition = _pipeline_source(pipeline, request)
        if name in self._pipelines:
            raise validation_error("CreatePipeline", f"Pipeline names must be unique: {name} already exists")
        return self._store_pipeline(name, definition, pipeline_description)

    def update_pipeline(
        self, pipeline: Any = None, pipeline_description: str | None = None, **request: Any
    ) -> dict[str, str]:
        name, definition = _pipeline_source(pipeline, request)
        if name not in self._pipelines:
            raise not_found("UpdatePipeline", f"Pipeline {name} does not exist")
        return self._store_pipeline(name, definition, pipeline_description)

    def _store_pipeline(self, name: str, definition: str, description: str | None) -> dict[str, str]:
        validate(json.loads(definition))  # refuse unsupported steps before anything runs
        arn = sagemaker_arn("pipeline", name)
        self._pipelines[name] = {
            "PipelineName": name,
            "PipelineArn": arn,
            "PipelineDefinition": definition,
            "PipelineDescription": description or "",
            "LastModifiedTime": datetime.now(UTC),
        }
        return {"PipelineArn": arn}

    def describe_pipeline(self, PipelineName: str) -> dict[str, Any]:
        if PipelineName not in self._pipelines:
            raise not_found("DescribePipeline", f"Pipeline {PipelineName} does not exist")
        return dict(self._pipelines[PipelineName])

    def start_pipeline_execution(
        self, PipelineName: str, PipelineParameters: Any = None, **options: Any
    ) -> LocalExecution:
        if options.get("SelectiveExecutionConfig"):
            raise UserError("SelectiveExecutionConfig is not supported locally", fix="run the whole pipeline")
        definition = json.loads(self.describe_pipeline(PipelineName)["PipelineDefinition"])
        run = PipelineRun(definition, PipelineName, _parameter_values(PipelineParameters), self, self._on_event)
        self.executions.append(run)
        return LocalExecution(run.run())


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
        **_: Any,
    ) -> dict[str, Any]:
        payload = Body.read() if hasattr(Body, "read") else Body
        payload = payload.encode() if isinstance(payload, str) else bytes(payload)
        answer = self._endpoints.invoke(EndpointName, payload, ContentType, Accept, CustomAttributes)
        body = answer.pop("Body")
        answer["Body"] = StreamingBody(io.BytesIO(body), len(body))
        answer["ResponseMetadata"] = {"HTTPStatusCode": 200}
        return {k: v for k, v in answer.items() if v is not None}


def _described(kind: str, request: Mapping[str, Any], outcome: JobOutcome, extra: dict[str, Any]) -> dict[str, Any]:
    described = {
        **request,
        **extra,
        f"{kind}JobName": outcome.name,
        f"{kind}JobArn": sagemaker_arn(f"{kind.lower()}-job", outcome.name),
        f"{kind}JobStatus": outcome.status,
        "CreationTime": outcome.started,
        f"{kind}StartTime": outcome.started,
        f"{kind}EndTime": outcome.ended,
    }
    if outcome.failure_reason:
        described["FailureReason"] = outcome.failure_reason
    return described


def _pipeline_source(pipeline: Any, request: Mapping[str, Any]) -> tuple[str, str]:
    if pipeline is not None:  # the SDK's local-mode call passes the Pipeline object
        return str(pipeline.name), str(pipeline.definition())
    if "PipelineDefinition" not in request:
        raise validation_error("CreatePipeline", "PipelineDefinition is required (S3 locations are not supported)")
    return str(request["PipelineName"]), str(request["PipelineDefinition"])


def _parameter_values(parameters: Any) -> dict[str, Any]:
    if parameters is None:
        return {}
    if isinstance(parameters, Mapping):
        return dict(parameters)
    return {item["Name"]: item["Value"] for item in parameters}  # the boto shape: [{"Name", "Value"}]
