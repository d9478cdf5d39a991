"""The session users swap in: the SageMaker SDK's LocalPipelineSession, wired
to the embedded S3 and to the harness's own SageMaker API instead of the SDK's
Docker Compose runner. Telemetry is off and credentials are static dummies, so
the SDK has no reason to reach AWS.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
from botocore.loaders import Loader

from harness.emulator.local_mode import LocalRuntimeClient, LocalSageMakerClient
from harness.emulator.storage import EmbeddedS3, boto_session
from harness.engine.sandbox import offline_sdk_import

with offline_sdk_import():  # importing the SDK builds a boto3 session: it must see offline settings
    import sagemaker.jumpstart.constants as sdk_jumpstart
    import sagemaker.local.local_session as sdk_local_session
    import sagemaker.utils as sdk_utils
    from sagemaker.local.local_session import LocalSession
    from sagemaker.workflow.pipeline_context import LocalPipelineSession

# The SDK reads this instead of the user's config files: telemetry off.
SDK_CONFIG = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}


def sdk_models() -> Loader | None:
    """The botocore loader of the session the SDK built at import (for JumpStart), if ours can share it.

    botocore caches each service model it parses per loader, and that loader
    already holds the SageMaker and S3 models (~18 MB parsed): a session that
    shares it parses neither again. Shared only when it searches the folders
    a session of our own would (a user's AWS_DATA_PATH may have changed them).
    """
    jumpstart: Any = sdk_jumpstart.DEFAULT_JUMPSTART_SAGEMAKER_SESSION  # None when the SDK could not build it
    if jumpstart is None:
        return None
    loader: Loader = jumpstart.boto_session._session.get_component("data_loader")
    own: Loader = boto_session()._session.get_component("data_loader")  # a loader parses nothing until asked
    return loader if _unique(loader.search_paths) == _unique(own.search_paths) else None


def _unique(paths: list[str]) -> list[str]:
    """Search paths without repeats: each boto3.Session over a loader appends boto3's own folder again."""
    return list(dict.fromkeys(paths))


@contextlib.contextmanager
def default_boto_session(session: boto3.Session) -> Iterator[None]:
    """boto3's default session is `session` for the block, unless some code set one up already.

    The SDK's Estimator creates `boto3.client("sagemaker")` on boto3's default
    session (for its TensorBoard app link), which would parse the SageMaker
    model again (~18 MB) on a session of its own; ours shares the models. Only
    `harness run-local` uses this: its process is the harness's own, so the
    global is set for the run and put back after; the library door (a user's
    process) leaves boto3's default session alone.
    """
    if boto3.DEFAULT_SESSION is not None:
        yield
        return
    boto3.DEFAULT_SESSION = session
    try:
        yield
    finally:
        if boto3.DEFAULT_SESSION is session:
            boto3.DEFAULT_SESSION = None


def validate_config_once() -> None:
    """Make the SDK validate each distinct config once, not on every lookup.

    The SDK re-validates its whole config schema with jsonschema on every
    config lookup (about 0.1 s each, about a hundred per pipeline build), and
    a non-empty config (ours turns telemetry off) makes every lookup pay it.
    A config that passed once passes again: the result is cached by content.
    """
    # The SDK's modules call the function by its name in sagemaker.utils, and LocalSession.__init__ by its
    # own imported name (twice): one wrapper in both namespaces, so they share what passed.
    namespaces = (vars(sdk_utils), vars(sdk_local_session))
    current = namespaces[0]["validate_sagemaker_config"]
    wrapper = current if isinstance(current, _ValidatesOnce) else _ValidatesOnce(current)
    for namespace in namespaces:
        namespace["validate_sagemaker_config"] = wrapper


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
