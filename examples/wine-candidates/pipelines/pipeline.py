"""Two candidate models trained and scored side by side, the better one picked by a Lambda function.

Prepare -> (TrainForest -> ScoreForest) and (TrainLogistic -> ScoreLogistic), at the same time -> PickWinner
(Lambda) -> CheckWinner (condition) -> Fail when even the winner is below the threshold. The job steps are cached
for a week and retried on capacity and internal errors, as a team running this often in the cloud sets them.
"""

from __future__ import annotations

from pathlib import Path

from sagemaker.inputs import TrainingInput
from sagemaker.lambda_helper import Lambda
from sagemaker.processing import ProcessingInput, ProcessingOutput
from sagemaker.sklearn.estimator import SKLearn
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
from sagemaker.workflow.parameters import ParameterFloat, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.retry import SageMakerJobExceptionTypeEnum, SageMakerJobStepRetryPolicy
from sagemaker.workflow.steps import CacheConfig, ProcessingStep, TrainingStep

HERE = Path(__file__).resolve().parent
TRAINING_CODE = HERE.parent / "training"  # the estimators' source_dir: only what the training job needs
SKLEARN_VERSION = "1.2-1"
INSTANCE_TYPE = "ml.m5.large"
DATA_URI = "s3://acme-wine-data/raw/wine.csv"
PICK_WINNER_ARN = "arn:aws:lambda:us-east-1:111122223333:function:pick-winner"
CANDIDATES = ("forest", "logistic")

CACHE = CacheConfig(enable_caching=True, expire_after="P7D")
RETRY = [
    SageMakerJobStepRetryPolicy(
        failure_reason_types=[
            SageMakerJobExceptionTypeEnum.INTERNAL_ERROR,
            SageMakerJobExceptionTypeEnum.CAPACITY_ERROR,
        ],
        max_attempts=2,
        interval_seconds=1,
    )
]


def get_pipeline(role: str, session: PipelineSession | None = None) -> Pipeline:
    session = session or PipelineSession()
    input_data = ParameterString("InputData", default_value=DATA_URI)
    min_accuracy = ParameterFloat("MinAccuracy", default_value=0.9)

    processor = SKLearnProcessor(
        framework_version=SKLEARN_VERSION,
        role=role,
        instance_type=INSTANCE_TYPE,
        instance_count=1,
        base_job_name="wine-prepare",
        sagemaker_session=session,
    )
    prepare = ProcessingStep(
        "Prepare",
        step_args=processor.run(
            code=str(HERE / "prepare.py"),
            inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input")],
            outputs=[
                ProcessingOutput(output_name=name, source=f"/opt/ml/processing/{name}") for name in ("train", "test")
            ],
        ),
        cache_config=CACHE,
        retry_policies=RETRY,
    )
    splits = prepare.properties.ProcessingOutputConfig.Outputs

    steps: list = [prepare]
    accuracies = {}
    for candidate in CANDIDATES:
        title = candidate.title()
        estimator = SKLearn(
            entry_point="train.py",
            source_dir=str(TRAINING_CODE),
            framework_version=SKLEARN_VERSION,
            hyperparameters={"model": candidate},
            role=role,
            instance_type=INSTANCE_TYPE,
            instance_count=1,
            base_job_name=f"wine-{candidate}",
            sagemaker_session=session,
        )
        train = TrainingStep(
            f"Train{title}",
            step_args=estimator.fit({"train": TrainingInput(splits["train"].S3Output.S3Uri, content_type="text/csv")}),
            cache_config=CACHE,
            retry_policies=RETRY,
        )
        report = PropertyFile(name=f"{title}Evaluation", output_name="evaluation", path="evaluation.json")
        scorer = SKLearnProcessor(
            framework_version=SKLEARN_VERSION,
            role=role,
            instance_type=INSTANCE_TYPE,
            instance_count=1,
            base_job_name=f"wine-score-{candidate}",
            sagemaker_session=session,
        )
        score = ProcessingStep(
            f"Score{title}",
            step_args=scorer.run(
                code=str(HERE / "evaluate.py"),
                inputs=[
                    ProcessingInput(
                        source=train.properties.ModelArtifacts.S3ModelArtifacts, destination="/opt/ml/processing/model"
                    ),
                    ProcessingInput(source=splits["test"].S3Output.S3Uri, destination="/opt/ml/processing/test"),
                ],
                outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")],
            ),
            property_files=[report],
            cache_config=CACHE,
            retry_policies=RETRY,
        )
        accuracies[candidate] = JsonGet(
            step_name=score.name, property_file=report, json_path="multiclass_classification_metrics.accuracy.value"
        )
        steps += [train, score]

    pick = LambdaStep(
        "PickWinner",
        lambda_func=Lambda(function_arn=PICK_WINNER_ARN, session=session),
        inputs=accuracies,
        outputs=[
            LambdaOutput("winner", LambdaOutputTypeEnum.String),
            LambdaOutput("accuracy", LambdaOutputTypeEnum.Float),
        ],
    )
    too_low = FailStep(
        "WinnerTooWeak",
        error_message=Join(
            on=" ",
            values=[
                "the best candidate,",
                pick.properties.Outputs["winner"],
                "scored",
                pick.properties.Outputs["accuracy"],
                "below",
                min_accuracy,
            ],
        ),
    )
    check = ConditionStep(
        "CheckWinner",
        conditions=[ConditionGreaterThanOrEqualTo(left=pick.properties.Outputs["accuracy"], right=min_accuracy)],
        if_steps=[],
        else_steps=[too_low],
    )
    return Pipeline(
        name="WineCandidates",
        parameters=[input_data, min_accuracy],
        steps=[*steps, pick, check],
        sagemaker_session=session,
    )
