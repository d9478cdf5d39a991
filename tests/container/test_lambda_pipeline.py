"""A LambdaStep written with the SDK runs its mapped local handler: the step's inputs are its event, it reaches
the local S3 with boto3, and its typed output decides a ConditionStep whose branch runs a real container."""

from __future__ import annotations

from pathlib import Path

import pytest
from sagemaker.lambda_helper import Lambda
from sagemaker.processing import ScriptProcessor
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionGreaterThan
from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
from sagemaker.workflow.parameters import ParameterInteger
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import ProcessingStep

from harness.emulator.environment import EnvironmentOptions, LocalEnvironment
from harness.emulator.lambda_step import LambdaHandler
from harness.emulator.pipeline_options import PipelineOptions
from harness.emulator.storage import S3Uri
from harness.engine.docker import Engine
from harness.project.images import ImageKind

ROLE = "arn:aws:iam::000000000000:role/r"
ARN = "arn:aws:lambda:us-east-1:111122223333:function:count-rows"
HANDLER = """
import boto3
def lambda_handler(event, context):
    s3 = boto3.client("s3")
    s3.put_object(Bucket=event["bucket"], Key="lambda/seen.txt", Body=f"{context.function_name} {event['rows']}")
    print("counted", event["rows"], "rows")
    return {"rows": event["rows"] * 10, "verdict": "enough"}
"""


@pytest.mark.filterwarnings("ignore:Lambda function won't be updated")  # the SDK's note on a bare ARN
def test_a_lambda_steps_output_drives_the_pipeline(
    engine: Engine, images: dict[ImageKind, str], tmp_path: Path
) -> None:
    (tmp_path / "count.py").write_text(HANDLER)
    (tmp_path / "after.py").write_text("print('the branch ran')\n")
    handlers = {"count-rows": LambdaHandler(tmp_path / "count.py", "lambda_handler", 60)}
    options = EnvironmentOptions(scope_name="lambda-test", pipelines=PipelineOptions(lambdas=handlers))
    lines: list[tuple[str, str]] = []
    with LocalEnvironment.open(tmp_path / "state", engine, lambda job, line: lines.append((job, line)),
                               lambda r: None, options) as env:  # fmt: skip
        rows = ParameterInteger("Rows", default_value=7)
        count = LambdaStep(
            "CountRows", lambda_func=Lambda(function_arn=ARN, session=env.session),
            inputs={"rows": rows, "bucket": env.bucket},
            outputs=[LambdaOutput("rows", LambdaOutputTypeEnum.Integer), LambdaOutput("verdict")],
        )  # fmt: skip
        processor = ScriptProcessor(
            image_uri=images[ImageKind.PROCESSING], command=["python3"], role=ROLE, instance_count=1,
            instance_type="ml.m5.large", sagemaker_session=env.session,
        )  # fmt: skip
        after = ProcessingStep("After", step_args=processor.run(code=str(tmp_path / "after.py")))
        check = ConditionStep("Enough", conditions=[ConditionGreaterThan(count.properties.Outputs["rows"], 50)],
                              if_steps=[after], else_steps=[])  # fmt: skip
        pipeline = Pipeline(name="with-lambda", parameters=[rows], steps=[count, check], sagemaker_session=env.session)
        pipeline.upsert(role_arn=ROLE)
        execution = pipeline.start()
        steps = {s["StepName"]: s for s in env.client.list_pipeline_execution_steps(
            PipelineExecutionArn=execution.arn)["PipelineExecutionSteps"]}  # fmt: skip
        assert {name: s["StepStatus"] for name, s in steps.items()} == {
            "CountRows": "Succeeded", "Enough": "Succeeded", "After": "Succeeded"
        }  # fmt: skip
        assert steps["CountRows"]["Metadata"]["Lambda"] == {
            "Arn": ARN, "OutputParameters": [{"Name": "rows", "Value": "70"}, {"Name": "verdict", "Value": "enough"}]
        }  # fmt: skip
        assert env.s3.get_bytes(S3Uri(env.bucket, "lambda/seen.txt")) == b"count-rows 7"
    assert any(line == "counted 7 rows" for _, line in lines)
    assert any(line == "the branch ran" for _, line in lines)
