"""The local AWS endpoint's parts that need no Docker: protocol, logs, paging, operation names, the
command environment, the child-process redirect and the project configuration."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from harness.emulator.controlplane import implemented
from harness.emulator.logs import LogStore
from harness.emulator.paging import page
from harness.emulator.platform import CHILD_SITE, command_environment, repository
from harness.emulator.protocol import AwsFault, error_reply, json_reply
from harness.emulator.server import Listener, LocalAwsServer, Routes
from harness.emulator.storage import EmbeddedS3
from harness.errors import UserError
from harness.projectconfig import load_project
from harness.run_command import sdk_config_without_telemetry

pytestmark = pytest.mark.unit


def test_every_implemented_operation_is_a_real_sagemaker_operation() -> None:
    model = botocore.session.get_session().get_service_model("sagemaker")
    assert set(implemented()) <= set(model.operation_names)
    needed = {"CreatePipeline", "StartPipelineExecution", "ListPipelineExecutionSteps", "CreateTrainingJob",
              "DescribePipelineDefinitionForExecution", "UpdateEndpoint", "UpdateModelPackage", "AddTags"}  # fmt: skip
    assert needed <= set(implemented())


def test_replies_are_json_1_1_with_epoch_timestamps_and_aws_shaped_errors() -> None:
    when = datetime(2026, 1, 2, tzinfo=UTC)
    reply = json_reply({"CreationTime": when, "ResponseMetadata": {"x": 1}})
    assert json.loads(reply.body) == {"CreationTime": when.timestamp()}
    assert reply.headers["Content-Type"] == "application/x-amz-json-1.1"
    error = error_reply("ValidationException", "bad", 400)
    assert json.loads(error.body)["__type"] == "ValidationException" and error.status == 400


def test_log_events_page_until_an_empty_page_as_the_sdk_reads_them() -> None:
    logs = LogStore()
    write = logs.job_writer("Training", "job-1", "algo-1")
    for n in range(3):
        write(f"line {n}")
    streams = logs.describe_log_streams(
        {"logGroupName": "/aws/sagemaker/TrainingJobs", "logStreamNamePrefix": "job-1/", "orderBy": "LogStreamName"}
    )["logStreams"]
    assert len(streams) == 1 and streams[0]["logStreamName"].startswith("job-1/algo-1-")
    request = {"logGroupName": "/aws/sagemaker/TrainingJobs", "logStreamName": streams[0]["logStreamName"],
               "startFromHead": True}  # fmt: skip
    first = logs.get_log_events(request)
    assert [e["message"] for e in first["events"]] == ["line 0", "line 1", "line 2"]
    second = logs.get_log_events({**request, "nextToken": first["nextForwardToken"]})
    assert second["events"] == [] and second["nextForwardToken"] == first["nextForwardToken"]
    with pytest.raises(AwsFault, match="log group does not exist"):
        logs.describe_log_streams({"logGroupName": "/aws/sagemaker/ProcessingJobs"})


def test_list_pages_filter_sort_and_continue() -> None:
    now = datetime.now(UTC)
    items = [
        {"Name": f"job-{i}", "CreationTime": now + timedelta(seconds=i), "JobStatus": "Completed"} for i in range(5)
    ]
    items.append({"Name": "other", "CreationTime": now, "JobStatus": "Failed"})
    first = page(items, {"NameContains": "job", "MaxResults": 2}, "Jobs", "Name")
    assert [j["Name"] for j in first["Jobs"]] == ["job-4", "job-3"] and first["NextToken"] == "2"
    rest = page(items, {"NameContains": "job", "MaxResults": 10, "NextToken": "2"}, "Jobs", "Name")
    assert [j["Name"] for j in rest["Jobs"]] == ["job-2", "job-1", "job-0"] and "NextToken" not in rest
    assert [j["Name"] for j in page(items, {"StatusEquals": "Failed"}, "Jobs", "Name")["Jobs"]] == ["other"]


def test_a_command_gets_the_endpoint_and_none_of_the_hosts_aws_set_up(tmp_path: Path) -> None:
    host = {"PATH": "/usr/bin", "AWS_PROFILE": "prod", "AWS_SESSION_TOKEN": "t", "AWS_ACCESS_KEY_ID": "AKIAREAL",
            "AWS_ENDPOINT_URL_S3": "https://s3.example", "PYTHONPATH": "/mine"}  # fmt: skip
    env = command_environment(host, "http://127.0.0.1:9", tmp_path / "empty", tmp_path / "sdk.yaml")
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9" and env["AWS_ACCESS_KEY_ID"] == "harness-local"
    assert "AWS_PROFILE" not in env and "AWS_SESSION_TOKEN" not in env and "AWS_ENDPOINT_URL_S3" not in env
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"] == str(tmp_path / "empty")
    assert env["AWS_EC2_METADATA_DISABLED"] == "true" and env["PATH"] == "/usr/bin"
    assert env["PYTHONPATH"].split(":") == [str(CHILD_SITE), "/mine"]


def test_the_sdk_config_turns_telemetry_off_and_keeps_the_users_settings(tmp_path: Path) -> None:
    own = tmp_path / "config.yaml"
    own.write_text(
        "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      Session:\n        DefaultS3Bucket: b\n"
    )
    config = sdk_config_without_telemetry({"SAGEMAKER_USER_CONFIG_OVERRIDE": str(own)})
    modules = config["SageMaker"]["PythonSDK"]["Modules"]
    assert modules["TelemetryOptOut"] is True and modules["Session"]["DefaultS3Bucket"] == "b"
    assert "TelemetryOptOut" not in own.read_text()  # read, never written


REDIRECT_PROBE = """
import boto3, json, sys
client = boto3.Session().client("sts", region_name="us-east-1", endpoint_url="https://sts.us-east-1.amazonaws.com",
                      aws_access_key_id="a", aws_secret_access_key="b")
