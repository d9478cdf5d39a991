"""A Transform whose container dies mid-batch fails the job, the step and the execution (as in AWS), instead of
escaping from the pipeline as a bug in the harness."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.executor import PipelineRun, job_name
from harness.local import LocalEnvironment
from harness.storage import S3Uri


def _definition(bucket: str, image: str) -> dict:
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
                    "BatchStrategy": "SingleRecord",  # one request per row: the second row kills the server
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


def test_a_container_that_crashes_mid_batch_fails_the_transform_job(
    local_env: LocalEnvironment, broken_image: Callable[[str], str], trained: Path, fixtures_dir: Path
) -> None:
    image = broken_image("inference-crash-on-bad-payload")  # an undecodable body shuts its server down
    bucket = local_env.bucket
    local_env.s3.put_file(trained / "model.tar.gz", S3Uri.parse(f"s3://{bucket}/model/model.tar.gz"))
    good = (fixtures_dir / "payloads" / "single_row.csv").read_bytes().strip()
    bad = b",".join([b"not-a-number"] * len(good.split(b",")))
    local_env.s3.put_bytes(good + b"\n" + bad + b"\n" + good + b"\n", S3Uri(bucket, "batch/in/rows.csv"))
    run = PipelineRun(_definition(bucket, image), "p", {}, local_env.client, lambda record: None).run()
    score = {step.name: step for step in run.steps}["Score"]
    assert (score.status, run.status) == ("Failed", "Failed")
    assert score.failure_reason.startswith("ClientError: no answer from the container: "), score.failure_reason
    assert run.failure_reason == f"Step failure: Score: {score.failure_reason}"
    job = local_env.client.describe_transform_job(TransformJobName=job_name(run.execution_id, "Score"))
    assert (job["TransformJobStatus"], job["FailureReason"]) == ("Failed", score.failure_reason)
    assert local_env.s3.keys(S3Uri.parse(f"s3://{bucket}/batch/out")) == []
