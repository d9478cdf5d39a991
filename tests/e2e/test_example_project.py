"""Another team's project, cloud code unchanged: examples/house-prices through `sagemaker-harness run`
and through `up` / `env` / `down`, from its own folder, audited for every connection of every process.

The example shares nothing with jobs/: its own Dockerfiles (built by the harness from its
[tool.harness] table), ECR image URIs, a cloud bucket name, a ParameterInteger instance count,
a preprocessing script that downloads its input with boto3 itself, and a plain PipelineSession().
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from support import audited_environment, escaped_by_process

from harness.engine.docker import OWNER_LABEL, SCOPE_LABEL, Engine

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "house-prices"
STEPS = ["PrepareFeatures", "FitRegressor", "ScoreModel", "CheckRmse", "RegisterHousePriceModel-RegisterModel"]


def harness(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", *args]


def test_the_example_runs_unchanged_through_harness_run(tmp_path: Path, images: dict, engine: Engine) -> None:
    env = audited_environment(tmp_path)
    result = subprocess.run(
        harness("run", "--", sys.executable, "pipeline.py"),
        cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    # The script's own output: every step, as it reads them back from the (local) service.
    assert [f"{step}: Succeeded" for step in STEPS] == [
        line for line in result.stdout.splitlines() if line.split(":")[0] in STEPS
    ]
    assert "house-prices: Succeeded" in result.stdout
    # The containers' own log lines, streamed by the harness, prefixed by step.
    assert "[PrepareFeatures] prepare: 240 train rows, 60 test rows" in result.stderr  # it read S3 with boto3
    assert "[FitRegressor] train: fitted ridge alpha=1.0" in result.stderr
    assert "[ScoreModel] evaluate: rmse=" in result.stderr
    assert "pipeline house-prices: execution" in result.stderr and "harness: " in result.stderr
    # The execution's record, step logs and report, kept as run-local keeps its own.
    state = tmp_path / "state"
    (record,) = [json.loads(p.read_text()) for p in (state / "runs").glob("2*.json")]
    assert (record["kind"], record["pipeline"]["name"], record["status"]) == ("run", "house-prices", "Succeeded")
    assert Path(record["report"]).is_file() and f"report {record['report']}" in result.stderr
    steps = {s["name"]: s for s in record["steps"]}
    prepare_log = state / "runs" / record["run_id"] / steps["PrepareFeatures"]["log"]["path"]
    assert "prepare: 240 train rows, 60 test rows" in prepare_log.read_text()
    assert any("rmse" in name for name in steps["ScoreModel"]["metrics"]["evaluation.json"]), steps["ScoreModel"]
    assert list((state / "runs").glob(".jobs-*")) == []  # the command's log folder went into the run's
    # Zero connections beyond loopback, Unix sockets and the Docker bridge, from the harness and the script.
    reached = escaped_by_process(tmp_path, engine)
    assert any("pipeline.py" in argv for argv in reached) and any("cli.py run" in argv for argv in reached), reached
    assert {argv: beyond for argv, beyond in reached.items() if beyond} == {}
    assert scopes_left(engine, "cmd-") == []


def test_a_failing_branch_exits_with_the_scripts_code_and_names_the_step(tmp_path: Path, images: dict) -> None:
    env = {**audited_environment(tmp_path), "RIDGE_ALPHA": "500"}
    result = subprocess.run(
        harness("run", "--no-build", "--quiet", "--", sys.executable, "pipeline.py"),
        cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-4000:]
    assert "RmseTooHigh: Failed" in result.stdout and "house-prices: Failed" in result.stdout
    assert "RmseTooHigh" in result.stderr and "above MaxRmse" in result.stderr  # the summary's failure column


def test_up_keeps_state_across_two_commands_and_down_removes_everything(
    tmp_path: Path, images: dict, engine: Engine
) -> None:
    env = audited_environment(tmp_path)
    up = subprocess.run(harness("up"), cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=600)
    assert up.returncode == 0, up.stderr
    try:
        exports = subprocess.run(harness("env"), cwd=EXAMPLE, env=env, capture_output=True, text=True, check=True)
        shell = {**env, **_exports(exports.stdout)}
        # Command one: the pipeline script, from another process.
        first = subprocess.run([sys.executable, "pipeline.py"], cwd=EXAMPLE, env=shell, capture_output=True,
                               text=True, timeout=900)  # fmt: skip
        assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-4000:]
        # Command two, later and separate: the same bucket and registry.
        url = shell["AWS_ENDPOINT_URL"]
        kw = {"endpoint_url": url, "region_name": "us-east-1", "aws_access_key_id": "a", "aws_secret_access_key": "b"}
        keys = [o["Key"] for o in boto3.Session().client("s3", **kw).list_objects_v2(Bucket="acme-ml-data")["Contents"]]
        assert "raw/houses.csv" in keys  # seeded from [tool.harness] data
        assert any(k.startswith("house-prices/") and k.endswith("evaluation.json") for k in keys), keys
        assert any(k.endswith("model.tar.gz") for k in keys), keys
        packages = boto3.Session().client("sagemaker", **kw).list_model_packages(ModelPackageGroupName="house-prices")
        assert [p["ModelApprovalStatus"] for p in packages["ModelPackageSummaryList"]] == ["PendingManualApproval"]
        status = subprocess.run(harness("status"), cwd=EXAMPLE, env=env, capture_output=True, text=True)
        assert status.returncode == 0 and url in status.stdout
    finally:
        down = subprocess.run(harness("down"), cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=120)
    assert down.returncode == 0 and "stopped" in down.stdout, down.stderr
    after = subprocess.run(harness("status"), cwd=EXAMPLE, env=env, capture_output=True, text=True)
    assert after.returncode == 1 and "not running" in after.stdout
    assert scopes_left(engine, "up-") == []
    assert not (tmp_path / "state" / "endpoint" / "endpoint.json").exists()


def scopes_left(engine: Engine, prefix: str) -> list[str]:
    """Scopes with that prefix that still own a container or a network."""
    containers = engine.client.containers.list(all=True, filters={"label": OWNER_LABEL})
    networks = engine.client.networks.list(filters={"label": OWNER_LABEL})
    labels = [c.labels for c in containers] + [n.attrs.get("Labels") or {} for n in networks]
    return sorted({v for lab in labels for v in [lab.get(SCOPE_LABEL, "")] if v.startswith(prefix)})


def _exports(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            values[name] = shlex.split(value)[0]
    return values


QUICK_LISTING = "import boto3; print(boto3.client('s3').list_objects_v2(Bucket='early-team')['KeyCount'])"


def test_a_command_quicker_than_the_environment_sees_the_seeded_data(tmp_path: Path, images: dict) -> None:
    """`run` starts the command before its environment is open (to overlap the command's start); a command
    whose first request comes before the data is seeded is answered once it is, never with a missing object."""
    (tmp_path / "rows.csv").write_text("a,b\n1,2\n")
    result = subprocess.run(
        harness("run", "--data", "rows.csv=s3://early-team/raw/rows.csv", "--", sys.executable, "-c", QUICK_LISTING),
        cwd=tmp_path, env=audited_environment(tmp_path), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
    assert "harness: seeded s3://early-team/raw/rows.csv" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["run", "--", "no-such-command-xyz"], 127, "command not found: no-such-command-xyz"),
        (["run"], 2, "no command to run"),
        (["run", "--data", "missing.csv=s3://b/k", "--", "true"], 2, "missing.csv does not exist"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path: Path, images: dict, args: list[str], code: int, message: str) -> None:
    result = subprocess.run(harness(*args), cwd=tmp_path, env=audited_environment(tmp_path), capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    assert result.returncode == code, result.stderr
    assert message in result.stderr
