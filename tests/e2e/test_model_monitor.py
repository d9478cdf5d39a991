"""Model Monitor as a team's cloud script uses it, in a plain `sagemaker.Session()` through `sagemaker-harness run`:
`DefaultModelMonitor.suggest_baseline()` on AWS's analyzer image (the stand-in), a schedule refused on an endpoint
without data capture, a schedule on one with capture, `sagemaker-harness monitor run` over clean and then over
drifted requests, the executions and their reports read back through the SDK, a one-time (`NOW`) schedule,
`ModelQualityMonitor.suggest_baseline()` with the service's metric names, and a model-quality schedule whose
execution merges requests named by InferenceId with their uploaded ground truth.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = "111122223333.dkr.ecr.us-east-1.amazonaws.com/team"

SCRIPT = f"""
import json, subprocess, sys, time
from datetime import datetime, timezone

import sagemaker
from botocore.exceptions import ClientError
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.model_monitor import (CronExpressionGenerator, DataCaptureConfig, DefaultModelMonitor,
                                     EndpointInput, ModelQualityMonitor)
from sagemaker.model_monitor.dataset_format import DatasetFormat
from sagemaker.predictor import Predictor
from sagemaker.serializers import CSVSerializer

session = sagemaker.Session()
role = "arn:aws:iam::111122223333:role/TeamSageMaker"
bucket = session.default_bucket()

def monitor():
    return DefaultModelMonitor(role=role, instance_count=1, instance_type="ml.m5.xlarge", sagemaker_session=session)

def monitor_run(*arguments):
    done = subprocess.run([sys.executable, "-m", "harness.cli", "monitor", "run", *arguments],
                          capture_output=True, text=True)
    return {{"code": done.returncode, "out": done.stdout, "err": done.stderr}}

baseliner = monitor()
baseliner.suggest_baseline(baseline_dataset="s3://team-ml/train/train_data.csv",
                           dataset_format=DatasetFormat.csv(header=False, output_columns_position="START"),
                           output_s3_uri=f"s3://{{bucket}}/baseline", wait=True, logs=False)
statistics, constraints = baseliner.baseline_statistics(), baseliner.suggested_constraints()
quality = ModelQualityMonitor(role=role, instance_count=1, instance_type="ml.m5.xlarge", sagemaker_session=session)
quality.suggest_baseline(baseline_dataset="s3://team-ml/scored/scored.csv",
                         dataset_format=DatasetFormat.csv(header=True),
                         problem_type="BinaryClassification", inference_attribute="prediction",
                         probability_attribute="probability", ground_truth_attribute="label",
                         output_s3_uri=f"s3://{{bucket}}/model-quality", wait=True, logs=False)

estimator = Estimator(image_uri="{REGISTRY}/training:1.0", role=role, instance_count=1,
                      instance_type="ml.m5.large", output_path=f"s3://{{bucket}}/models",
                      hyperparameters={{"C": "1.0", "max_iter": "300"}}, sagemaker_session=session)
estimator.fit({{"train": TrainingInput("s3://team-ml/train/", content_type="text/csv")}}, logs=False)

model = Model(image_uri="{REGISTRY}/inference:1.0", model_data=estimator.model_data, role=role,
              sagemaker_session=session)
model.deploy(initial_instance_count=1, instance_type="ml.m5.large", endpoint_name="no-capture")
try:
    monitor().create_monitoring_schedule(endpoint_input="no-capture", statistics=statistics,
                                         constraints=constraints, output_s3_uri=f"s3://{{bucket}}/reports")
    refused = None
except ClientError as error:
    refused = error.response["Error"]["Message"]
session.delete_endpoint("no-capture")

model = Model(image_uri="{REGISTRY}/inference:1.0", model_data=estimator.model_data, role=role,
              predictor_cls=Predictor, sagemaker_session=session)
capture = DataCaptureConfig(enable_capture=True, sampling_percentage=100,
                            destination_s3_uri=f"s3://{{bucket}}/capture")
predictor = model.deploy(initial_instance_count=1, instance_type="ml.m5.large", endpoint_name="scored",
                         data_capture_config=capture, serializer=CSVSerializer())
for row in open("clean.csv").read().splitlines():
    predictor.predict(row)

watch = monitor()
watch.create_monitoring_schedule(monitor_schedule_name="team-dq", endpoint_input="scored", statistics=statistics,
                                 constraints=constraints, output_s3_uri=f"s3://{{bucket}}/reports",
                                 schedule_cron_expression=CronExpressionGenerator.hourly())
