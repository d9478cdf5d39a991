"""The session users swap in: the SageMaker SDK's LocalPipelineSession, wired
to the embedded S3 and to the harness's own SageMaker API instead of the SDK's
Docker Compose runner. Telemetry is off and credentials are static dummies, so
the SDK has no reason to reach AWS.
"""

from __future__ import annotations

import json
from typing import Any

from harness.sandbox import import_sdk_offline

import_sdk_offline()  # before the SDK modules below: importing the SDK builds a boto3 session

import sagemaker.utils as sdk_utils  # noqa: E402
from sagemaker.local.local_session import LocalSession  # noqa: E402
from sagemaker.workflow.pipeline_context import LocalPipelineSession  # noqa: E402

from harness.api import LocalRuntimeClient, LocalSageMakerClient  # noqa: E402
from harness.storage import EmbeddedS3  # noqa: E402

# The SDK reads this instead of the user's config files: telemetry off.
SDK_CONFIG = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}


def validate_config_once() -> None:
    """Make the SDK validate each distinct config once, not on every lookup.

    The SDK re-validates its whole config schema with jsonschema on every
    config lookup (about 0.1 s each, about a hundred per pipeline build), and
    a non-empty config (ours turns telemetry off) makes every lookup pay it.
    A config that passed once passes again: the result is cached by content.
    """
    original = sdk_utils.validate_sagemaker_config
    if getattr(original, "validates_once", False):
        return
    validated: set[str] = set()

    def validate(sagemaker_config: dict[str, Any] | None = None) -> None:
        key = json.dumps(sagemaker_config, sort_keys=True, default=str)
        if key not in validated:
            original(sagemaker_config)
            validated.add(key)

    validate.validates_once = True  # type: ignore[attr-defined]
    sdk_utils.validate_sagemaker_config = validate


class HarnessSession(LocalPipelineSession):
    def __init__(self, s3: EmbeddedS3, bucket: str, client: LocalSageMakerClient, runtime: LocalRuntimeClient) -> None:
        validate_config_once()
        self._harness_clients = (client, runtime)
        s3.ensure_bucket(bucket)
        LocalSession.__init__(self, boto_session=s3.boto_session, default_bucket=bucket,
                              s3_endpoint_url=s3.endpoint_url, sagemaker_config=SDK_CONFIG)

    def _initialize(self, boto_session: Any, sagemaker_client: Any, sagemaker_runtime_client: Any,
                    **kwargs: Any) -> None:
        super()._initialize(boto_session, sagemaker_client, sagemaker_runtime_client, **kwargs)
        self.sagemaker_client, self.sagemaker_runtime_client = self._harness_clients

    def logs_for_job(self, *args: Any, **kwargs: Any) -> None:
        """Logs are streamed while the job runs; nothing to fetch afterwards."""
