"""No door reaches the network: the library door and the pytest plugin, audited
like the CLI (tests/e2e/test_local_pipeline.py), in processes of their own that
start from a user's environment: no instance-metadata switch, no tox settings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support import escaped

from harness.engine.docker import Engine

# Runs a script (or `-m module`) with an audit hook recording every connection and
# name lookup of the process. The guard's hook goes first when it exists, so the
# recorder sees only what the guard let through: what really left the process.
AUDITED = """
import atexit, json, runpy, sys
try:
    from harness.engine import egress
    egress.install()
except ImportError:
    pass  # a harness without the guard: record everything
events, events_file = [], sys.argv[1]
def hook(event, args):
    if event in ("socket.connect", "socket.sendto"):
        address = args[1]
        events.append(["connect", address if isinstance(address, str) else str(address[0])])
    elif event == "socket.getaddrinfo":
        events.append(["lookup", str(args[0])])
sys.addaudithook(hook)
atexit.register(lambda: open(events_file, "w").write(json.dumps(events)))
if sys.argv[2] == "-m":
    sys.argv = [sys.argv[3], *sys.argv[4:]]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
else:
    sys.argv = sys.argv[2:]
    runpy.run_path(sys.argv[0], run_name="__main__")
"""

# The README's library door: a pipeline with one processing step, then registry calls.
PIPELINE_SCRIPT = """
import json, os, sys
before = sorted(k for k in os.environ if k.startswith("AWS_"))
from harness.project.config import Settings
from harness.engine.docker import Engine
from harness.local import EnvironmentOptions, LocalEnvironment
from harness.emulator.storage import S3Uri
from sagemaker.processing import ProcessingOutput, ScriptProcessor
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import ProcessingStep

ROLE = "arn:aws:iam::000000000000:role/r"
refused = lambda env: [str(r) for r in getattr(getattr(env, "egress", None), "refusals", ())]  # any harness
with LocalEnvironment.open(Settings.from_env().state_dir, Engine.connect(), on_log=lambda job, line: None,
                           on_event=lambda record: None, options=EnvironmentOptions(scope_name=sys.argv[3])) as env:
    processor = ScriptProcessor(image_uri=sys.argv[2], command=["python3"], role=ROLE, instance_count=1,
                                instance_type="ml.m5.large", sagemaker_session=env.session)
    step = ProcessingStep("Hello", step_args=processor.run(code=sys.argv[4], outputs=[ProcessingOutput(
        output_name="out", source="/opt/ml/processing/output", destination=f"s3://{env.bucket}/out")]))
    pipeline = Pipeline(name="hello", steps=[step], sagemaker_session=env.session)
    pipeline.upsert(role_arn=ROLE)
    status = pipeline.start().describe()["PipelineExecutionStatus"]
    env.session.sagemaker_client.create_model_package_group(ModelPackageGroupName="team")
    groups = env.session.sagemaker_client.list_model_packages(ModelPackageGroupName="team")["ModelPackageSummaryList"]
    result = {"status": status, "outputs": env.s3.keys(S3Uri(env.bucket, "out")), "groups": len(groups),
              "refusals": refused(env), "aws_env": before,
              "aws_env_after_import": sorted(k for k in os.environ if k.startswith("AWS_"))}
open(sys.argv[1], "w").write(json.dumps(result))
"""

HELLO = """
import os
os.makedirs("/opt/ml/processing/output", exist_ok=True)
open("/opt/ml/processing/output/hello.txt", "w").write("hello")
"""

# A user's mistake inside the block: a real boto3 client, with the user's own keys, no endpoint.
MISTAKE_SCRIPT = """
import json, sys
import boto3
from harness.project.config import Settings
from harness.engine.docker import Engine
from harness.local import EnvironmentOptions, LocalEnvironment

refused = lambda env: [str(r) for r in getattr(getattr(env, "egress", None), "refusals", ())]  # any harness
with LocalEnvironment.open(Settings.from_env().state_dir, Engine.connect(), on_log=lambda job, line: None,
                           on_event=lambda record: None, options=EnvironmentOptions(scope_name=sys.argv[2])) as env:
    try:
        boto3.client("s3", region_name="us-east-1").list_buckets()
        error = None
    except Exception as caught:
        chain, cause = [], caught
        while cause is not None:
            chain.append([type(cause).__name__, str(cause)])
            cause = cause.__cause__ or cause.__context__
        error = chain
    result = {"error": error, "refusals": refused(env)}
