"""`harness promote` end to end against an AWS stand-in and a real registry."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import boto3
import pytest
from standin import AwsStandIn, LocalRegistry

from harness.engine.docker import Engine
from harness.errors import JobFailed
from harness.progress import Progress
from harness.project.config import Settings
from harness.project.images import ImageKind, build_images
from harness.project.run_local import RunOptions, run_local
from harness.promote.definitions import Substitutions

BUCKET = "mlops-sagemaker-artifacts"  # [tool.harness.promote] bucket in pyproject.toml
ROLE = "arn:aws:iam::123456789012:role/SageMakerPipelineRole"
SECRET = "planted-secret-wJalrXUtnFEMI-K7MDENG"
TAG = "promote"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> Path:
    """A copy of the project: the refusal tests edit its code."""
    copy = tmp_path_factory.mktemp("project")
    for name in ("jobs", "containers", "fixtures"):
        shutil.copytree(project_root / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(project_root / "pyproject.toml", copy / "pyproject.toml")
    return copy


@pytest.fixture(scope="module")
def verified(
    project: Path, engine: Engine, images: dict, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    settings = replace(
        Settings.from_env({"HARNESS_PROJECT_ROOT": str(project)}),
        state_dir=tmp_path_factory.mktemp("state"),
        image_tag=TAG,
    )
    build_images(settings, engine, list(ImageKind), lambda line: None)  # cached: the same IDs as :local
    record = run_local(settings, engine, Progress(show_logs=False), RunOptions(deploy=False))
    assert record["status"] == "Succeeded"
    yield settings
    for kind in ImageKind:
        engine.client.images.remove(settings.image_name(kind.value), noprune=True)


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsStandIn]:
    with AwsStandIn() as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def registry() -> Iterator[LocalRegistry]:
    with LocalRegistry() as local_registry:
        yield local_registry


def client(aws: AwsStandIn, service: str):
    return boto3.client(
        service,
        endpoint_url=aws.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def promote(settings: Settings, aws: AwsStandIn, registry: LocalRegistry, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        {
            "AWS_ENDPOINT_URL": aws.endpoint_url,
            "AWS_ACCESS_KEY_ID": "AKIASTANDIN",
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "HARNESS_PROJECT_ROOT": str(settings.project_root),
            "HARNESS_STATE_DIR": str(settings.state_dir),
            "HARNESS_IMAGE_TAG": TAG,
            "HARNESS_REGISTRY_OVERRIDE": registry.address,
            "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "promote", *args],
        env=env,
        cwd=settings.project_root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert SECRET not in result.stdout + result.stderr, "a credential was printed"
    return result


def stand_in_state(aws: AwsStandIn, registry: LocalRegistry) -> dict:
    s3 = client(aws, "s3")
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    return {
        "repositories": [r["repositoryName"] for r in client(aws, "ecr").describe_repositories()["repositories"]],
        "objects": [o["Key"] for b in buckets for o in s3.list_objects_v2(Bucket=b).get("Contents", [])],
        "pipelines": [p["PipelineName"] for p in client(aws, "sagemaker").list_pipelines()["PipelineSummaries"]],
        "registry": registry.repositories(),
    }


@pytest.fixture
def clean_aws(aws: AwsStandIn) -> AwsStandIn:
    aws.reset()
    client(aws, "s3").create_bucket(Bucket=BUCKET)
    return aws


EMPTY = {"repositories": [], "objects": [], "pipelines": []}


def test_dry_run_prints_the_whole_plan_and_changes_nothing(
    verified: Settings, clean_aws: AwsStandIn, registry: LocalRegistry
) -> None:
    before = stand_in_state(clean_aws, registry)
    result = promote(verified, clean_aws, registry)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    for kind in ("processing", "training", "inference"):
        assert f"would create  mlops-{kind}" in out
        assert f"push harness-{kind}:{TAG}" in out
    assert "upload preprocess.py" in out and "upload breast_cancer.csv" in out
    assert "Pipeline: create mlops-pipeline (definition sha256" in out and "Dry run: nothing was changed" in out
    assert stand_in_state(clean_aws, registry) == before and {k: before[k] for k in EMPTY} == EMPTY


def test_promote_pushes_the_verified_images_and_upserts_the_expected_pipeline(
    verified: Settings, clean_aws: AwsStandIn, registry: LocalRegistry, engine: Engine
) -> None:
    result = promote(verified, clean_aws, registry, "--yes", "--start")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    record = json.loads((verified.state_dir / "runs" / "latest.json").read_text())
    tag = f"run-{record['run_id']}".lower()
    state = stand_in_state(clean_aws, registry)
    assert sorted(state["repositories"]) == ["mlops-inference", "mlops-processing", "mlops-training"]
    for kind in ("processing", "training", "inference"):  # the registry holds exactly the verified content
        assert registry.config_digest(f"mlops-{kind}", tag) == record["images"][f"{kind}_image"]["id"]
    sagemaker = client(clean_aws, "sagemaker")
    deployed = json.loads(sagemaker.describe_pipeline(PipelineName="mlops-pipeline")["PipelineDefinition"])
    uris = {
        r["repositoryName"]: r["repositoryUri"]
        for r in client(clean_aws, "ecr").describe_repositories()["repositories"]
    }
    expected = Substitutions(
        bucket=(record["bucket"], BUCKET),
        role=(record["role"], ROLE),
        pipeline_name=("mlops-pipeline", "mlops-pipeline"),
        images={e["tag"]: f"{uris['mlops-' + k.removesuffix('_image')]}:{tag}" for k, e in record["images"].items()},
    )
    assert deployed == expected.apply(json.loads(record["pipeline"]["definition"]))
    assert "data/raw/breast_cancer.csv" in state["objects"]
    assert sum(key.endswith(("preprocess.py", "evaluate.py")) for key in state["objects"]) == 2
    executions = sagemaker.list_pipeline_executions(PipelineName="mlops-pipeline")["PipelineExecutionSummaries"]
    assert len(executions) == 1
    promotions = list((verified.state_dir / "promotions").glob("*.json"))
    assert promotions and SECRET not in promotions[0].read_text()
    assert not [t for image in engine.client.images.list() for t in image.tags if t.startswith(registry.address)]

    again = promote(verified, clean_aws, registry, "--yes")  # a re-run continues safely
    assert again.returncode == 0, again.stderr[-2000:]
    assert "exists        mlops-training" in again.stdout and f"unchanged s3://{BUCKET}/data/raw" in again.stdout
    assert "updated pipeline mlops-pipeline" in again.stdout
    assert stand_in_state(clean_aws, registry)["repositories"] == state["repositories"]
    assert len(client(clean_aws, "sagemaker").list_pipelines()["PipelineSummaries"]) == 1


def _approved_package(aws: AwsStandIn, model_url: str) -> None:
    sagemaker = client(aws, "sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="mlops-models")
    sagemaker.create_model_package(
        ModelPackageGroupName="mlops-models",
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [
                {"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-inference:x", "ModelDataUrl": model_url}
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )


def test_deploy_waits_for_the_artifact_and_monitor_turns_capture_on(
    verified: Settings, clean_aws: AwsStandIn, registry: LocalRegistry, trained: Path
) -> None:
    model_url = f"s3://{BUCKET}/models/train-1/output/model.tar.gz"
    _approved_package(clean_aws, model_url)
    early = promote(verified, clean_aws, registry, "--yes", "--deploy", "--monitor")
    assert early.returncode == 2, early.stdout[-1500:] + early.stderr[-1500:]
    assert f"the model artifact {model_url} does not exist (yet)" in early.stderr
    assert client(clean_aws, "sagemaker").list_endpoints()["Endpoints"] == []

    client(clean_aws, "s3").upload_file(str(trained / "model.tar.gz"), BUCKET, "models/train-1/output/model.tar.gz")
    result = promote(verified, clean_aws, registry, "--yes", "--deploy", "--monitor")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    sagemaker = client(clean_aws, "sagemaker")
    config = sagemaker.describe_endpoint(EndpointName="mlops-endpoint")["EndpointConfigName"]
    capture = sagemaker.describe_endpoint_config(EndpointConfigName=config)["DataCaptureConfig"]
    assert capture["EnableCapture"] is True and capture["DestinationS3Uri"] == f"s3://{BUCKET}/data-capture"
    schedule = clean_aws.shim.schedules["mlops-endpoint-data-quality"]
    inputs = schedule["MonitoringScheduleConfig"]["MonitoringJobDefinition"]["MonitoringInputs"]
    assert inputs[0]["EndpointInput"]["EndpointName"] == "mlops-endpoint"


def test_aws_errors_name_the_call_and_the_resource(
    verified: Settings, aws: AwsStandIn, registry: LocalRegistry
) -> None:
    aws.reset()  # no bucket: the upsert's HeadBucket fails
    result = promote(verified, aws, registry, "--yes")
    assert result.returncode == 4, result.stderr[-2000:]
    assert f"error: AWS HeadBucket on {BUCKET} failed" in result.stderr, result.stderr[-2000:]


@pytest.mark.parametrize("edit", ["job code", "pipeline definition", "image content"])
def test_promotion_refuses_what_the_run_did_not_verify(
    edit: str, verified: Settings, clean_aws: AwsStandIn, registry: LocalRegistry, engine: Engine
) -> None:
    project = verified.project_root
    restore = _edit(edit, project, verified, engine)
    try:
        result = promote(verified, clean_aws, registry, "--yes")
    finally:
        restore()
    assert result.returncode == 2, result.stdout[-1500:] + result.stderr[-1500:]
    assert "error: what would be promoted differs from what run" in result.stderr
    expected = {
        "job code": "job code changed: jobs/evaluate.py (edited)",
        "pipeline definition": "pipeline definition edited since the run: $.Parameters[AccuracyThreshold]",
        "image content": f"image harness-training:{TAG} (training_image) has other content",
    }[edit]
    assert expected in result.stderr
    assert {k: v for k, v in stand_in_state(clean_aws, registry).items() if k in EMPTY} == {**EMPTY, "objects": []}


def _edit(edit: str, project: Path, settings: Settings, engine: Engine):
    if edit in ("job code", "pipeline definition"):
        path = project / "jobs" / ("evaluate.py" if edit == "job code" else "pipeline.py")
        original = path.read_text()
        path.write_text(
            original + "\n# edited after the run\n"
            if edit == "job code"
            else original.replace('"AccuracyThreshold", default_value=0.9', '"AccuracyThreshold", default_value=0.95')
        )
        return lambda: path.write_text(original)
    tag = settings.image_name("training")
    original_id = engine.image(tag).id
    container = engine.client.containers.create(tag, entrypoint=["true"])
    try:  # a rebuilt image with other content under the same tag
        rebuilt = container.commit(repository=tag.split(":")[0], tag=TAG, changes=["LABEL rebuilt=yes"])
    finally:
        container.remove()

    def restore() -> None:
        engine.client.images.get(original_id).tag(tag.split(":")[0], TAG)
        engine.client.images.remove(rebuilt.id)

    return restore


def test_a_failed_local_run_is_not_promoted(
    verified: Settings, clean_aws: AwsStandIn, registry: LocalRegistry, engine: Engine, tmp_path: Path
) -> None:
    failed = replace(verified, state_dir=tmp_path / "failed-state")
    with pytest.raises(JobFailed, match="pipeline"):
        run_local(failed, engine, Progress(show_logs=False), RunOptions(parameters={"MaxIter": "many"}, deploy=False))
    result = promote(failed, clean_aws, registry, "--yes")
    assert result.returncode == 2
    assert "did not succeed (Failed: Step failure: Train: AlgorithmError" in result.stderr
