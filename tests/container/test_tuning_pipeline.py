"""Hyperparameter tuning through the SDK on real training containers: a TuningStep whose best model feeds the next
step through get_top_model_s3_uri(), and a HyperparameterTuner fitted outside a pipeline, its best training job
and ranked training jobs as the service reports them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import sagemaker
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.processing import ProcessingInput, ScriptProcessor
from sagemaker.tuner import ContinuousParameter, HyperparameterTuner, IntegerParameter
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import ProcessingStep, TuningStep

from harness.emulator.environment import EnvironmentOptions, LocalEnvironment
from harness.emulator.storage import S3Uri
from harness.engine.docker import Engine
from harness.project.images import ImageKind

ROLE = "arn:aws:iam::000000000000:role/r"
METRICS = [{"Name": "validation:accuracy", "Regex": r'"validation_accuracy": ([0-9.]+)'}]


def _tuner(env: LocalEnvironment, image: str, max_jobs: int, session: Any = None) -> HyperparameterTuner:
    estimator = Estimator(image_uri=image, role=ROLE, instance_count=1, instance_type="ml.m5.large",
                          output_path=f"s3://{env.bucket}/tuned", sagemaker_session=session or env.session)  # fmt: skip
    return HyperparameterTuner(
        estimator, objective_metric_name="validation:accuracy", metric_definitions=METRICS,
        hyperparameter_ranges={"C": ContinuousParameter(0.01, 10, scaling_type="Logarithmic"),
                               "max_iter": IntegerParameter(200, 1000)},
        strategy="Random", max_jobs=max_jobs, max_parallel_jobs=2, random_seed=3,
    )  # fmt: skip


def test_a_tuning_steps_best_model_feeds_the_next_step_and_a_tuner_fits_alone(
    engine: Engine, images: dict[ImageKind, str], fixtures_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "check.py").write_text(
        "import tarfile; tarfile.open('/opt/ml/processing/model/model.tar.gz').getnames(); print('best model read')\n"
    )
    lines: list[tuple[str, str]] = []
    with LocalEnvironment.open(tmp_path / "state", engine, lambda job, line: lines.append((job, line)),
                               lambda r: None, EnvironmentOptions(scope_name="tuning-test")) as env:  # fmt: skip
        channels = {}
        for channel in ("train", "validation"):
            uri = S3Uri(env.bucket, f"data/{channel}/{channel}_data.csv")
            env.s3.put_file(fixtures_dir / "data" / channel / f"{channel}_data.csv", uri)
            channels[channel] = TrainingInput(str(uri), content_type="text/csv")
        tuner = _tuner(env, images[ImageKind.TRAINING], max_jobs=3)
        tune = TuningStep("Tune", step_args=tuner.fit(inputs=channels))
        best = tune.get_top_model_s3_uri(top_k=0, s3_bucket=env.bucket, prefix="tuned")
        processor = ScriptProcessor(
            image_uri=images[ImageKind.PROCESSING], command=["python3"], role=ROLE, instance_count=1,
            instance_type="ml.m5.large", sagemaker_session=env.session,
        )  # fmt: skip
        model_input = ProcessingInput(source=best, destination="/opt/ml/processing/model")
        check = ProcessingStep(
            "UseBest", step_args=processor.run(code=str(tmp_path / "check.py"), inputs=[model_input])
        )
        pipeline = Pipeline(name="tuned", steps=[tune, check], sagemaker_session=env.session)
        pipeline.upsert(role_arn=ROLE)
        execution = pipeline.start()
        steps = {s["StepName"]: s for s in execution.list_steps()}
        assert {n: s["StepStatus"] for n, s in steps.items()} == {"Tune": "Succeeded", "UseBest": "Succeeded"}
        tuning_name = steps["Tune"]["Metadata"]["TuningJob"]["Arn"].rsplit("/", 1)[-1]
        described = env.client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_name)
        assert described["HyperParameterTuningJobStatus"] == "Completed"
        assert described["TrainingJobStatusCounters"]["Completed"] == 3
        ranked = env.client.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=tuning_name, SortBy="FinalObjectiveMetricValue"
        )["TrainingJobSummaries"]
        values = [j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for j in ranked]
        assert len(ranked) == 3 and values == sorted(values, reverse=True)
        assert described["BestTrainingJob"]["TrainingJobName"] == ranked[0]["TrainingJobName"]
        assert all(0.01 <= float(j["TunedHyperParameters"]["C"]) <= 10 for j in ranked)
        trained = env.client.describe_training_job(TrainingJobName=ranked[0]["TrainingJobName"])
        assert trained["TuningJobArn"] == described["HyperParameterTuningJobArn"]
        assert any(line == "best model read" for _, line in lines)

        # Outside a pipeline: a plain sagemaker.Session() whose client is boto3's, over HTTP to the endpoint.
        boto = boto3.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1")
        plain = sagemaker.Session(boto_session=boto, default_bucket=env.bucket,
                                  sagemaker_client=boto.client("sagemaker", endpoint_url=env.endpoint_url))  # fmt: skip
        alone = _tuner(env, images[ImageKind.TRAINING], max_jobs=2, session=plain)
        alone.fit(inputs=channels, wait=False)  # CreateHyperParameterTuningJob answers once the job has ended
        assert alone.best_training_job().startswith(alone.latest_tuning_job.name)
        assert alone.best_estimator().model_data.endswith(f"/{alone.best_training_job()}/output/model.tar.gz")
        frame = alone.analytics().dataframe()
        assert len(frame) == 2 and set(frame["TrainingJobStatus"]) == {"Completed"}
