"""The session users swap in: the SageMaker SDK's LocalPipelineSession, wired
to the embedded S3 and to the harness's own SageMaker API instead of the SDK's
Docker Compose runner. Telemetry is off and credentials are static dummies, so
the SDK has no reason to reach AWS.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from harness.api import LocalRuntimeClient, LocalSageMakerClient
from harness.sandbox import offline_sdk_import
from harness.storage import EmbeddedS3

with offline_sdk_import():  # importing the SDK builds a boto3 session: it must see offline settings
    import sagemaker.utils as sdk_utils
    from sagemaker.local.local_session import LocalSession
    from sagemaker.workflow.pipeline_context import LocalPipelineSession

# The SDK reads this instead of the user's config files: telemetry off.
SDK_CONFIG = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}


def validate_config_once() -> None:
    """Make the SDK validate each distinct config once, not on every lookup.

    The SDK re-validates its whole config schema with jsonschema on every
    config lookup (about 0.1 s each, about a hundred per pipeline build), and
    a non-empty config (ours turns telemetry off) makes every lookup pay it.
    A config that passed once passes again: the result is cached by content.
    """
    # The SDK's modules look the function up in sagemaker.utils at call time, so the wrapper goes there.
    namespace = vars(sdk_utils)
    if not isinstance(namespace["validate_sagemaker_config"], _ValidatesOnce):
        namespace["validate_sagemaker_config"] = _ValidatesOnce(namespace["validate_sagemaker_config"])


class _ValidatesOnce:
    """The SDK's config validation, remembering which configs already passed."""

    def __init__(self, original: Callable[[dict[str, Any] | None], None]) -> None:
        self._original = original
        self._validated: set[str] = set()

    def __call__(self, sagemaker_config: dict[str, Any] | None = None) -> None:
        key = json.dumps(sagemaker_config, sort_keys=True, default=str)
        if key not in self._validated:
            self._original(sagemaker_config)
            self._validated.add(key)


class HarnessSession(LocalPipelineSession):
    def __init__(
        self, s3: EmbeddedS3, bucket: str, client: LocalSageMakerClient | None, runtime: LocalRuntimeClient | None
    ) -> None:
        """Without clients (None) the session only builds pipeline definitions; it runs nothing."""
        validate_config_once()
        self._harness_clients = (client, runtime)
        s3.ensure_bucket(bucket)
        LocalSession.__init__(
            self,
            boto_session=s3.boto_session,
            default_bucket=bucket,
            s3_endpoint_url=s3.endpoint_url,
            sagemaker_config=SDK_CONFIG,
        )

    def _initialize(
        self, boto_session: Any, sagemaker_client: Any, sagemaker_runtime_client: Any, *args: Any, **kwargs: Any
    ) -> None:
        super()._initialize(boto_session, sagemaker_client, sagemaker_runtime_client, *args, **kwargs)
        self.sagemaker_client, self.sagemaker_runtime_client = self._harness_clients

    def logs_for_job(self, *args: Any, **kwargs: Any) -> None:
        """Logs are streamed while the job runs; nothing to fetch afterwards."""
