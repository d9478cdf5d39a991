"""Diabetes progression: preprocess (scikit-learn), train (built-in XGBoost), evaluate, register if good enough.

The shape of the SageMaker Projects "model building" template: AWS's scikit-learn and XGBoost images by
`sagemaker.image_uris.retrieve`, a PropertyFile read by a ConditionStep, RegisterModel with ModelMetrics, and a
FailStep on the other branch.
"""

from __future__ import annotations

import os

import boto3
import sagemaker
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.step_collections import RegisterModel
from sagemaker.workflow.steps import ProcessingStep, TrainingStep

BASE_DIR = os.path.dirname(os.path.realpath(__file__))


def get_session(region: str, default_bucket: str | None) -> PipelineSession:
    boto_session = boto3.Session(region_name=region)
    return PipelineSession(boto_session=boto_session, default_bucket=default_bucket)


def get_pipeline(
    region: str,
    role: str,
    default_bucket: str | None = None,
    model_package_group_name: str = "DiabetesPackageGroup",
    pipeline_name: str = "DiabetesPipeline",
    base_job_prefix: str = "Diabetes",
    processing_instance_type: str = "ml.m5.xlarge",
    training_instance_type: str = "ml.m5.xlarge",
) -> Pipeline:
    session = get_session(region, default_bucket)
    bucket = session.default_bucket()

    processing_instance_count = ParameterInteger(name="ProcessingInstanceCount", default_value=1)
    model_approval_status = ParameterString(name="ModelApprovalStatus", default_value="PendingManualApproval")
    input_data = ParameterString(name="InputDataUrl", default_value="s3://acme-diabetes-data/raw/diabetes.csv")
    mse_threshold = ParameterFloat(name="MseThreshold", default_value=6000.0)

    sklearn_processor = SKLearnProcessor(
        framework_version="1.2-1",
        instance_type=processing_instance_type,
        instance_count=processing_instance_count,
        base_job_name=f"{base_job_prefix}/sklearn-diabetes-preprocess",
        sagemaker_session=session,
        role=role,
    )
    step_process = ProcessingStep(
        name="PreprocessDiabetesData",
        step_args=sklearn_processor.run(
            outputs=[
                ProcessingOutput(output_name="train", source="/opt/ml/processing/train"),
                ProcessingOutput(output_name="validation", source="/opt/ml/processing/validation"),
                ProcessingOutput(output_name="test", source="/opt/ml/processing/test"),
            ],
            code=os.path.join(BASE_DIR, "preprocess.py"),
            arguments=["--input-data", input_data],
        ),
    )

    model_path = f"s3://{bucket}/{base_job_prefix}/DiabetesTrain"
    image_uri = sagemaker.image_uris.retrieve(
        framework="xgboost", region=region, version="1.7-1", py_version="py3", instance_type=training_instance_type
    )
    xgb_train = Estimator(
        image_uri=image_uri,
        instance_type=training_instance_type,
        instance_count=1,
        output_path=model_path,
        base_job_name=f"{base_job_prefix}/diabetes-train",
        sagemaker_session=session,
        role=role,
    )
    xgb_train.set_hyperparameters(
        objective="reg:squarederror", num_round=50, max_depth=4, eta=0.2, gamma=4, min_child_weight=6, subsample=0.7
    )
    step_train = TrainingStep(
        name="TrainDiabetesModel",
        step_args=xgb_train.fit(
            inputs={
                "train": TrainingInput(
                    s3_data=step_process.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri,
                    content_type="text/csv",
                ),
                "validation": TrainingInput(
                    s3_data=step_process.properties.ProcessingOutputConfig.Outputs["validation"].S3Output.S3Uri,
                    content_type="text/csv",
                ),
            },
        ),
    )

    script_eval = ScriptProcessor(
        image_uri=image_uri,
        command=["python3"],
        instance_type=processing_instance_type,
        instance_count=1,
        base_job_name=f"{base_job_prefix}/script-diabetes-eval",
        sagemaker_session=session,
        role=role,
    )
    evaluation_report = PropertyFile(name="DiabetesEvaluationReport", output_name="evaluation", path="evaluation.json")
    step_eval = ProcessingStep(
        name="EvaluateDiabetesModel",
        step_args=script_eval.run(
            inputs=[
                ProcessingInput(
                    source=step_train.properties.ModelArtifacts.S3ModelArtifacts,
                    destination="/opt/ml/processing/model",
                ),
                ProcessingInput(
                    source=step_process.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri,
                    destination="/opt/ml/processing/test",
                ),
            ],
            outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")],
            code=os.path.join(BASE_DIR, "evaluate.py"),
        ),
        property_files=[evaluation_report],
    )

    model_metrics = ModelMetrics(
        model_statistics=MetricsSource(
            s3_uri=Join(
                on="/",
                values=[
                    step_eval.arguments["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"],
                    "evaluation.json",
                ],
            ),
            content_type="application/json",
        )
    )
    step_register = RegisterModel(
        name="RegisterDiabetesModel",
        estimator=xgb_train,
        model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
        content_types=["text/csv"],
        response_types=["text/csv"],
        inference_instances=["ml.t2.medium", "ml.m5.large"],
        transform_instances=["ml.m5.large"],
        model_package_group_name=model_package_group_name,
        approval_status=model_approval_status,
        model_metrics=model_metrics,
    )
    step_fail = FailStep(
        name="DiabetesMSEFail",
        error_message=Join(on=" ", values=["Execution failed due to MSE >", mse_threshold]),
    )
    cond_lte = ConditionLessThanOrEqualTo(
        left=JsonGet(
            step_name=step_eval.name, property_file=evaluation_report, json_path="regression_metrics.mse.value"
        ),
        right=mse_threshold,
    )
    step_cond = ConditionStep(
        name="CheckMSEDiabetesEvaluation", conditions=[cond_lte], if_steps=[step_register], else_steps=[step_fail]
    )

    return Pipeline(
        name=pipeline_name,
        parameters=[processing_instance_count, model_approval_status, input_data, mse_threshold],
        steps=[step_process, step_train, step_eval, step_cond],
        sagemaker_session=session,
    )
