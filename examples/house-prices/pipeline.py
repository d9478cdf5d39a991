"""House prices: prepare, train a ridge regressor, score it, register it if good enough.

    python pipeline.py                   # upsert the "house-prices" pipeline, start it, wait
    RIDGE_ALPHA=0.5 python pipeline.py   # the same with another regularisation strength

AWS credentials and region come from boto3's default chain. SAGEMAKER_ROLE_ARN
names the execution role.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from botocore.exceptions import WaiterError
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.steps import ProcessingStep, TrainingStep

BASE_DIR = Path(__file__).resolve().parent
PIPELINE_NAME = "house-prices"
ACCOUNT_ID = "111122223333"
DEFAULT_ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/AcmeSageMakerExecution"
DATA_BUCKET = "acme-ml-data"
RAW_KEY = "raw/houses.csv"
MODEL_PACKAGE_GROUP = "house-prices"
PROCESSING_INSTANCE_TYPE = "ml.m5.large"


def image_uri(region: str, name: str) -> str:
    return f"{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/acme/{name}:1.0"


def artifact_uri(*parts: str) -> Join:
    """s3://acme-ml-data/house-prices/<execution id>/<parts...>: one folder per execution."""
    prefix = f"s3://{DATA_BUCKET}/{PIPELINE_NAME}"
    return Join(on="/", values=[prefix, ExecutionVariables.PIPELINE_EXECUTION_ID, *parts])


def get_pipeline(session: PipelineSession, role: str, region: str) -> Pipeline:
    prepare_image = image_uri(region, "house-prices-prepare")
    trainer_image = image_uri(region, "house-prices-trainer")

    training_instance_count = ParameterInteger(name="TrainingInstanceCount", default_value=1)
    training_instance_type = ParameterString(name="TrainingInstanceType", default_value="ml.m5.large")
    ridge_alpha = ParameterFloat(name="RidgeAlpha", default_value=1.0)
    max_rmse = ParameterFloat(name="MaxRmse", default_value=30_000.0)

    # PrepareFeatures: the script downloads the raw CSV itself and writes the split.
    prepare_processor = ScriptProcessor(
        image_uri=prepare_image,
        command=["python3"],
        instance_type=PROCESSING_INSTANCE_TYPE,
        instance_count=1,
        base_job_name="house-prices-prepare",
        role=role,
        sagemaker_session=session,
    )
    prepare = ProcessingStep(
        name="PrepareFeatures",
        step_args=prepare_processor.run(
            code=str(BASE_DIR / "steps" / "prepare.py"),
            arguments=["--input-bucket", DATA_BUCKET, "--input-key", RAW_KEY],
            outputs=[
                ProcessingOutput(
                    output_name="train", source="/opt/ml/processing/train", destination=artifact_uri("data", "train")
                ),
                ProcessingOutput(
                    output_name="test", source="/opt/ml/processing/test", destination=artifact_uri("data", "test")
                ),
            ],
        ),
    )
    train_uri = prepare.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri
    test_uri = prepare.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri

    # FitRegressor: the trainer image reads the "train" channel and the alpha hyperparameter.
    estimator = Estimator(
        image_uri=trainer_image,
        instance_count=training_instance_count,
        instance_type=training_instance_type,
        hyperparameters={"alpha": ridge_alpha},
        output_path=artifact_uri("models"),
        base_job_name="house-prices-train",
        role=role,
        sagemaker_session=session,
    )
    fit = TrainingStep(
        name="FitRegressor",
        step_args=estimator.fit(inputs={"train": TrainingInput(s3_data=train_uri, content_type="text/csv")}),
    )
    model_data = fit.properties.ModelArtifacts.S3ModelArtifacts

    # ScoreModel: RMSE and R^2 on the held-out split, read back through a property file.
    score_processor = ScriptProcessor(
        image_uri=prepare_image,
        command=["python3"],
        instance_type=PROCESSING_INSTANCE_TYPE,
        instance_count=1,
        base_job_name="house-prices-score",
        role=role,
        sagemaker_session=session,
    )
    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    score = ProcessingStep(
        name="ScoreModel",
        step_args=score_processor.run(
            code=str(BASE_DIR / "steps" / "evaluate.py"),
            inputs=[
                ProcessingInput(source=model_data, destination="/opt/ml/processing/model"),
                ProcessingInput(source=test_uri, destination="/opt/ml/processing/test"),
            ],
            outputs=[
                ProcessingOutput(
                    output_name="evaluation",
                    source="/opt/ml/processing/evaluation",
                    destination=artifact_uri("evaluation"),
                )
            ],
        ),
        property_files=[report],
    )
    rmse = JsonGet(step_name=score.name, property_file=report, json_path="regression_metrics.rmse.value")

    # RegisterHousePriceModel: a new version in the model package group, waiting for approval.
    model = Model(
        image_uri=trainer_image,
        model_data=model_data,
        role=role,
        sagemaker_session=session,
    )
    register = ModelStep(
        name="RegisterHousePriceModel",
        step_args=model.register(
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=["ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name=MODEL_PACKAGE_GROUP,
            approval_status="PendingManualApproval",
        ),
    )
    too_high = FailStep(
        name="RmseTooHigh",
        error_message=Join(on=" ", values=["Test RMSE", rmse, "is above MaxRmse", max_rmse]),
    )
    check = ConditionStep(
        name="CheckRmse",
        conditions=[ConditionLessThanOrEqualTo(left=rmse, right=max_rmse)],
        if_steps=[register],
        else_steps=[too_high],
    )

    return Pipeline(
        name=PIPELINE_NAME,
        parameters=[training_instance_count, training_instance_type, ridge_alpha, max_rmse],
        steps=[prepare, fit, score, check],
        sagemaker_session=session,
    )


def main() -> int:
    session = PipelineSession()
    region = session.boto_region_name
    role = os.environ.get("SAGEMAKER_ROLE_ARN", DEFAULT_ROLE_ARN)

    pipeline = get_pipeline(session, role, region)
    pipeline.upsert(role_arn=role)
    execution = pipeline.start(parameters={"RidgeAlpha": float(os.environ.get("RIDGE_ALPHA", "1.0"))})
    print(f"started {execution.arn}")

    waited = True
    try:
        execution.wait(delay=30, max_attempts=120)
    except WaiterError as error:
        waited = False
        print(f"the execution did not succeed: {error}")

    # Steps are listed newest first.
    for step in reversed(execution.list_steps()):
        print(f"{step['StepName']}: {step['StepStatus']}")
    status = execution.describe()["PipelineExecutionStatus"]
    print(f"{PIPELINE_NAME}: {status}")
    return 0 if waited and status == "Succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
