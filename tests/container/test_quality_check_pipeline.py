"""QualityCheckStep on AWS's Model Monitor analyzer image (the stand-in), through the SDK: a first run that only
calculates and registers baselines (data and model quality), a drift check against the registered baseline that
passes on clean data, and one against a supplied baseline that fails the step on drifted data, each step's
properties and ListPipelineExecutionSteps metadata as the service reports them."""

from __future__ import annotations

import json
from pathlib import Path

from sagemaker.drift_check_baselines import DriftCheckBaselines
from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.model_monitor.dataset_format import DatasetFormat
from sagemaker.workflow.check_job_config import CheckJobConfig
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterBoolean, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.quality_check_step import DataQualityCheckConfig, ModelQualityCheckConfig, QualityCheckStep

from harness.emulator.environment import EnvironmentOptions, LocalEnvironment
from harness.emulator.storage import S3Uri
from harness.engine.docker import Engine
from harness.project.images import ImageKind

ROLE = "arn:aws:iam::000000000000:role/r"
GROUP = "checked-models"


def _json(uri: object) -> MetricsSource:
    return MetricsSource(s3_uri=uri, content_type="application/json")


def test_quality_check_steps_register_check_and_fail_on_drift(
    engine: Engine, images: dict[ImageKind, str], fixtures_dir: Path, tmp_path: Path
) -> None:
    test_rows = (fixtures_dir / "data" / "test" / "test_data.csv").read_text().splitlines()
    labels = [int(float(r.split(",")[0])) for r in test_rows]
    scored = ["label,prediction,probability"] + [f"{y},{y if i % 5 else 0},0.7" for i, y in enumerate(labels)]
    drifted = [",".join([r.split(",")[0], *(str(float(v) * 10) for v in r.split(",")[1:])]) for r in test_rows]
    with LocalEnvironment.open(tmp_path / "state", engine, lambda job, line: None, lambda r: None,
                               EnvironmentOptions(scope_name="quality-check-test")) as env:  # fmt: skip
        for key, body in (("data/clean/rows.csv", "\n".join(test_rows)), ("data/drifted/rows.csv", "\n".join(drifted)),
                          ("data/scored/scored.csv", "\n".join(scored))):  # fmt: skip
            env.s3.put_bytes((body + "\n").encode(), S3Uri(env.bucket, key))
        env.s3.put_file(fixtures_dir / "data" / "train" / "train_data.csv", S3Uri(env.bucket, "model/model.tar.gz"))

        dataset = ParameterString("Dataset", default_value=f"s3://{env.bucket}/data/clean/rows.csv")
        skip, register_new = ParameterBoolean("Skip", default_value=True), ParameterBoolean("New", default_value=True)
        supplied = [ParameterString(f"Supplied{kind}", default_value="") for kind in ("Statistics", "Constraints")]
        check_job = CheckJobConfig(
            role=ROLE, instance_count=1, instance_type="ml.m5.xlarge", sagemaker_session=env.session
        )
        data_check = QualityCheckStep(
            "DataQuality",
            quality_check_config=DataQualityCheckConfig(
                baseline_dataset=dataset, dataset_format=DatasetFormat.csv(header=False),
                output_s3_uri=f"s3://{env.bucket}/checks/data"),
            check_job_config=check_job, skip_check=skip, register_new_baseline=register_new,
            model_package_group_name=GROUP, supplied_baseline_statistics=supplied[0],
            supplied_baseline_constraints=supplied[1],
        )  # fmt: skip
        model_check = QualityCheckStep(
            "ModelQuality",
            quality_check_config=ModelQualityCheckConfig(
                baseline_dataset=f"s3://{env.bucket}/data/scored/scored.csv",
                dataset_format=DatasetFormat.csv(header=True),
                problem_type="BinaryClassification", inference_attribute="prediction", ground_truth_attribute="label",
                output_s3_uri=f"s3://{env.bucket}/checks/model"),
            check_job_config=check_job, skip_check=True, register_new_baseline=True,
        )  # fmt: skip
        baselines = data_check.properties
        model = Model(image_uri=images[ImageKind.INFERENCE], model_data=f"s3://{env.bucket}/model/model.tar.gz",
                      role=ROLE, sagemaker_session=env.session)  # fmt: skip
        register = ModelStep("Register", step_args=model.register(
            content_types=["text/csv"], response_types=["text/csv"], inference_instances=["ml.m5.large"],
            transform_instances=["ml.m5.large"], model_package_group_name=GROUP, approval_status="Approved",
            model_metrics=ModelMetrics(model_data_statistics=_json(baselines.CalculatedBaselineStatistics),
                                       model_data_constraints=_json(baselines.CalculatedBaselineConstraints)),
            drift_check_baselines=DriftCheckBaselines(
                model_data_statistics=_json(baselines.BaselineUsedForDriftCheckStatistics),
                model_data_constraints=_json(baselines.BaselineUsedForDriftCheckConstraints),
                model_statistics=_json(model_check.properties.CalculatedBaselineStatistics),
                model_constraints=_json(model_check.properties.CalculatedBaselineConstraints)),
        ))  # fmt: skip
        pipeline = Pipeline(name="checked", parameters=[dataset, skip, register_new, *supplied],
                            steps=[data_check, model_check, register], sagemaker_session=env.session)  # fmt: skip
        pipeline.upsert(role_arn=ROLE)

        # 1. The first run: no earlier baseline; both checks only calculate and register theirs.
        first = {s["StepName"]: s for s in pipeline.start().list_steps()}
        assert {n: s["StepStatus"] for n, s in first.items()} == dict.fromkeys(
            ("DataQuality", "ModelQuality", "Register-RegisterModel"), "Succeeded"
        )
        data_meta = first["DataQuality"]["Metadata"]["QualityCheck"]
        calculated = data_meta["CalculatedBaselineConstraints"]
        assert calculated == f"s3://{env.bucket}/checks/data/constraints.json"
        assert data_meta["BaselineUsedForDriftCheckConstraints"] == calculated  # register_new_baseline
        assert data_meta["CheckType"] == "DATA_QUALITY" and data_meta["SkipCheck"] is True
        assert "ViolationReport" not in data_meta and data_meta["CheckJobArn"].startswith("arn:aws:sagemaker:")
        constraints = json.loads(env.s3.get_bytes(S3Uri.parse(calculated)))
        assert {f["name"] for f in constraints["features"]} == {f"_c{i}" for i in range(31)}
        model_stats = json.loads(env.s3.get_bytes(S3Uri.parse(
            first["ModelQuality"]["Metadata"]["QualityCheck"]["CalculatedBaselineStatistics"])))  # fmt: skip
        assert abs(model_stats["binary_classification_metrics"]["accuracy"]["value"] - 0.8) < 0.1
        package = env.client.describe_model_package(
            ModelPackageName=first["Register-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"]
        )
        assert package["DriftCheckBaselines"]["ModelDataQuality"]["Constraints"]["S3Uri"] == calculated

        # 2. Clean data checked against the approved package's baseline (nothing supplied): no violation.
        second = {s["StepName"]: s for s in pipeline.start(parameters={"Skip": False, "New": False}).list_steps()}
        checked = second["DataQuality"]["Metadata"]["QualityCheck"]
        assert second["DataQuality"]["StepStatus"] == "Succeeded", second["DataQuality"].get("FailureReason")
        assert checked["BaselineUsedForDriftCheckConstraints"] == calculated  # the registry's, not a new one
        report = json.loads(env.s3.get_bytes(S3Uri.parse(checked["ViolationReport"])))
        assert report == {"violations": []}

        # 3. Drifted data (every feature x10) against a supplied baseline: the step fails, naming the violations.
        third = pipeline.start(parameters={
            "Skip": False, "New": False, "Dataset": f"s3://{env.bucket}/data/drifted/rows.csv",
            "SuppliedStatistics": data_meta["CalculatedBaselineStatistics"], "SuppliedConstraints": calculated,
        })  # fmt: skip
        steps = {s["StepName"]: s for s in third.list_steps()}
        assert steps["DataQuality"]["StepStatus"] == "Failed"
        reason = steps["DataQuality"]["FailureReason"]
        assert "DATA_QUALITY check found" in reason and "baseline_drift_check on _c1" in reason, reason
        assert steps["DataQuality"]["Metadata"]["QualityCheck"]["BaselineUsedForDriftCheckConstraints"] == calculated
        assert "Register-RegisterModel" not in steps  # nothing registered after a failed check
        assert third.describe()["PipelineExecutionStatus"] == "Failed"