open(sys.argv[1], "w").write(json.dumps(result))
"""

PLUGIN_TESTS = """
import sys

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

DATA = {data!r}


def test_loading_the_plugin_imported_no_sdk():
    assert "sagemaker" not in sys.modules


def test_a_training_job(sagemaker_training_job):
    job = sagemaker_training_job("{training}", channels={{"train": DATA}})
    assert job.exit_code == 0, job.logs


def test_real_aws_is_refused_under_a_fixture(sagemaker_contract):
    with pytest.raises(EndpointConnectionError, match="s3.amazonaws.com") as caught:
        boto3.client("s3", region_name="us-east-1").list_buckets()
    assert "refused to lookup s3.amazonaws.com:443" in str(caught.value.__context__)
"""


def user_environment(tmp_path: Path, keys: bool) -> dict[str, str]:
    """The test runner's environment as a user's shell has it: no tox AWS settings; the user's keys if `keys`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HARNESS_STATE_DIR"] = str(tmp_path / "state")
    env["HARNESS_PROJECT_ROOT"] = str(Path(__file__).resolve().parents[2])  # the scripts run in a folder of their own
    if keys:
        env.update(AWS_ACCESS_KEY_ID="AKIAUSERSOWNKEY00000", AWS_SECRET_ACCESS_KEY="users-own-secret")
    return env


def audited(args: list[str], cwd: Path, env: dict[str, str], events: Path) -> list[list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", AUDITED, str(events), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return json.loads(events.read_text())


def test_the_library_door_reaches_nothing_beyond_loopback(tmp_path: Path, images: dict, engine: Engine) -> None:
    (tmp_path / "user.py").write_text(PIPELINE_SCRIPT)
    (tmp_path / "hello.py").write_text(HELLO)
    out = tmp_path / "result.json"
    events = audited(
        [
            str(tmp_path / "user.py"),
            str(out),
            images["processing"],
            f"egress-{tmp_path.name}",
            str(tmp_path / "hello.py"),
        ],
        tmp_path,
        user_environment(tmp_path, keys=False),
        tmp_path / "events.json",
    )
    result = json.loads(out.read_text())
    assert result["status"] == "Succeeded" and result["outputs"] == ["out/hello.txt"] and result["groups"] == 0
    assert escaped(events, engine) == [], "the library door reached beyond loopback"
    assert result["refusals"] == []  # nothing even tried: the SDK's own sessions are configured, not refused
    assert result["aws_env"] == [] and result["aws_env_after_import"] == []  # the import's settings were undone
    assert any(kind == "connect" and target.startswith("127.") for kind, target in events)  # S3, the API
    assert any(kind == "connect" and target.startswith("/") for kind, target in events)  # Docker


def test_a_real_boto3_client_in_the_block_is_refused_by_name(tmp_path: Path, engine: Engine) -> None:
    (tmp_path / "mistake.py").write_text(MISTAKE_SCRIPT)
    out = tmp_path / "result.json"
    events = audited(
        [str(tmp_path / "mistake.py"), str(out), f"egress-{tmp_path.name}"],
        tmp_path,
        user_environment(tmp_path, keys=True),
        tmp_path / "events.json",
    )
    result = json.loads(out.read_text())
    assert escaped(events, engine) == [], "the user's real client reached beyond loopback"
    (outer, *causes) = result["error"]
    assert outer == ["EndpointConnectionError", 'Could not connect to the endpoint URL: "https://s3.amazonaws.com/"']
    refused = [text for name, text in causes if "refused to lookup s3.amazonaws.com:443" in text]
    assert refused and f"{tmp_path / 'mistake.py'}:12 in <module>" in refused[0]  # the line that built the call
    assert result["refusals"] and {r.split(" from ")[0] for r in result["refusals"]} == {"lookup s3.amazonaws.com:443"}


def test_the_plugin_door_reaches_nothing_beyond_loopback(
    tmp_path: Path, images: dict, engine: Engine, fixtures_dir: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_user.py").write_text(
        PLUGIN_TESTS.format(data=str(fixtures_dir / "data" / "train" / "train_data.csv"), training=images["training"])
    )
    events = audited(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        project,
        user_environment(tmp_path, keys=True),
        tmp_path / "events.json",
    )
    assert escaped(events, engine) == [], "the plugin's tests reached beyond loopback"
    assert any(kind == "connect" and target.startswith("/") for kind, target in events)  # Docker