clean = monitor_run("team-dq")
time.sleep(1.05)  # capture times have whole seconds: the drifted window starts after the clean requests
drift_start = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
for row in open("drifted.csv").read().splitlines():
    predictor.predict(row)
drifted = monitor_run("team-dq", "--start", drift_start, "--fail-on-violation")
empty = monitor_run("team-dq", "--start=-PT5H", "--end=-PT4H")
missing = monitor_run("no-such-schedule")

executions = watch.list_executions()
described = watch.describe_schedule()
once = monitor()
once.create_monitoring_schedule(monitor_schedule_name="team-dq-once", endpoint_input="scored",
                                statistics=statistics, constraints=constraints,
                                output_s3_uri=f"s3://{{bucket}}/reports",
                                schedule_cron_expression=CronExpressionGenerator.now(),
                                data_analysis_start_time="-PT1H", data_analysis_end_time="-PT0H")
once_executions = session.sagemaker_client.list_monitoring_executions(
    MonitoringScheduleName="team-dq-once")["MonitoringExecutionSummaries"]

# Model quality: requests named by InferenceId, their ground truth uploaded later, merged by the execution.
rows, labels = open("clean.csv").read().splitlines(), open("labels.csv").read().split()
for index, row in enumerate(rows):
    predictor.predict(row, inference_id=f"row-{{index}}")
hour = datetime.now(timezone.utc).strftime("%Y/%m/%d/%H")
truth = "".join(json.dumps({{"groundTruthData": {{"data": label, "encoding": "CSV"}},
                             "eventMetadata": {{"eventId": f"row-{{index}}"}}, "eventVersion": "0"}}) + "\\n"
                for index, label in enumerate(labels))
session.upload_string_as_file_body(truth, bucket, f"ground-truth/{{hour}}/labels.jsonl")
graded = ModelQualityMonitor(role=role, instance_count=1, instance_type="ml.m5.xlarge", sagemaker_session=session)
graded.create_monitoring_schedule(
    monitor_schedule_name="team-mq", problem_type="BinaryClassification",
    endpoint_input=EndpointInput(endpoint_name="scored", destination="/opt/ml/processing/input_data",
                                 inference_attribute="0", start_time_offset="-PT1H", end_time_offset="-PT0H"),
    ground_truth_input=f"s3://{{bucket}}/ground-truth", constraints=quality.suggested_constraints(),
    output_s3_uri=f"s3://{{bucket}}/model-quality-reports", schedule_cron_expression=CronExpressionGenerator.hourly())
graded_run = monitor_run("team-mq")
graded_statistics = graded.list_executions()[-1].statistics().body_dict
for schedule in (watch, once, graded):
    schedule.delete_monitoring_schedule()
predictor.delete_endpoint()