other = boto3.Session().client("s3", region_name="us-east-1", endpoint_url="http://10.1.2.3:9000",
                     aws_access_key_id="a", aws_secret_access_key="b")
print(json.dumps([client.meta.endpoint_url, other.meta.endpoint_url, __import__("user_marker").seen]))
"""


def test_a_client_built_for_an_aws_host_goes_to_the_local_endpoint_and_the_users_sitecustomize_still_runs(
    tmp_path: Path,
) -> None:
    users = tmp_path / "users"
    users.mkdir()
    (users / "sitecustomize.py").write_text("import user_marker\nuser_marker.seen = True\n")
    (users / "user_marker.py").write_text("seen = False\n")
    env = command_environment({"PYTHONPATH": str(users)}, "http://127.0.0.1:4566", tmp_path / "e", tmp_path / "s")
    out = subprocess.run([sys.executable, "-c", REDIRECT_PROBE], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ["http://127.0.0.1:4566", "http://10.1.2.3:9000", True]


LOADER_PROBE = """
import json, boto3, botocore.loaders, botocore.session
sessions = [boto3.Session(region_name="us-east-1") for _ in range(3)] + [botocore.session.get_session()]
loaders = [getattr(s, "_session", s).get_component("data_loader") for s in sessions]
paths = loaders[0].search_paths
models = [s.client("sts", aws_access_key_id="a", aws_secret_access_key="b").meta.service_model for s in sessions[:2]]
print(json.dumps([len({id(x) for x in loaders}), botocore.loaders.create_loader() is loaders[0],
                  len(paths) == len(set(paths)), any(p.endswith("boto3/data") for p in paths),
                  models[0].operation_names == models[1].operation_names]))
"""


def test_a_commands_botocore_sessions_share_one_loader_of_parsed_models(tmp_path: Path) -> None:
    env = command_environment({}, "http://127.0.0.1:4566", tmp_path / "e", tmp_path / "s")
    out = subprocess.run([sys.executable, "-c", LOADER_PROBE], env=env, capture_output=True, text=True, check=True)
    one_loader, the_sdks_too, no_repeated_path, boto3_path_kept, same_models = json.loads(out.stdout)
    assert one_loader == 1 and the_sdks_too  # sts_regional_endpoint's create_loader() gets it as well
    assert no_repeated_path and boto3_path_kept  # boto3 appended its data folder once, not once a session
    assert same_models


CONFIG_PROBE = """
import json, jsonschema
import sagemaker.config.config as config_module, sagemaker.config as package, sagemaker.utils as utils
import sagemaker.session as session, sagemaker.local.local_session as local_session
schema = config_module.SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA
bad = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": "yes"}}}}
good = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}
def message(validate, config):
    try:
        validate(config)
    except jsonschema.ValidationError as error:
        return [error.message, list(error.absolute_path)]
