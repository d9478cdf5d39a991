"""A Transform step whose model container never gets healthy fails the job, the step and the execution."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness.executor import PipelineRun, job_name
from harness.local import LocalEnvironment
from harness.storage import S3Uri


@pytest.fixture
def no_serve(broken_image: Callable[[str], str]) -> str:
    """fixtures/broken-images/inference-no-serve: never answers /ping."""
    return broken_image("inference-no-serve")


def _definition(env: LocalEnvironment, image: str) -> dict:
    bucket = env.bucket
    return {
        "Steps": [
            {
                "Name": "Make",
                "Type": "Model",
                "Arguments": {
                    "PrimaryContainer": {"Image": image, "ModelDataUrl": f"s3://{bucket}/model/model.tar.gz"}
                },
            },
            {
                "Name": "Score",
                "Type": "Transform",
                "Arguments": {
                    "ModelName": {"Get": "Steps.Make.ModelName"},
                    "TransformInput": {
                        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/batch/in"}},
                        "ContentType": "text/csv",
                        "SplitType": "Line",
                    },
                    "TransformOutput": {"S3OutputPath": f"s3://{bucket}/batch/out"},
                    "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.m5.large"},
                },
            },
        ]
    }


def test_a_transform_whose_container_never_answers_ping_fails_step_and_execution(
    local_env: LocalEnvironment, no_serve: str, trained: Path, fixtures_dir: Path
) -> None:
    local_env.s3.put_file(trained / "model.tar.gz", S3Uri.parse(f"s3://{local_env.bucket}/model/model.tar.gz"))
    local_env.s3.put_file(
        fixtures_dir / "payloads" / "single_row.csv", S3Uri.parse(f"s3://{local_env.bucket}/batch/in/rows.csv")
    )
    run = PipelineRun(_definition(local_env, no_serve), "p", {}, local_env.client, lambda record: None).run()
    score = {step.name: step for step in run.steps}["Score"]
    assert (score.status, run.status) == ("Failed", "Failed")
    assert score.failure_reason.startswith("ClientError: ") and "failed its health check" in score.failure_reason
    assert score.ended is not None and run.failure_reason.startswith("Step failure: Score: ClientError: ")
    job = local_env.client.describe_transform_job(TransformJobName=job_name(run.execution_id, "Score"))
    assert job["TransformJobStatus"] == "Failed" and "failed its health check" in job["FailureReason"]
    assert local_env.s3.keys(S3Uri.parse(f"s3://{local_env.bucket}/batch/out")) == []
