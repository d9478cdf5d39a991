"""Carrying out a promotion plan (`--yes`). Every step is idempotent, so a
re-run after a partial failure continues where it stopped."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

from harness.emulator.sdk_session import SDK_CONFIG
from harness.emulator.storage import S3Uri
from harness.engine.docker import Engine
from harness.errors import AwsError, InfrastructureError
from harness.promote.aws import AwsClients, already_exists, aws_call, head_object
from harness.promote.definitions import differences
from harness.promote.plan import ImagePush, Plan, Upload
from harness.promote.settings import PromoteSettings

TERMINAL = ("Succeeded", "Failed", "Stopped")


def require_bucket(promote: PromoteSettings, clients: AwsClients) -> None:
    """The artifact bucket is the user's: check it before changing anything."""
    aws_call("HeadBucket", promote.bucket, clients.s3.head_bucket, Bucket=promote.bucket)


def ensure_repositories(plan: Plan, clients: AwsClients, on_line: Callable[[str], None]) -> None:
    for repository in plan.repositories:
        try:
            aws_call(
                "CreateRepository",
                repository.name,
                clients.ecr.create_repository,
                repositoryName=repository.name,
                imageScanningConfiguration={"scanOnPush": True},
            )
            on_line(f"created ECR repository {repository.name}")
        except AwsError as error:
            if not already_exists(error):
                raise


def push_images(
    plan: Plan, promote: PromoteSettings, clients: AwsClients, engine: Engine, on_line: Callable[[str], None]
) -> dict[str, str]:
    token = aws_call("GetAuthorizationToken", "ECR", clients.ecr.get_authorization_token)["authorizationData"][0]
    username, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    registry = promote.registry_override or urlparse(token["proxyEndpoint"]).netloc
    engine.login(username, password, registry)
    return {push.field: _push(push, engine, on_line) for push in plan.pushes}


def _push(push: ImagePush, engine: Engine, on_line: Callable[[str], None]) -> str:
    repository, tag = push.push_reference.rsplit(":", 1)
    engine.tag(push.image_id, repository, tag)  # by ID: exactly the verified content
    try:
        digest = engine.push(repository, tag, lambda line: None)
    finally:
        engine.untag(push.push_reference)  # the tag only existed for the push
    on_line(f"pushed {push.local_tag} ({push.image_id[:19]}) as {push.push_reference} ({digest[:19]})")
    return digest


def upload_inputs(uploads: tuple[Upload, ...], clients: AwsClients, on_line: Callable[[str], None]) -> None:
    for upload in uploads:
        uri = S3Uri.parse(upload.uri)
        if _same_object(clients, uri, upload.source.read_bytes()):
            on_line(f"unchanged {upload.uri}")
            continue
        aws_call(
            "PutObject",
            upload.uri,
            clients.s3.put_object,
            Bucket=uri.bucket,
            Key=uri.key,
            Body=upload.source.read_bytes(),
        )
        on_line(f"uploaded {upload.source.name} to {upload.uri}")


def _same_object(clients: AwsClients, uri: S3Uri, data: bytes) -> bool:
    head = head_object(clients, uri.bucket, uri.key)
    return head is not None and head.get("ETag", "").strip('"') == hashlib.md5(data).hexdigest()


def upsert_pipeline(
    plan: Plan, promote: PromoteSettings, clients: AwsClients, module: ModuleType, on_line: Callable[[str], None]
) -> str:
    """Build the pipeline with a cloud PipelineSession and upsert it, if it is the planned one."""
    from sagemaker.workflow.pipeline_context import PipelineSession

    session = PipelineSession(
        boto_session=clients.session,
        sagemaker_client=clients.sagemaker,
        default_bucket=promote.bucket,
        sagemaker_config=SDK_CONFIG,
    )
    images = {push.field: push.uri for push in plan.pushes}
    settings = module.PipelineSettings(
        bucket=promote.bucket, role=promote.role_arn, name=promote.pipeline_name, **images
    )
    pipeline = module.build_pipeline(session, settings)
    built = pipeline.definition()
    if json.loads(built) != json.loads(plan.definition):
        raise InfrastructureError(
            "the cloud session built another pipeline definition than the planned one",
            details="\n".join(differences(json.loads(plan.definition), json.loads(built))),
        )
    response = pipeline.upsert(role_arn=promote.role_arn, description=f"verified by local run {plan.run_id}")
    on_line(f"{'updated' if plan.pipeline_exists else 'created'} pipeline {promote.pipeline_name}")
    return str(response["PipelineArn"])


def start_execution(promote: PromoteSettings, clients: AwsClients, on_line: Callable[[str], None]) -> str:
    arn = aws_call(
        "StartPipelineExecution",
        promote.pipeline_name,
        clients.sagemaker.start_pipeline_execution,
        PipelineName=promote.pipeline_name,
    )["PipelineExecutionArn"]
    on_line(f"started execution {arn}")
    return str(arn)


def wait_for_execution(
    arn: str, clients: AwsClients, timeout_s: float, on_line: Callable[[str], None], poll_s: float = 15.0
) -> str:
    """Follow the execution with live step progress until it ends or `timeout_s` passes."""
    deadline, seen = time.monotonic() + timeout_s, dict[str, str]()
    while time.monotonic() < deadline:
        status = aws_call(
            "DescribePipelineExecution", arn, clients.sagemaker.describe_pipeline_execution, PipelineExecutionArn=arn
        )["PipelineExecutionStatus"]
        for step in _steps(clients, arn):
            if seen.get(step["StepName"]) != step["StepStatus"]:
                seen[step["StepName"]] = step["StepStatus"]
                on_line(f"  {step['StepName']}: {step['StepStatus']} {step.get('FailureReason', '')}".rstrip())
        if status in TERMINAL:
            return str(status)
        time.sleep(poll_s)
    raise InfrastructureError(
        f"execution {arn} did not finish within {timeout_s:.0f}s",
        fix="follow it in the SageMaker console, or re-run with a larger --wait-timeout",
    )


def _steps(clients: AwsClients, arn: str) -> list[dict[str, Any]]:
    steps = aws_call(
        "ListPipelineExecutionSteps", arn, clients.sagemaker.list_pipeline_execution_steps, PipelineExecutionArn=arn
    )
    return list(reversed(steps.get("PipelineExecutionSteps", [])))
