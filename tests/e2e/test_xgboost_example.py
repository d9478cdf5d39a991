"""The commonest public pipeline's shape, cloud code unchanged: examples/diabetes-xgboost (SKLearnProcessor
that downloads its own input from S3, built-in XGBoost training, a ScriptProcessor evaluation on the XGBoost
image, PropertyFile/JsonGet into a ConditionStep, RegisterModel with ModelMetrics, a FailStep), then the
approved package deployed and invoked, all on AWS's images as local stand-ins, through `sagemaker-harness run`
from the example's own folder, audited for every connection of every process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import audited_environment, escaped_by_process

from harness.engine.docker import Engine

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "diabetes-xgboost"
STEPS = [
    "PreprocessDiabetesData",
    "TrainDiabetesModel",
    "EvaluateDiabetesModel",
    "CheckMSEDiabetesEvaluation",
    "RegisterDiabetesModel-RegisterModel",
]


def _run(tmp_path: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--", "sh", "-c", command],
        cwd=EXAMPLE, env=audited_environment(tmp_path), capture_output=True, text=True, timeout=1700,
    )  # fmt: skip


@pytest.mark.timeout(1800)
def test_the_template_shaped_pipeline_registers_deploys_and_answers(tmp_path: Path, engine: Engine) -> None:
    python = sys.executable
    result = _run(tmp_path, f"{python} run_pipeline.py --approve && {python} deploy.py")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    assert [f"{step}: Succeeded" for step in STEPS] == [
        line for line in result.stdout.splitlines() if line.split(":")[0] in STEPS
    ]
    assert "DiabetesPipeline: Succeeded" in result.stdout
    # The preprocessing script's own boto3 download, its log, and the algorithm's per-round lines.
    assert "Downloading data from bucket: acme-diabetes-data, key: raw/diabetes.csv" in result.stderr
    assert "train 309, validation 66, test 67 rows" in result.stderr
    assert "#011validation-rmse:" in result.stderr or "\tvalidation-rmse:" in result.stderr
    assert "Writing out evaluation report with mse:" in result.stderr
    # The approved package, deployed by a second script, answers one prediction per row.
    predicted = [line for line in result.stdout.splitlines() if "diabetes-xgboost predicted" in line]
    assert predicted and "diabetes-xgboost predicted 3 rows: " in predicted[0]  # after deploy()'s progress marks
    assert "ran on the stand-in harness-standin/sagemaker-xgboost:1.7-1" in result.stderr
    assert "ran on the stand-in harness-standin/sagemaker-scikit-learn:1.2-1" in result.stderr
    assert all(not found for found in escaped_by_process(tmp_path, engine).values())


@pytest.mark.timeout(1800)
def test_a_model_worse_than_the_threshold_takes_the_fail_step(tmp_path: Path) -> None:
    result = _run(tmp_path, f"{sys.executable} run_pipeline.py --mse-threshold 1")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-6000:]
    assert "DiabetesMSEFail: Failed (Execution failed due to MSE > 1.0)" in result.stdout
    assert "RegisterDiabetesModel-RegisterModel" not in result.stdout
    assert "DiabetesPipeline: Failed" in result.stdout
