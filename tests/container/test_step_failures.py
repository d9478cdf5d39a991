"""Steps whose containers fail (a Transform whose model never gets healthy, or that dies mid-batch) fail the
job, the step and the execution, as in AWS."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness.emulator.environment import LocalEnvironment
from harness.emulator.executor import PipelineRun
from harness.emulator.job_names import job_name
from harness.emulator.storage import S3Uri


@pytest.fixture
def no_serve(broken_image: Callable[[str], str]) -> str:
    """fixtures/broken-images/inference-no-serve: never answers /ping."""
    return broken_image("inference-no-serve")


def _definition(env: LocalEnvironment, image: str, **transform: str) -> dict:
    """Make a model of `image`, then a Transform step on it (`transform`: more of its arguments)."""
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
                    **transform,
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


def test_a_container_that_crashes_mid_batch_fails_the_transform_job(
    local_env: LocalEnvironment, broken_image: Callable[[str], str], trained: Path, fixtures_dir: Path
) -> None:
    image = broken_image("inference-crash-on-bad-payload")  # an undecodable body shuts its server down
    bucket = local_env.bucket
    local_env.s3.put_file(trained / "model.tar.gz", S3Uri.parse(f"s3://{bucket}/model/model.tar.gz"))
    good = (fixtures_dir / "payloads" / "single_row.csv").read_bytes().strip()
    bad = b",".join([b"not-a-number"] * len(good.split(b",")))
    local_env.s3.put_bytes(good + b"\n" + bad + b"\n" + good + b"\n", S3Uri(bucket, "batch/in/rows.csv"))
    # One request per row: the second row kills the server.
    definition = _definition(local_env, image, BatchStrategy="SingleRecord")
    run = PipelineRun(definition, "p", {}, local_env.client, lambda record: None).run()
    score = {step.name: step for step in run.steps}["Score"]
    assert (score.status, run.status) == ("Failed", "Failed")
    assert score.failure_reason.startswith("ClientError: no answer from the container: "), score.failure_reason
    assert run.failure_reason == f"Step failure: Score: {score.failure_reason}"
    job = local_env.client.describe_transform_job(TransformJobName=job_name(run.execution_id, "Score"))
    assert (job["TransformJobStatus"], job["FailureReason"]) == ("Failed", score.failure_reason)
    assert local_env.s3.keys(S3Uri.parse(f"s3://{bucket}/batch/out")) == []