print("RESULT " + json.dumps({{
    "statistics": statistics.body_dict, "constraints": constraints.body_dict, "refused": refused,
    "clean": clean, "drifted": drifted, "empty": empty, "missing": missing,
    "executions": [e.describe()["ProcessingJobStatus"] for e in executions],
    "violations": executions[-1].constraint_violations().body_dict["violations"],
    "last_summary": described.get("LastMonitoringExecutionSummary", {{}}),
    "once": [e["MonitoringExecutionStatus"] for e in once_executions],
    "model_quality_statistics": quality.latest_baselining_job.baseline_statistics().body_dict,
    "model_quality_constraints": quality.latest_baselining_job.suggested_constraints().body_dict,
    "graded_run": graded_run, "graded_statistics": graded_statistics,
}}, default=str))
"""


def _scored(test_csv: Path) -> str:
    """A labelled, scored table as a model-quality baseline: label, prediction, probability."""
    lines = ["label,prediction,probability"]
    for index, row in enumerate(test_csv.read_text().splitlines()):
        label = int(float(row.split(",", 1)[0]))
        prediction = label if index % 10 else 1 - label  # 90% right
        lines.append(f"{label},{prediction},{0.8 if prediction else 0.2}")
    return "\n".join(lines) + "\n"


def test_baseline_schedule_and_monitoring_runs_from_a_plain_session(tmp_path: Path, images: dict) -> None:
    (tmp_path / "monitored.py").write_text(SCRIPT)
    test_csv = ROOT / "fixtures" / "data" / "test" / "test_data.csv"
    clean = test_csv.read_text().splitlines()[:20]
    (tmp_path / "clean.csv").write_text("\n".join(r.split(",", 1)[1] for r in clean))
    (tmp_path / "labels.csv").write_text("\n".join(str(int(float(r.split(",", 1)[0]))) for r in clean))
    (tmp_path / "drifted.csv").write_text((ROOT / "fixtures" / "payloads-drifted" / "rows.csv").read_text())
    (tmp_path / "scored.csv").write_text(_scored(test_csv))
    (tmp_path / "pyproject.toml").write_text(
        "[tool.harness.images]\n"
        + "".join(f'"{REGISTRY}/{kind}:1.0" = "{images[kind]}"\n' for kind in ("training", "inference"))
    )
    train = ROOT / "fixtures" / "data" / "train" / "train_data.csv"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "HARNESS_PROJECT_ROOT"}
    env["HARNESS_STATE_DIR"] = str(tmp_path / "state")
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--data", f"{train}=s3://team-ml/train/train_data.csv",
         "--data", "scored.csv=s3://team-ml/scored/scored.csv", "--", sys.executable, "monitored.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-6000:]
    lines = [line for line in result.stdout.splitlines() if "RESULT " in line]
    outcome = json.loads(lines[-1].split("RESULT ", 1)[1])

    # The baseline: one feature a column of the header-less CSV, label first, in the service's layout.
    features = {f["name"]: f for f in outcome["statistics"]["features"]}
    assert len(features) == 31 and "_c0" in features and "_c30" in features
    assert outcome["statistics"]["dataset"]["item_count"] == len(train.read_text().splitlines())
    assert features["_c1"]["inferred_type"] == "Fractional"
    assert {"num_present", "num_missing"} <= set(features["_c1"]["numerical_statistics"]["common"])
    assert outcome["constraints"]["monitoring_config"]["evaluate_constraints"] == "Enabled"
    assert {c["name"] for c in outcome["constraints"]["features"]} == set(features)

    assert "no-capture" in outcome["refused"] and "DataCaptureConfig" in outcome["refused"]

    assert outcome["clean"]["code"] == 0, outcome["clean"]
    assert "team-dq: Completed" in outcome["clean"]["out"] and "violation" not in outcome["clean"]["out"]
    assert outcome["drifted"]["code"] == 1, outcome["drifted"]  # --fail-on-violation
    assert "team-dq: CompletedWithViolations" in outcome["drifted"]["out"]
    assert "baseline_drift_check" in outcome["drifted"]["out"]
    assert outcome["empty"]["code"] == 1, outcome["empty"]
    assert "team-dq: Failed: Job inputs had no data" in outcome["empty"]["out"]
    assert outcome["missing"]["code"] == 2 and "no-such-schedule does not exist" in outcome["missing"]["err"]
    assert outcome["executions"] == ["Completed", "Completed"]  # the empty window ran no job
    drifted_features = {v["feature_name"] for v in outcome["violations"] if v["constraint_check_type"] ==
                        "baseline_drift_check"}  # fmt: skip
    scaled = {f"_c{i}" for i in range(1, 11)}  # the ten scaled features (after _c0, the captured prediction)
    assert scaled <= drifted_features <= scaled | {"_c0"}
    assert outcome["last_summary"]["MonitoringExecutionStatus"] == "Failed"  # the empty window's, the latest
    assert outcome["once"] == ["CompletedWithViolations"]  # NOW: its execution ended before create returned

    metrics = outcome["model_quality_statistics"]["binary_classification_metrics"]
    assert abs(metrics["accuracy"]["value"] - 0.9) < 0.06
    assert {"recall", "precision", "f1", "auc", "confusion_matrix"} <= set(metrics)
    assert "binary_classification_constraints" in outcome["model_quality_constraints"]
    # Model quality: the 20 requests named by InferenceId merged with their uploaded labels, graded.
    assert outcome["graded_run"]["code"] == 0, outcome["graded_run"]
    assert "team-mq: Completed" in outcome["graded_run"]["out"]
    graded = outcome["graded_statistics"]["binary_classification_metrics"]
    assert graded["confusion_matrix"] and graded["accuracy"]["value"] >= 0.9  # the model is ~98% right
    assert sum(sum(row.values()) for row in graded["confusion_matrix"].values()) == 20
    # The stand-in said what it is, once per URI.
    assert "sagemaker-model-monitor-analyzer is AWS's model-monitor latest image: a local stand-in" in (
        result.stdout + result.stderr
    )