checked = []
jsonschema.validators.validator_for(schema).check_schema = lambda *a: checked.append(1)
ours = [message(f.validate_sagemaker_config, bad) for f in (config_module, package, utils, session, local_session)]
utils.validate_sagemaker_config(good)
print(json.dumps([message(lambda c: jsonschema.validate(c, schema), bad), ours, message(utils.validate_sagemaker_config,
      good), len(checked)]))
"""


def test_a_commands_sdk_validates_its_config_as_jsonschema_does_without_rechecking_the_sdks_own_schema(
    tmp_path: Path,
) -> None:
    env = command_environment({}, "http://127.0.0.1:4566", tmp_path / "e", tmp_path / "s")
    out = subprocess.run([sys.executable, "-c", CONFIG_PROBE], env=env, capture_output=True, text=True, check=True)
    expected, ours, good, schema_checks = json.loads(out.stdout.splitlines()[-1])  # after the SDK's own notices
    assert expected and expected[0] == "'yes' is not of type 'boolean'"  # what the SDK's own validation says
    assert ours == [expected] * 5  # the same error, by every name the SDK's modules call it
    assert good is None
    assert schema_checks == 1  # only the probe's own jsonschema.validate checked the schema; ours did not


EXIT_PROBE = """
import atexit, gc, sys, types
sys.modules["sagemaker"] = types.ModuleType("sagemaker")  # as if the script had imported the SDK
class Cycle:
    def __init__(self, path): self.path, self.me = path, self
    def __del__(self): open(self.path, "w").write("finalized")
Cycle(sys.argv[1])  # cyclic garbage at exit: still finalized
gc.disable()  # so that only the exit's own collection can find it
atexit.register(lambda: print(atexit._ncallbacks() - 1, gc.get_freeze_count(), flush=True))  # less this one
"""


@pytest.mark.parametrize("full_exit", ["", "1"])
def test_a_command_that_imported_the_sdk_exits_without_walking_its_live_objects_again(
    tmp_path: Path, full_exit: str
) -> None:
    env = command_environment({}, "http://127.0.0.1:4566", tmp_path / "e", tmp_path / "s")
    env["HARNESS_FULL_EXIT"] = full_exit
    marker = tmp_path / "finalized"
    out = subprocess.run([sys.executable, "-c", EXIT_PROBE, str(marker)], env=env, capture_output=True, text=True,
                         check=True)  # fmt: skip
    hooks_before_ours, frozen = (int(n) for n in out.stdout.split())
    assert hooks_before_ours == (1 if full_exit == "" else 0)  # ours is registered first, so it runs last
    assert frozen == 0  # nothing is frozen before the other exit hooks have run
    if full_exit == "":  # garbage cycles are still collected, while the interpreter is whole (Python's own
        assert marker.read_text() == "finalized"  # teardown collects them after `open` is gone)


def test_an_unimplemented_operation_and_a_bad_body_answer_aws_errors_through_boto3() -> None:
    threads_before = set(threading.enumerate())
    server = LocalAwsServer(Routes()).start()
    try:
        client = boto3.Session().client("sagemaker", endpoint_url=server.url, region_name="us-east-1",
                              aws_access_key_id="a", aws_secret_access_key="b")  # fmt: skip
        with pytest.raises(ClientError) as raised:
            client.list_pipelines()  # the control plane is not attached: a retryable 503, not a hang
        assert raised.value.response["Error"]["Code"] == "ServiceUnavailable"
        logs = boto3.Session().client("logs", endpoint_url=server.url, region_name="us-east-1",
                            aws_access_key_id="a", aws_secret_access_key="b")  # fmt: skip
        with pytest.raises(ClientError) as missing:
            logs.create_log_group(logGroupName="x")
        assert missing.value.response["Error"]["Code"] == "UnknownOperationException"
        assert "CreateLogGroup" in missing.value.response["Error"]["Message"]
        s3 = boto3.Session().client("s3", endpoint_url=server.url, region_name="us-east-1",
                          aws_access_key_id="a", aws_secret_access_key="b")  # fmt: skip
        s3.create_bucket(Bucket="any-team-bucket")  # everything else is moto's
        assert "any-team-bucket" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    finally:
        server.stop()
    # The server's own threads are gone (another test's helper server may still be winding down).
    assert not [t for t in set(threading.enumerate()) - threads_before if "serve_forever" in str(t)]


def test_a_port_in_use_is_a_clear_error() -> None:
    first = LocalAwsServer(Routes()).start()
    try:
        with pytest.raises(UserError, match=f"cannot listen on 127.0.0.1:{first.port}"):
            LocalAwsServer(Routes(), port=first.port).start()
    finally:
        first.stop()


ONE_ATTEMPT = Config(retries={"total_max_attempts": 1})


def _plain(service: str, url: str) -> Any:
    """A client as a command makes one (no harness marker), trying once."""
    return boto3.Session().client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="a",
                                  aws_secret_access_key="b", config=ONE_ATTEMPT)  # fmt: skip


def test_clients_wait_for_the_environment_while_the_harness_seeds_it() -> None:
    """`run` starts its command before the environment is open: the command's first request waits until the data
    is seeded (so it sees it), while the harness's own requests pass."""
    listener = Listener.bind()  # bound first, as `run` binds it before starting the command
    routes = Routes()
    routes.ready.clear()
    answers: list[list[str]] = []
    client = _plain("s3", listener.url)
    early = threading.Thread(target=lambda: answers.append([b["Name"] for b in client.list_buckets()["Buckets"]]))
    early.start()  # connects before anything serves the port: it waits in the backlog
    s3 = EmbeddedS3(routes=routes, listener=listener).start()
    try:
        s3.ensure_bucket("seeded-by-the-harness")  # the harness's own client is not held
        early.join(0.5)
        assert early.is_alive() and answers == []  # the client's request still waits
        routes.ready.set()
        early.join(10)
        assert len(answers) == 1 and "seeded-by-the-harness" in answers[0]
    finally:
        s3.stop()


