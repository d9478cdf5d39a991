"""The whole pipeline and endpoint round trip, as `harness run-local` runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from support import escaped

from harness.emulator.registry import ModelRegistry
from harness.engine.docker import OWNER, OWNER_LABEL, Engine
from harness.engine.sandbox import sanitized
from harness.errors import JobFailed
from harness.progress import Progress
from harness.project.config import Settings
from harness.project.run_local import RunOptions, run_local

GROUP = "mlops-models"
# Runs the real CLI with an audit hook that records every socket connection and
# name lookup of the process (all threads), then writes them out at exit.
AUDITED_CLI = """
import atexit, json, sys
events = []
def hook(event, args):
    if event == "socket.connect":
        address = args[1]
        events.append(["connect", address if isinstance(address, str) else str(address[0])])
    elif event == "socket.getaddrinfo":
        events.append(["lookup", str(args[0])])
sys.addaudithook(hook)
atexit.register(lambda: open(sys.argv[1], "w").write(json.dumps(events)))
from harness.cli import main
sys.exit(main(sys.argv[2:]))
"""


def our_leftovers(engine: Engine) -> list[str]:
    containers = [c.short_id for c in engine.containers({OWNER_LABEL: OWNER}) if c.scope.startswith("run-")]
    return containers + [n for n in engine.networks({OWNER_LABEL: OWNER}) if n.startswith("run-")]


def work_dirs() -> set[str]:
    return {p.name for p in Path("/tmp").glob("harness-run-*")}


@pytest.fixture
def run_settings(tmp_path: Path) -> Settings:
    """The project's settings with a state folder of the test's own (registry, run records)."""
    return replace(Settings.from_env(), state_dir=tmp_path / "state")


def test_whole_pipeline_and_endpoint_offline(
    run_settings: Settings, engine: Engine, images: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    dirs_before = work_dirs()
    record = run_local(run_settings, engine, Progress(), RunOptions())

    assert record["status"] == "Succeeded"
    steps = {s["name"]: s for s in record["steps"]}
    assert [s["status"] for s in record["steps"]] == ["Succeeded"] * 7
    assert steps["CheckAccuracy"]["metadata"]["Condition"]["Outcome"] == "true"
    train_artifacts = steps["Train"]["job"]["artifacts"]["model"]
    (model_key,) = train_artifacts
    assert model_key.endswith("/output/model.tar.gz") and len(train_artifacts[model_key]) == 64
    assert record["endpoint"]["predictions_checked"] == 85
    assert record["endpoint"]["captured_records"] == 6 + 30  # the checks' requests, then the drifted rows
    # The data-quality check calculated and registered the training data's baseline (a first run: no check).
    check = steps["DataQualityCheck"]["metadata"]["QualityCheck"]
    assert check["SkipCheck"] is True and check["CalculatedBaselineConstraints"].endswith("/constraints.json")
    assert package_baseline(run_settings) == check["CalculatedBaselineConstraints"]
    # Model Monitor on the endpoint with that baseline: the run's own requests are clean, the drifted ones are not.
    monitoring = record["endpoint"]["monitoring"]
    assert monitoring["clean"]["MonitoringExecutionStatus"] == "Completed", monitoring["clean"]
    drifted = monitoring["drifted"]
    assert drifted["MonitoringExecutionStatus"] == "CompletedWithViolations" and drifted["requests"] == 30
    drifted_features = {v["feature_name"] for v in drifted["violations"] if v["constraint_check_type"] ==
                        "baseline_drift_check"}  # fmt: skip
    assert {f"_c{i}" for i in range(1, 11)} <= drifted_features  # the ten features the fixture scaled
    assert set(record["images"]) == {"processing_image", "training_image", "inference_image"}
    assert record["code"]["jobs/train.py"] and len(record["pipeline"]["definition_sha256"]) == 64
    on_disk = json.loads((run_settings.state_dir / "runs" / "latest.json").read_text())
    assert on_disk["run_id"] == record["run_id"]

    package = ModelRegistry(run_settings.state_dir / "registry.json").latest_approved(GROUP)
    assert package["ModelPackageVersion"] == 1
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"].endswith(model_key)

    assert our_leftovers(engine) == [] and work_dirs() == dirs_before
    out = capsys.readouterr().out
    assert '    [Train] {"train_rows": 394' in out and "✔ CheckAccuracy" in out
    assert "Model Monitor over the run's requests: Completed, 0 violation(s)" in out


def test_a_later_run_checks_its_data_against_the_registered_baseline(run_settings: Settings, engine: Engine,
                                                                    images: dict) -> None:  # fmt: skip
    first = run_local(run_settings, engine, Progress(show_logs=False), RunOptions(deploy=False))
    registered = package_baseline(run_settings)
    # A new run starts with an empty S3: the registry kept the package's baseline files and puts them back.
    checked = RunOptions(parameters={"SkipDataQualityCheck": "false", "RegisterNewDataQualityBaseline": "false"},
                         deploy=False)  # fmt: skip
    second = run_local(run_settings, engine, Progress(show_logs=False), checked)
    check = {s["name"]: s for s in second["steps"]}["DataQualityCheck"]
    assert check["status"] == "Succeeded", check.get("failure_reason")
    metadata = check["metadata"]["QualityCheck"]
    assert metadata["SkipCheck"] is False and metadata["BaselineUsedForDriftCheckConstraints"] == registered
    assert metadata["CalculatedBaselineConstraints"] != registered  # one folder an execution
    assert first["execution"]["arn"] != second["execution"]["arn"]
    # The first run's settings again: its check is reused (cache_config), with the baseline it calculated.
    third = run_local(run_settings, engine, Progress(show_logs=False), RunOptions(deploy=False))
    reused = {s["name"]: s for s in third["steps"]}["DataQualityCheck"]
    assert reused["cache_hit"] == first["execution"]["arn"] and "job" not in reused
    assert reused["metadata"]["QualityCheck"]["CalculatedBaselineConstraints"] == registered


def package_baseline(settings: Settings) -> str:
    package = ModelRegistry(settings.state_dir / "registry.json").latest_approved(GROUP)
    return str(package["DriftCheckBaselines"]["ModelDataQuality"]["Constraints"]["S3Uri"])


def test_a_failing_training_step_stops_the_run(run_settings: Settings, engine: Engine, images: dict) -> None:
    dirs_before = work_dirs()
    with pytest.raises(JobFailed) as caught:
        run_local(run_settings, engine, Progress(show_logs=False), RunOptions(parameters={"MaxIter": "many"}))
    assert "Step failure: Train: AlgorithmError: ValueError: hyperparameter max_iter='many'" in caught.value.problem
    record = json.loads((run_settings.state_dir / "runs" / "latest.json").read_text())
    assert record["status"] == "Failed"
    # The data-quality check started beside Train and ran to its end; nothing after Train started.
    assert [(s["name"], s["status"]) for s in record["steps"]] == [
        ("Preprocess", "Succeeded"), ("DataQualityCheck", "Succeeded"), ("Train", "Failed")
    ]  # fmt: skip
    assert "exit code: 1" in record["steps"][2]["failure_reason"]
    assert ModelRegistry(run_settings.state_dir / "registry.json").list_packages(GROUP) == []
    assert our_leftovers(engine) == [] and work_dirs() == dirs_before


@pytest.mark.parametrize("keep", [(), ("--keep-on-failure",)], ids=["plain", "keep-on-failure"])
def test_ctrl_c_during_training_leaves_nothing_behind(
    run_settings: Settings, engine: Engine, images: dict, keep: tuple[str, ...]
) -> None:
    dirs_before = work_dirs()
    env = {**os.environ, "HARNESS_STATE_DIR": str(run_settings.state_dir)}
    with subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run-local", *keep],
        cwd=run_settings.project_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        seen = []
        deadline = time.monotonic() + 240
        assert process.stdout is not None
        for line in process.stdout:  # bounded by the deadline below
            seen.append(line)
            if line.startswith("▶ Train") or time.monotonic() > deadline:
                break
        assert any(line.startswith("▶ Train") for line in seen), "".join(seen)
        time.sleep(0.5)  # the training container is running now
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output
    assert "interrupted" in output
    assert our_leftovers(engine) == [] and work_dirs() == dirs_before
    # An interrupted job is not a failed one to keep: no record would name it.
    kept = run_settings.state_dir / "kept"
    assert not kept.exists() or list(kept.iterdir()) == []


def test_a_local_run_makes_zero_requests_beyond_loopback(
    run_settings: Settings, images: dict, engine: Engine, tmp_path: Path
) -> None:
    events_file = tmp_path / "network.json"
    env = {**sanitized(os.environ), "HARNESS_STATE_DIR": str(run_settings.state_dir)}
    result = subprocess.run(
        [sys.executable, "-c", AUDITED_CLI, str(events_file), "run-local", "--quiet"],
        cwd=run_settings.project_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    events = json.loads(events_file.read_text())
    reached = escaped(events, engine)
    assert reached == [], f"the local run reached beyond loopback: {reached}"
    assert any(kind == "connect" and target.startswith("127.") for kind, target in events)  # S3 and endpoints
    assert any(kind == "connect" and target.startswith("/") for kind, target in events)  # Docker


def test_the_sandbox_drops_host_credentials() -> None:
    env = sanitized({"AWS_ACCESS_KEY_ID": "AKIAHOST", "AWS_PROFILE": "prod", "PATH": "/bin", "NO_PROXY": "corp"})
    assert env["AWS_ACCESS_KEY_ID"] == "harness-local" and "AWS_PROFILE" not in env
    assert env["AWS_EC2_METADATA_DISABLED"] == "true" and env["PATH"] == "/bin"
    assert set(env["NO_PROXY"].split(",")) == {"corp", "127.0.0.1", "localhost"}
