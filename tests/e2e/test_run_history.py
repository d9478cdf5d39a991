"""What a person does after a run, as the README says it: `harness runs`, `runs show`, `logs`, `report`
(opened in the real Chromium, headless) and `debug` into a failed step's re-made container, on two real
`run-local` runs of this repository's pipeline: one that succeeds, one whose training step fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import chromium, leftover, missing, open_report, save_screenshot
from selenium.webdriver.common.by import By

from harness.engine.docker import OWNER_LABEL, Engine
from harness.project.config import Settings

BAD_MAX_ITER = "MaxIter=many"  # the training script refuses it: Train fails, later steps never run
STEPS_AFTER_TRAIN = ("Evaluate", "CheckAccuracy")
RUN_KINDS = ("succeeded", "failed")
FAIL_BRANCH = "AccuracyTooLow"  # the Condition's else branch: not taken when the model is good enough


def harness(state: Path, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HARNESS_STATE_DIR"}
    result = subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=Settings.from_env().project_root,
                            env={**env, "HARNESS_STATE_DIR": str(state)}, capture_output=True, text=True,
                            timeout=900, input=stdin if stdin is not None else "")  # fmt: skip
    if check:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, images: dict) -> Iterator[dict[str, Any]]:
    """A succeeded run (endpoint checks and Model Monitor included), then a failed one with --keep-on-failure."""
    state = tmp_path_factory.mktemp("history") / "state"
    harness(state, "run-local", "--quiet")
    failed = harness(state, "run-local", "--quiet", "--keep-on-failure", "--param", BAD_MAX_ITER, check=False)
    assert failed.returncode != 0, failed.stdout[-2000:]
    records = [json.loads(p.read_text()) for p in sorted((state / "runs").glob("2*.json"))]
    assert [r["status"] for r in records] == ["Succeeded", "Failed"]
    yield {"state": state, "succeeded": records[0], "failed": records[1], "failed_output": failed}
    for record in records:  # what --keep-on-failure kept goes with its run
        harness(state, "runs", "rm", record["run_id"], check=False)


def test_runs_lists_both_newest_first_and_show_prints_the_summary(runs: dict[str, Any]) -> None:
    listed = harness(runs["state"], "runs").stdout.splitlines()
    assert listed[0].split()[:4] == ["run", "kind", "pipeline", "status"]
    assert listed[1].split()[:4] == [runs["failed"]["run_id"], "run-local", "mlops-pipeline", "Failed"]
    succeeded = listed[2].split()
    assert succeeded[:4] == [runs["succeeded"]["run_id"], "run-local", "mlops-pipeline", "Succeeded"]
    assert any(cell.startswith("binary_classification_metrics") or "accuracy" in cell for cell in succeeded[6:]), listed
    shown = harness(runs["state"], "runs", "show", runs["succeeded"]["run_id"][:20]).stdout
    assert "Evaluate" in shown and "data-capture records" in shown and "report: " in shown
    # The failure said where to look, and the record names what was kept.
    assert "harness debug" in runs["failed_output"].stderr + runs["failed_output"].stdout
    train = {s["name"]: s for s in runs["failed"]["steps"]}["Train"]
    assert Path(train["kept"]["folder"], "kept.json").is_file()


def test_logs_prints_a_steps_container_log_and_bad_names_are_clear(runs: dict[str, Any]) -> None:
    state, failed_id = runs["state"], runs["failed"]["run_id"]
    train = harness(state, "logs", failed_id, "Train").stdout
    assert "max_iter='many' is not a valid int" in train
    assert '{"train_rows": 394' in harness(state, "logs", runs["succeeded"]["run_id"], "Train").stdout
    no_step = harness(state, "logs", failed_id, "Evaluate", check=False)
    assert no_step.returncode != 0 and f"run {failed_id} has no step 'Evaluate'" in no_step.stderr
    assert "its steps: Preprocess, DataQualityCheck, Train" in no_step.stderr  # Evaluate never ran
    no_run = harness(state, "logs", "20991231", "Train", check=False)
    assert no_run.returncode != 0 and "no run '20991231'" in no_run.stderr and failed_id in no_run.stderr


def test_debug_remakes_the_failed_steps_container_with_its_inputs_and_removes_it(
    runs: dict[str, Any], engine: Engine
) -> None:
    before = {c.id for c in engine.containers({OWNER_LABEL: "sagemaker-local-harness"})}
    probe = "ls /opt/ml/input/data/train; cat /opt/ml/input/config/hyperparameters.json; echo; hostname; exit 7"
    result = harness(runs["state"], "debug", runs["failed"]["run_id"], "Train", "--", "sh", "-c", probe, check=False)
    assert result.returncode == 7, result.stderr[-2000:]  # the command's own exit code
    assert "train_data.csv" in result.stdout and '"max_iter": "many"' in result.stdout
    assert result.stdout.split()[-1] == "algo-1"
    assert "python3 /opt/program/train.py train" in result.stderr  # what the job ran, to run it again inside
    # A shell when no command is given: it reads its commands from stdin here (no terminal).
    shell = harness(runs["state"], "debug", "latest", "Train", stdin="echo inside $(hostname)\n")
    assert "inside algo-1" in shell.stdout
    assert {c.id for c in engine.containers({OWNER_LABEL: "sagemaker-local-harness"})} == before
    succeeded = harness(runs["state"], "debug", runs["succeeded"]["run_id"], "Train", check=False)
    assert succeeded.returncode != 0 and "only a failed step is kept" in succeeded.stderr


def test_the_reports_render_in_a_real_browser(runs: dict[str, Any], tmp_path: Path) -> None:
    assert missing() is None, missing()  # never skipped: provisioning installs the browser
    state = runs["state"]
    paths = {kind: Path(harness(state, "report", runs[kind]["run_id"]).stdout.strip()) for kind in RUN_KINDS}
    with chromium(tmp_path / "browser", tmp_path / "chromedriver.log") as driver:
        open_report(driver, paths["failed"])
        states = {n.get_attribute("data-step"): n.get_attribute("data-status")
                  for n in driver.find_elements(By.CSS_SELECTOR, "svg g.step") if n.is_displayed()}  # fmt: skip
        assert states["Preprocess"] == "Succeeded" and states["Train"] == "Failed"
        assert all(states[name] == "NotRun" for name in STEPS_AFTER_TRAIN), states
        reasons = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "pre.failure-reason") if e.is_displayed()]
        assert any("max_iter='many' is not a valid int" in text for text in reasons), reasons
        failed_shot = save_screenshot(driver, tmp_path / "artifacts" / "report-failed.png")

        open_report(driver, paths["succeeded"])
        states = {n.get_attribute("data-step"): n.get_attribute("data-status")
                  for n in driver.find_elements(By.CSS_SELECTOR, "svg g.step") if n.is_displayed()}  # fmt: skip
        ran = {s["name"] for s in runs["succeeded"]["steps"]}
        assert {states[name] for name in ran} == {"Succeeded"} and len(ran) == 7
        assert {name: status for name, status in states.items() if name not in ran} == {FAIL_BRANCH: "NotRun"}
        metrics = driver.find_element(By.CSS_SELECTOR, "table.metrics").text
        assert "accuracy" in metrics and "Evaluate" in metrics
        page = driver.find_element(By.TAG_NAME, "body").text
        assert "captured" in page.lower() and "no connection left this machine" in page.lower()
        succeeded_shot = save_screenshot(driver, tmp_path / "artifacts" / "report-succeeded.png")
    assert leftover(tmp_path / "browser") == []  # no chromium process outlives the test
    print(f"screenshots: {failed_shot} {succeeded_shot}")
    assert failed_shot.stat().st_size > 10_000 and succeeded_shot.stat().st_size > 10_000


# A team's script: a one-step pipeline whose processing container fails, then a job of its own that fails.
FAILING_PIPELINE = """
import json, boto3
IMAGE, ROLE = "%s", "arn:aws:iam::111122223333:role/r"
def job(command):
    return {"ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                                      "VolumeSizeInGB": 1}},
            "AppSpecification": {"ImageUri": IMAGE, "ContainerEntrypoint": ["sh", "-c", command]}, "RoleArn": ROLE,
            "ProcessingInputs": [{"InputName": "raw", "S3Input": {"S3Uri": "s3://team-bucket/raw/",
                                  "LocalPath": "/opt/ml/processing/input", "S3DataType": "S3Prefix",
                                  "S3InputMode": "File"}}]}