class _CountedEvent(threading.Event):
    """An event that counts the waits on it: the test knows when both requests are held."""

    def __init__(self) -> None:
        super().__init__()
        self.waits = 0

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1
        return super().wait(timeout)


def test_a_client_still_waiting_when_the_endpoint_stops_is_answered_unavailable() -> None:
    routes = Routes(ready=_CountedEvent())
    server = LocalAwsServer(routes).start()
    sts = _plain("sts", server.url)
    errors: list[str] = []

    def call(operation: Callable[[], object]) -> None:
        try:
            operation()
        except ClientError as error:
            errors.append(error.response["Error"]["Code"])

    s3 = _plain("s3", server.url)
    waiting = [threading.Thread(target=call, args=(op,)) for op in (s3.list_buckets, sts.get_caller_identity)]
    for thread in waiting:
        thread.start()
    deadline = time.monotonic() + 30
    while routes.ready.waits < 2 and time.monotonic() < deadline:  # both requests held at the gate
        time.sleep(0.01)
    server.stop()  # the environment failed to open, say: the waiting requests are answered at once
    for thread in waiting:
        thread.join(10)
    assert errors == ["ServiceUnavailable", "ServiceUnavailable"]  # in S3's XML, and in the query protocol's


def test_project_configuration_reads_data_and_images_relative_to_its_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("a\n")
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.harness]\ndata = { "data/x.csv" = "s3://team/raw/x.csv" }\n'
        '[tool.harness.images]\n"1.dkr.ecr.us-east-1.amazonaws.com/a:1" = "a:dev"\n'
        '[tool.harness.images."1.dkr.ecr.us-east-1.amazonaws.com/b:1"]\ncontext = "img"\n'
    )
    (tmp_path / "sub").mkdir()
    project = load_project(tmp_path / "sub")
    assert project.data[0].path == tmp_path / "data" / "x.csv" and str(project.data[0].uri) == "s3://team/raw/x.csv"
    assert project.aliases() == {
        "1.dkr.ecr.us-east-1.amazonaws.com/a:1": "a:dev",
        "1.dkr.ecr.us-east-1.amazonaws.com/b:1": "1.dkr.ecr.us-east-1.amazonaws.com/b:1",
    }
    assert repository("1.dkr.ecr.us-east-1.amazonaws.com/team/b:1") == "1.dkr.ecr.us-east-1.amazonaws.com/team/b"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[tool.harness]\ndata = { "nope.csv" = "s3://b/k" }\n', "does not exist"),
        ('[tool.harness]\ndata = { "pyproject.toml" = "http://b/k" }\n', "is not an s3:// URI"),
        ('[tool.harness.images."x:1"]\nimage = "y"\n', "with `context`"),
        ('[tool.harness.images."x:1"]\ncontext = "."\n', "Dockerfile does not exist"),
        ("[tool.harness\n", "is not valid TOML"),
    ],
)
def test_bad_project_configuration_names_the_problem(tmp_path: Path, table: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(table)
    with pytest.raises(UserError, match=message):
        load_project(tmp_path)
