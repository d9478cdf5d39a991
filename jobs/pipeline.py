"""The seed's SageMaker pipeline, written once with the SageMaker Python SDK v2.

`build_pipeline(session, settings)` returns the same `Pipeline` for the cloud
(a `PipelineSession`) and for a local run (the harness's local session): only
the session differs. Every URI is a plain s3:// URI.

    preprocess -> train -> evaluate -> accuracy >= threshold ?
        |                              yes: register model package (with the data baseline), create model
        +-> data quality check         no:  fail
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sagemaker.drift_check_baselines import DriftCheckBaselines
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.model_monitor.dataset_format import DatasetFormat
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.workflow.check_job_config import CheckJobConfig
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterBoolean, ParameterFloat, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.quality_check_step import DataQualityCheckConfig, QualityCheckStep
from sagemaker.workflow.steps import CacheConfig, ProcessingStep, TrainingStep

JOBS_DIR = Path(__file__).resolve().parent
CONTENT_TYPES = ["text/csv", "application/json"]


@dataclass(frozen=True)
class PipelineSettings:
    bucket: str
    processing_image: str
    training_image: str
    inference_image: str
    role: str = "arn:aws:iam::000000000000:role/SageMakerPipelineRole"
    name: str = "mlops-pipeline"
    model_package_group: str = "mlops-models"
    instance_type: str = "ml.m5.large"
    # Unchanged steps reuse their last run's outputs within this time (ISO 8601; None: every step runs).
    cache_expire_after: str | None = "P30D"

    @property
    def cache(self) -> CacheConfig:
        return CacheConfig(enable_caching=self.cache_expire_after is not None, expire_after=self.cache_expire_after)

    @property
    def raw_data_uri(self) -> str:
        return f"s3://{self.bucket}/data/raw/breast_cancer.csv"

    @property
    def model_output_uri(self) -> str:
        return f"s3://{self.bucket}/models/{self.name}"

    @property
    def data_baseline_uri(self) -> str:
        return f"s3://{self.bucket}/monitoring/{self.name}/data-quality-baseline"


def _processor(session, settings: PipelineSettings, base_job_name: str) -> ScriptProcessor:
    return ScriptProcessor(
        image_uri=settings.processing_image,
        command=["python3"],
        role=settings.role,
        instance_count=1,
        instance_type=settings.instance_type,
        base_job_name=base_job_name,
        sagemaker_session=session,
    )


def _json(s3_uri) -> MetricsSource:
    return MetricsSource(s3_uri=s3_uri, content_type="application/json")


def build_pipeline(session, settings: PipelineSettings) -> Pipeline:
    input_data = ParameterString("InputData", default_value=settings.raw_data_uri)
    approval_status = ParameterString("ModelApprovalStatus", default_value="PendingManualApproval")
    regularization = ParameterString("RegularizationC", default_value="1.0")
    max_iter = ParameterString("MaxIter", default_value="1000")
    accuracy_threshold = ParameterFloat("AccuracyThreshold", default_value=0.9)
    # A pipeline's first run has no earlier baseline to check against: it only calculates and registers one.
    # Later runs pass SkipDataQualityCheck=False to check the new training data against the approved model's.
    skip_data_check = ParameterBoolean("SkipDataQualityCheck", default_value=True)
    register_data_baseline = ParameterBoolean("RegisterNewDataQualityBaseline", default_value=True)

    preprocess = ProcessingStep(
        "Preprocess",
        cache_config=settings.cache,
        step_args=_processor(session, settings, "preprocess").run(
            code=str(JOBS_DIR / "preprocess.py"),
            inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input")],
            outputs=[
                ProcessingOutput(output_name=name, source=f"/opt/ml/processing/output/{name}")
                for name in ("train", "validation", "test")
            ],
        ),
    )
    split = preprocess.properties.ProcessingOutputConfig.Outputs

    # The training data's statistics and suggested constraints: the baseline Model Monitor checks the endpoint's
    # captured requests against (label first, as the endpoint's capture puts its prediction first).
    data_quality = QualityCheckStep(
        "DataQualityCheck",
        cache_config=settings.cache,
        quality_check_config=DataQualityCheckConfig(
            baseline_dataset=split["train"].S3Output.S3Uri,
            dataset_format=DatasetFormat.csv(header=False, output_columns_position="START"),
            # One folder an execution: a later run checks against the baseline an earlier one registered.
            output_s3_uri=Join(on="/", values=[settings.data_baseline_uri, ExecutionVariables.PIPELINE_EXECUTION_ID]),
        ),
        check_job_config=CheckJobConfig(
            role=settings.role, instance_count=1, instance_type=settings.instance_type, sagemaker_session=session
        ),
        skip_check=skip_data_check,
        register_new_baseline=register_data_baseline,
        model_package_group_name=settings.model_package_group,
    )
    data_baseline = data_quality.properties

    estimator = Estimator(
        image_uri=settings.training_image,
        role=settings.role,
        instance_count=1,
        instance_type=settings.instance_type,
        output_path=settings.model_output_uri,
        base_job_name="train",
        hyperparameters={"C": regularization, "max_iter": max_iter},
        sagemaker_session=session,
    )
    train = TrainingStep(
        "Train",
        cache_config=settings.cache,
        step_args=estimator.fit(
            inputs={
                channel: TrainingInput(s3_data=split[channel].S3Output.S3Uri, content_type="text/csv")
                for channel in ("train", "validation")
            }
        ),
    )
    model_data = train.properties.ModelArtifacts.S3ModelArtifacts

    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        "Evaluate",
        property_files=[report],
        cache_config=settings.cache,
        step_args=_processor(session, settings, "evaluate").run(
            code=str(JOBS_DIR / "evaluate.py"),
            inputs=[
                ProcessingInput(source=model_data, destination="/opt/ml/processing/model"),
                ProcessingInput(source=split["test"].S3Output.S3Uri, destination="/opt/ml/processing/test"),
            ],
            outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")],
        ),
    )
    accuracy = JsonGet(
        step_name=evaluate.name, property_file=report, json_path="binary_classification_metrics.accuracy.value"
    )
    evaluation_uri = evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri

    model = Model(
        image_uri=settings.inference_image, model_data=model_data, role=settings.role, sagemaker_session=session
    )
    # A registered package is a blueprint (image + artifact + metadata), not a running service.
    register = ModelStep(
        "RegisterModel",
        step_args=model.register(
            content_types=CONTENT_TYPES,
            response_types=CONTENT_TYPES,
            inference_instances=[settings.instance_type],
            transform_instances=[settings.instance_type],
            model_package_group_name=settings.model_package_group,
            approval_status=approval_status,
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(
                    s3_uri=Join(on="/", values=[evaluation_uri, "evaluation.json"]), content_type="application/json"
                ),
                model_data_statistics=_json(data_baseline.CalculatedBaselineStatistics),
                model_data_constraints=_json(data_baseline.CalculatedBaselineConstraints),
            ),
            drift_check_baselines=DriftCheckBaselines(
                model_data_statistics=_json(data_baseline.BaselineUsedForDriftCheckStatistics),
                model_data_constraints=_json(data_baseline.BaselineUsedForDriftCheckConstraints),
            ),
        ),
    )
    create_model = ModelStep("CreateModel", step_args=model.create(instance_type=settings.instance_type))
    fail = FailStep(
        "AccuracyTooLow",
        error_message=Join(on=" ", values=["accuracy", accuracy, "is below the threshold", accuracy_threshold]),
    )
    check = ConditionStep(
        "CheckAccuracy",
        conditions=[ConditionGreaterThanOrEqualTo(left=accuracy, right=accuracy_threshold)],
        if_steps=[register, create_model],
        else_steps=[fail],
    )
    return Pipeline(
        name=settings.name,
        parameters=[
            input_data,
            approval_status,
            regularization,
            max_iter,
            accuracy_threshold,
            skip_data_check,
            register_data_baseline,
        ],
        steps=[preprocess, data_quality, train, evaluate, check],
        sagemaker_session=session,
    )