definition = {"Version": "2020-12-01", "Steps": [{"Name": "Prepare", "Type": "Processing",
              "Arguments": job("echo preparing; exit 3")}]}
sm = boto3.client("sagemaker")
sm.create_pipeline(PipelineName="team-etl", PipelineDefinition=json.dumps(definition), RoleArn=ROLE)
arn = sm.start_pipeline_execution(PipelineName="team-etl")["PipelineExecutionArn"]
print("execution", sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"])
sm.create_processing_job(ProcessingJobName="own-job", **job("exit 4"))
"""


def test_run_keeps_a_failed_pipeline_step_for_debug_and_not_a_job_of_its_own(
    tmp_path: Path, images: dict, engine: Engine
) -> None:
    (tmp_path / "rows.csv").write_text("1,2\n3,4\n")
    (tmp_path / "etl.py").write_text(FAILING_PIPELINE % images["processing"])
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "HARNESS_STATE_DIR"}
    run = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--keep-on-failure", "--data",
                          f"{tmp_path / 'rows.csv'}=s3://team-bucket/raw/rows.csv", "--", sys.executable, "etl.py"],
                         cwd=tmp_path, env={**env, "HARNESS_STATE_DIR": str(state)}, capture_output=True, text=True,
                         timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "execution Failed" in run.stdout
    assert "job own-job failed outside a pipeline" in run.stderr
    (record,) = [json.loads(p.read_text()) for p in (state / "runs").glob("2*.json")]
    assert (record["kind"], record["status"]) == ("run", "Failed")
    debug = harness(state, "debug", record["run_id"], "Prepare", "--", "sh", "-c", "cat /opt/ml/processing/input/*")
    assert debug.stdout == "1,2\n3,4\n"
    assert harness(state, "logs", record["run_id"], "Prepare").stdout == "preparing\n"
    kept = [c for c in engine.containers({OWNER_LABEL: "sagemaker-local-harness"}) if c.scope.startswith("cmd-")]
    assert len(kept) == 1  # the pipeline step's; the script's own job's was removed
    harness(state, "runs", "rm", record["run_id"])
    assert [c for c in engine.containers({OWNER_LABEL: "sagemaker-local-harness"}) if c.scope.startswith("cmd-")] == []
    assert not (state / "kept").exists() or list((state / "kept").iterdir()) == []
