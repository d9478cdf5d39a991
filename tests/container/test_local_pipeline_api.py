"""Pipelines and the registry through the SageMaker SDK session users swap in."""

import pytest
from sagemaker.lambda_helper import Lambda
from sagemaker.processing import ProcessingInput, ScriptProcessor
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.lambda_step import LambdaStep
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import ProcessingStep

from harness.emulator.environment import LocalEnvironment
from harness.emulator.registry import ModelRegistry
from harness.engine.docker import Engine
from harness.errors import UserError

ROLE = "arn:aws:iam::000000000000:role/r"


def scoped_containers(engine: Engine, env: LocalEnvironment) -> list:
    return [c for c in engine.containers({}) if c.scope == env.scope.id]


@pytest.mark.filterwarnings("ignore:Lambda function won't be updated")  # the SDK's note on a bare ARN
def test_an_unmapped_lambda_step_is_refused_before_any_container(local_env: LocalEnvironment, engine: Engine) -> None:
    notify = LambdaStep(
        "Notify",
        lambda_func=Lambda(function_arn="arn:aws:lambda:us-east-1:000000000000:function:f", session=local_env.session),
    )
    pipeline = Pipeline(
        name="with-lambda", steps=[notify, FailStep("Stop", error_message="x")], sagemaker_session=local_env.session
    )
    with pytest.raises(UserError) as caught:
        pipeline.upsert(role_arn=ROLE)
    assert "step 'Notify' invokes the Lambda function arn:aws:lambda:us-east-1:000000000000:function:f" in str(
        caught.value
    )
    assert '[tool.harness.lambda] "f"' in caught.value.fix
    assert scoped_containers(engine, local_env) == []


def test_unsupported_argument_is_refused_with_the_step_named(
    local_env: LocalEnvironment, images: dict, engine: Engine
) -> None:
    processor = ScriptProcessor(
        image_uri=images["processing"],
        command=["python3"],
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        sagemaker_session=local_env.session,
    )
    step = ProcessingStep(
        "Prep",
        step_args=processor.run(
            code="jobs/preprocess.py",
            inputs=[ProcessingInput(source=f"s3://{local_env.bucket}/raw", destination="/data/raw")],
        ),
    )
    pipeline = Pipeline(name="bad-path", steps=[step], sagemaker_session=local_env.session)
    with pytest.raises(UserError, match="input LocalPath /data/raw must be a folder under /opt/ml/processing/"):
        pipeline.upsert(role_arn=ROLE)
    assert scoped_containers(engine, local_env) == []


def test_registry_through_the_sessions_client(local_env: LocalEnvironment) -> None:
    client = local_env.session.sagemaker_client
    client.create_model_package_group(ModelPackageGroupName="team", ModelPackageGroupDescription="ours")
    spec = {
        "Containers": [{"Image": "img", "ModelDataUrl": f"s3://{local_env.bucket}/m.tar.gz"}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }
    arns = [
        client.create_model_package(ModelPackageGroupName="team", InferenceSpecification=spec)["ModelPackageArn"]
        for _ in range(2)
    ]
    listed = client.list_model_packages(ModelPackageGroupName="team")["ModelPackageSummaryList"]
    assert [p["ModelPackageVersion"] for p in listed] == [2, 1]
    assert {p["ModelApprovalStatus"] for p in listed} == {"PendingManualApproval"}
    client.update_model_package(ModelPackageArn=arns[1], ModelApprovalStatus="Approved")
    assert client.describe_model_package(ModelPackageName=arns[1])["ModelApprovalStatus"] == "Approved"
    approved = client.list_model_packages(ModelPackageGroupName="team", ModelApprovalStatus="Approved")
    assert [p["ModelPackageArn"] for p in approved["ModelPackageSummaryList"]] == [arns[1]]
    # Persisted in the environment's state folder: a new registry reads back the same versions and approval.
    reopened = ModelRegistry(local_env.state_dir / "registry.json")
    assert [(p["ModelPackageVersion"], p["ModelApprovalStatus"]) for p in reopened.list_packages("team")] == [
        (2, "Approved"),
        (1, "PendingManualApproval"),
    ]
    assert reopened.describe_group("team")["ModelPackageGroupDescription"] == "ours"


def test_an_operation_the_harness_lacks_is_named(local_env: LocalEnvironment) -> None:
    with pytest.raises(UserError, match="the SageMaker operation create_auto_ml_job is not supported"):
        local_env.session.sagemaker_client.create_auto_ml_job(AutoMLJobName="x")
