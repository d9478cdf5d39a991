"""The promotion plan: every repository, image, object and pipeline change,
computed with read-only AWS calls and printed before anything mutates."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from harness.emulator.storage import S3Uri
from harness.errors import AwsError
from harness.project.config import Settings
from harness.project.record import sha256_text
from harness.project.run_local_config import load_run_local
from harness.promote.aws import AwsClients, aws_call, not_found
from harness.promote.definitions import Substitutions, build_definition
from harness.promote.gate import Verified
from harness.promote.settings import PromoteSettings


@dataclass(frozen=True)
class Repository:
    name: str
    uri: str
    exists: bool


@dataclass(frozen=True)
class ImagePush:
    field: str  # the PipelineSettings field it fills ([tool.harness.run-local.images])
    local_tag: str
    image_id: str
    uri: str  # what the pipeline names
    push_reference: str  # where Docker pushes it (the registry override, or the URI)


@dataclass(frozen=True)
class Upload:
    source: Path
    uri: str
    by_sdk: bool = False  # job code: the cloud PipelineSession uploads it while it builds the pipeline


@dataclass(frozen=True)
class Plan:
    run_id: str
    account: str
    repositories: tuple[Repository, ...]
    pushes: tuple[ImagePush, ...]
    uploads: tuple[Upload, ...]
    pipeline_name: str
    pipeline_exists: bool
    definition: str
    start: bool
    deploy: bool
    monitor: bool

    @property
    def definition_sha256(self) -> str:
        return sha256_text(self.definition)


def make_plan(
    settings: Settings,
    promote: PromoteSettings,
    verified: Verified,
    module: ModuleType,
    clients: AwsClients,
    start: bool,
    deploy: bool,
    monitor: bool,
) -> Plan:
    account = aws_call("GetCallerIdentity", "the credentials", clients.sts.get_caller_identity)["Account"]
    tag = f"run-{verified.run_id}".lower()
    fields = images_to_push(verified.images)
    repositories = tuple(_repository(clients, promote, account, name) for name in fields)
    pushes = tuple(
        ImagePush(
            name,
            verified.images[name]["tag"],
            verified.images[name]["id"],
            f"{repo.uri}:{tag}",
            f"{promote.registry_override}/{repo.name}:{tag}" if promote.registry_override else f"{repo.uri}:{tag}",
        )
        for name, repo in zip(fields, repositories, strict=True)
    )
    record = verified.record
    substitutions = Substitutions(
        bucket=(record["bucket"], promote.bucket),
        role=(record["role"], promote.role_arn),
        pipeline_name=(record["pipeline"]["name"], promote.pipeline_name),
        images={push.local_tag: push.uri for push in pushes},
    )
    definition = build_definition(
        module, promote.pipeline_name, promote.bucket, {push.field: push.uri for push in pushes}, promote.role_arn
    )
    uploads = _code_uploads(settings, definition) + tuple(
        Upload(settings.project_root / item["path"], substitutions.apply(item["uri"])) for item in record["seeded"]
    )
    exists = _pipeline_exists(clients, promote.pipeline_name)
    return Plan(
        verified.run_id,
        account,
        repositories,
        pushes,
        uploads,
        promote.pipeline_name,
        exists,
        definition,
        start,
        deploy,
        monitor,
    )


def images_to_push(images: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The image fields whose images are pushed: every image the run verified, as configuration named them,
    never a stand-in for AWS's own image (the cloud runs AWS's image under the same URI)."""
    return sorted(name for name, entry in images.items() if not entry.get("stand_in"))


def _repository(clients: AwsClients, promote: PromoteSettings, account: str, image_field: str) -> Repository:
    name = promote.repository(image_field)
    try:
        found = aws_call("DescribeRepositories", name, clients.ecr.describe_repositories, repositoryNames=[name])[
            "repositories"
        ][0]
        return Repository(name, found["repositoryUri"], True)
    except AwsError as error:
        if error.code != "RepositoryNotFoundException":
            raise
        return Repository(name, f"{account}.dkr.ecr.{promote.region}.amazonaws.com/{name}", False)


def _code_uploads(settings: Settings, definition: str) -> tuple[Upload, ...]:
    """The job scripts the definition names (ProcessingInputs called `code`), from the folder of the pipeline
    file that [tool.harness.run-local] names (the one run-local ran)."""
    code_dir = load_run_local(settings.project_root).pipeline.parent
    uploads = {}
    for step in _steps(json.loads(definition).get("Steps", [])):
        for item in step.get("Arguments", {}).get("ProcessingInputs", []):
            uri = item.get("S3Input", {}).get("S3Uri")
            if item.get("InputName") == "code" and isinstance(uri, str):
                uploads[uri] = Upload(code_dir / S3Uri.parse(uri).key.rsplit("/", 1)[-1], uri, by_sdk=True)
    return tuple(uploads.values())


def _steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for step in steps:
        found.append(step)
        arguments = step.get("Arguments", {})
        found += _steps(arguments.get("IfSteps", []) + arguments.get("ElseSteps", []))
    return found


def _pipeline_exists(clients: AwsClients, name: str) -> bool:
    try:
        aws_call("DescribePipeline", name, clients.sagemaker.describe_pipeline, PipelineName=name)
    except AwsError as error:
        if not_found(error):  # AWS answers ResourceNotFound, moto ValidationException "Could not find pipeline ..."
            return False
        raise
    return True


def render(plan: Plan) -> str:
    lines = [f"Promotion plan for local run {plan.run_id} (account {plan.account})", "", "ECR repositories:"]
    lines += [f"  {'exists      ' if r.exists else 'would create'}  {r.name}  {r.uri}" for r in plan.repositories]
    lines += ["", "Images (the exact content the run verified):"]
    lines += [
        f"  push {p.local_tag}  {p.image_id[:19]}  ->  {p.uri}"
        + (f"  (via {p.push_reference})" if p.push_reference != p.uri else "")
        for p in plan.pushes
    ]
    lines += ["", "S3 objects:"] + [f"  upload {u.source.name}  ->  {u.uri}" for u in plan.uploads]
    lines += [
        "",
        f"Pipeline: {'update' if plan.pipeline_exists else 'create'} {plan.pipeline_name} "
        f"(definition sha256 {plan.definition_sha256[:16]})",
        f"Start an execution: {'yes' if plan.start else 'no'}",
        f"Deploy the approved model package: {'yes' if plan.deploy else 'no'}"
        + (" with data capture and a monitoring schedule" if plan.monitor else ""),
    ]
    return "\n".join(lines)
