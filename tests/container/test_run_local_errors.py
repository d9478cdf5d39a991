"""run-local's endpoint round trip: a container that fails CreateEndpoint's health check is a failed job
(exit 5, its log attached), not a bug report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.emulator.environment import LocalEnvironment
from harness.emulator.storage import S3Uri
from harness.errors import JobFailed
from harness.progress import Progress
from harness.project.config import Settings
from harness.project.run_local import _deploy_and_check
from harness.project.run_local_config import RunLocalConfig


def test_an_endpoint_that_never_gets_healthy_is_a_failed_job(
    local_env: LocalEnvironment, trained: Path, broken_image: Callable[[str], str], settings: Settings
) -> None:
    model = S3Uri(local_env.bucket, "models/job/output/model.tar.gz")
    local_env.s3.put_file(trained / "model.tar.gz", model)
    client = local_env.client
    client.create_model_package_group(ModelPackageGroupName="g")
    spec = {
        "Containers": [{"Image": broken_image("inference-wrong-port"), "ModelDataUrl": str(model)}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }
    client.create_model_package(ModelPackageGroupName="g", InferenceSpecification=spec, ModelApprovalStatus="Approved")
    pipeline_settings = SimpleNamespace(
        model_package_group="g", role="arn:aws:iam::000000000000:role/r", instance_type="ml.m5.large"
    )
    config = RunLocalConfig(
        pipeline=settings.project_root / "jobs" / "pipeline.py", payloads=settings.fixtures_dir / "payloads"
    )
    with pytest.raises(JobFailed, match=r"the endpoint check failed: endpoint g-v1-[0-9]+ is Failed") as caught:
        _deploy_and_check(config, local_env, None, pipeline_settings, Progress(show_logs=False))
    assert caught.value.exit_code == 5
    assert "listens on 8081" in caught.value.problem
    assert local_env.scope.leftovers() == []
