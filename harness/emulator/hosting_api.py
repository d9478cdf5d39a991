"""SageMaker's hosting operations: models, endpoint configurations and endpoints.

CreateEndpoint returns once the endpoint is InService or Failed (the SDK's
`deploy()` then sees a terminal state on its first DescribeEndpoint). A
container that never gets healthy leaves the endpoint Failed with the reason,
as in the service, rather than failing the request.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from harness.emulator.arns import sagemaker_arn
from harness.emulator.awserrors import failure_reason, validation_error
from harness.emulator.hosting import EndpointHost, ModelDefinition, not_found_endpoint
from harness.emulator.paging import page
from harness.emulator.registry import ModelRegistry
from harness.emulator.replies import run_until_reply
from harness.emulator.storage import EmbeddedS3, S3Uri
from harness.errors import HarnessError


@dataclass(frozen=True)
class _FailedEndpoint:
    config_name: str
    reason: str
    created: datetime


class HostingApi:
    def __init__(self, endpoints: EndpointHost, registry: ModelRegistry, s3: EmbeddedS3) -> None:
        self._endpoints = endpoints
        self._registry = registry
        self._s3 = s3
        self._lock = threading.Lock()
        self._models: dict[str, tuple[ModelDefinition, dict[str, Any]]] = {}
        self._configs: dict[str, dict[str, Any]] = {}
        self._failed: dict[str, _FailedEndpoint] = {}
        self._background = ThreadPoolExecutor(thread_name_prefix="endpoint")  # threads start on first use

    def close(self) -> None:
        """Waits for endpoints still starting (after a reply's deadline): none may outlive the environment."""
        self._background.shutdown(wait=True)

    # -- models --------------------------------------------------------------------------
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
        self._check_model_data(str(container["ModelDataUrl"]))
        arn = sagemaker_arn("model", ModelName)
        with self._lock:
            if ModelName in self._models:
                raise validation_error("CreateModel", f'Cannot create already existing model "{arn}".')
            definition = ModelDefinition(
                ModelName, container["Image"], container["ModelDataUrl"], dict(container.get("Environment") or {})
            )
            described = {
                "ModelName": ModelName,
                "ModelArn": arn,
                "PrimaryContainer": {k: v for k, v in container.items() if k != "ModelPackageName"},
                "ExecutionRoleArn": request.get("ExecutionRoleArn", ""),
                "CreationTime": datetime.now(UTC),
            }
            self._models[ModelName] = (definition, described)
        return {"ModelArn": arn}

    def _check_model_data(self, url: str) -> None:
        """SageMaker refuses CreateModel for a model artifact that is not there (the seed's deploy-too-early)."""
        uri = S3Uri.parse(url)
        if not url.endswith("/") and not self._s3.exists(uri):
            raise validation_error(
                "CreateModel",
                f"Could not find model data at {uri}: the training job that writes it has not finished (wait for "
                "the pipeline execution and check ModelArtifacts.S3ModelArtifacts before deploying)",
            )

    def describe_model(self, ModelName: str) -> dict[str, Any]:
        self.model(ModelName, "DescribeModel")
        return dict(self._models[ModelName][1])

    def list_models(self, **request: Any) -> dict[str, Any]:
        summaries = [{k: d[k] for k in ("ModelName", "ModelArn", "CreationTime")} for _, d in self._models.values()]
        return page(summaries, request, "Models", "ModelName")

    def delete_model(self, ModelName: str) -> dict[str, Any]:
        self.model(ModelName, "DeleteModel")
        self._models.pop(ModelName, None)
        return {}

    def model(self, name: str, operation: str) -> ModelDefinition:
        if name not in self._models:
            raise validation_error(operation, f'Could not find model "{sagemaker_arn("model", name)}".')
        return self._models[name][0]

    # -- endpoint configurations ---------------------------------------------------------
    def create_endpoint_config(self, EndpointConfigName: str, **request: Any) -> dict[str, str]:
        arn = sagemaker_arn("endpoint-config", EndpointConfigName)
        for variant in request.get("ProductionVariants") or []:
            self.model(variant.get("ModelName", ""), "CreateEndpointConfig")
        with self._lock:
            if EndpointConfigName in self._configs:
                raise validation_error(
                    "CreateEndpointConfig", f'Cannot create already existing endpoint configuration "{arn}".'
                )
            self._configs[EndpointConfigName] = {
                **request,
                "EndpointConfigName": EndpointConfigName,
                "EndpointConfigArn": arn,
                "CreationTime": datetime.now(UTC),
            }
        return {"EndpointConfigArn": arn}

    def describe_endpoint_config(self, EndpointConfigName: str) -> dict[str, Any]:
        if EndpointConfigName not in self._configs:
            raise validation_error(
                "DescribeEndpointConfig",
                f'Could not find endpoint configuration "{sagemaker_arn("endpoint-config", EndpointConfigName)}".',
            )
        return dict(self._configs[EndpointConfigName])

    def list_endpoint_configs(self, **request: Any) -> dict[str, Any]:
        fields = ("EndpointConfigName", "EndpointConfigArn", "CreationTime")
        summaries = [{k: c[k] for k in fields} for c in self._configs.values()]
        return page(summaries, request, "EndpointConfigs", "EndpointConfigName")

    def delete_endpoint_config(self, EndpointConfigName: str) -> dict[str, Any]:
        self.describe_endpoint_config(EndpointConfigName)
        self._configs.pop(EndpointConfigName, None)
        return {}

    # -- endpoints -----------------------------------------------------------------------
    def create_endpoint(self, EndpointName: str, EndpointConfigName: str, **_: Any) -> dict[str, str]:
        with self._lock:
            if EndpointName in self._failed:
                raise validation_error(
                    "CreateEndpoint",
                    f'Cannot create already existing endpoint "{sagemaker_arn("endpoint", EndpointName)}".',
                )
            self._endpoints.reserve(EndpointName, EndpointConfigName)  # refused if it exists or starts already
        try:  # to InService (or Failed), or until the HTTP reply's deadline: then it is Creating, as in AWS
            run_until_reply(self._background, lambda: self._serve_reserved(EndpointName, EndpointConfigName))
        except BaseException:
            self._endpoints.release(EndpointName)
            raise
        return {"EndpointArn": sagemaker_arn("endpoint", EndpointName)}

    def _serve_reserved(self, name: str, config_name: str) -> None:
        try:
            self._serve(name, config_name)
        finally:
            self._endpoints.release(name)

    def _serve(self, name: str, config_name: str) -> None:
        """The request is refused now if it is invalid; once the endpoint exists, a failure to start (no model
        data, a container that never gets healthy) leaves it Failed with the reason, as in AWS."""
        config = self.describe_endpoint_config(config_name)
        variants = config.get("ProductionVariants") or []
        if len(variants) != 1:
            raise validation_error(
                "CreateEndpoint",
                f"endpoint config {config_name} has {len(variants)} production variants; "
                "the local harness serves exactly one",
            )
        model = self.model(variants[0]["ModelName"], "CreateEndpoint")
        try:
            self._endpoints.start(name, config_name, config, model)
        except (HarnessError, ClientError) as error:
            self._failed[name] = _FailedEndpoint(config_name, failure_reason(error), datetime.now(UTC))

    def update_endpoint(self, EndpointName: str, EndpointConfigName: str, **_: Any) -> dict[str, str]:
        """Serves the new configuration, then retires the old container (the service swaps them likewise)."""
        if self._endpoints.status(EndpointName) is None:
            raise not_found_endpoint("UpdateEndpoint", EndpointName)
        self.describe_endpoint_config(EndpointConfigName)
        self._endpoints.stop(EndpointName)
        self._endpoints.wait_deleted(EndpointName)
        self._endpoints.reserve(EndpointName, EndpointConfigName)
        self._serve_reserved(EndpointName, EndpointConfigName)
        return {"EndpointArn": sagemaker_arn("endpoint", EndpointName)}

    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:
        arn = sagemaker_arn("endpoint", EndpointName)
        failed = self._failed.get(EndpointName)
        if failed is not None:
            return {
                "EndpointName": EndpointName,
                "EndpointArn": arn,
                "EndpointConfigName": failed.config_name,
                "EndpointStatus": "Failed",
                "FailureReason": failed.reason,
                "CreationTime": failed.created,
                "LastModifiedTime": failed.created,
            }
        found = self._endpoints.status(EndpointName)
        creating = self._endpoints.creating(EndpointName)
        if found is None and creating is not None:  # its image (a stand-in, built once) or container still starting
            return {
                "EndpointName": EndpointName,
                "EndpointArn": arn,
                "EndpointConfigName": creating[0],
                "EndpointStatus": "Creating",
                "CreationTime": creating[1],
                "LastModifiedTime": creating[1],
            }
        if found is None:
            raise not_found_endpoint("DescribeEndpoint", EndpointName)
        endpoint, status = found
        return {
            "EndpointName": EndpointName,
            "EndpointArn": arn,
            "EndpointConfigName": endpoint.config_name,
            "EndpointStatus": status,
            "CreationTime": endpoint.created,
            "LastModifiedTime": endpoint.created,
            "ProductionVariants": [
                {"VariantName": endpoint.variant, "CurrentInstanceCount": 1, "DesiredInstanceCount": 1}
            ],
            "DataCaptureConfig": _capture_status(endpoint.capture is not None),
        }

    def list_endpoints(self, **request: Any) -> dict[str, Any]:
        names = [*self._endpoints.endpoints, *self._failed]
        fields = ("EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime", "EndpointStatus")
        summaries: list[Mapping[str, Any]] = []
        for name in names:
            try:
                described = self.describe_endpoint(name)
            except Exception:  # noqa: BLE001 (deleted between the listing and the describe: not listed)
                continue
            summaries.append({k: described[k] for k in fields})
        return page(summaries, request, "Endpoints", "EndpointName")

    def delete_endpoint(self, EndpointName: str) -> dict[str, Any]:
        if self._failed.pop(EndpointName, None) is not None:
            return {}
        self._endpoints.stop(EndpointName)  # answers at once; the endpoint is Deleting until its container is gone
        return {}


def _capture_status(enabled: bool) -> dict[str, Any]:
    return {"EnableCapture": enabled, "CaptureStatus": "Started" if enabled else "Stopped"}
