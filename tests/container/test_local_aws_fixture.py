"""The plugin's `sagemaker_local_aws` fixture, used from a separate test project as a team would.

A team's test seeds S3 with boto3, runs a pipeline from its definition JSON
whose job reads that S3 with its own boto3 inside the container, runs a script
as a subprocess in the fixture's environment, and drives the SageMaker SDK
through `session()`; a second project shows that nothing of the fixture
outlives its test, pass or fail, and that moto's S3 is the process's, as the
plugin's docstring says.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest

from harness.engine.docker import OWNER, OWNER_LABEL, SCOPE_LABEL
from harness.project.images import ImageKind

ECR_URI = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/prep:1.0"

# The user's test files: plain Python (no format fields); the outer test puts their constants first.
HELPERS = """
import json
import subprocess
import sys

import boto3
import pytest

from harness.emulator.storage import S3Uri

ROLE = "arn:aws:iam::111122223333:role/TeamRole"


def reads_s3(bucket, key):
    return (
        f"import boto3, os; body = boto3.client('s3').get_object(Bucket='{bucket}', Key='{key}')['Body'].read();"
        "print('read from S3:', body.decode(), 'via', os.environ['AWS_ENDPOINT_URL']);"
        "os.makedirs('/opt/ml/processing/out', exist_ok=True);"
        "open('/opt/ml/processing/out/copy.txt', 'wb').write(body)"
    )


def definition(image, bucket, key):
    return json.dumps({
        "Version": "2020-12-01",
        "Parameters": [{"Name": "Destination", "Type": "String", "DefaultValue": f"s3://{bucket}/out"}],
        "Steps": [{
            "Name": "CopyRaw", "Type": "Processing",
            "Arguments": {
                "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                                          "VolumeSizeInGB": 30}},
                "AppSpecification": {"ImageUri": image,
                                     "ContainerEntrypoint": ["python3", "-c", reads_s3(bucket, key)]},
                "ProcessingOutputConfig": {"Outputs": [{"OutputName": "out", "S3Output": {
                    "S3Uri": {"Get": "Parameters.Destination"}, "LocalPath": "/opt/ml/processing/out",
                    "S3UploadMode": "EndOfJob"}}]},
                "RoleArn": ROLE,
            },
        }],
    })
"""

USER_TESTS = """

def test_boto3_a_pipeline_and_a_script_against_the_endpoint(sagemaker_local_aws):
    aws = sagemaker_local_aws
    s3 = boto3.Session().client("s3", **aws.client_kwargs)
    s3.create_bucket(Bucket="team-raw")
    s3.put_object(Bucket="team-raw", Key="in/hello.txt", Body=b"hello team")

    sagemaker = boto3.Session().client("sagemaker", **aws.client_kwargs)
    sagemaker.create_pipeline(PipelineName="copy-raw", RoleArn=ROLE,
                              PipelineDefinition=definition(PROCESSING, "team-raw", "in/hello.txt"))
    arn = sagemaker.start_pipeline_execution(PipelineName="copy-raw")["PipelineExecutionArn"]
    assert sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Succeeded"
    steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    assert [(s["StepName"], s["StepStatus"]) for s in steps] == [("CopyRaw", "Succeeded")]
    assert [(run.pipeline_name, run.status, [s.name for s in run.steps]) for run in aws.control.pipelines.runs] == [
        ("copy-raw", "Succeeded", ["CopyRaw"])
    ]
    # The container read the object with its own boto3 (AWS_ENDPOINT_URL given by the platform) and wrote a copy.
    assert aws.s3.get_bytes(S3Uri("team-raw", "out/copy.txt")) == b"hello team"

    # A script, unchanged, in the fixture's environment: the host's AWS_ENDPOINT_URL_S3 (a dead port) is dropped.
    listed = subprocess.run([sys.executable, "-c", "import boto3; print(boto3.Session().client('s3').list_buckets())"],
                            env=aws.environment, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "'Name': 'team-raw'" in listed.stdout
    assert aws.environment["AWS_ENDPOINT_URL"] == aws.url and "AWS_ENDPOINT_URL_S3" not in aws.environment
    assert aws.local.egress.refusals == ()


@pytest.mark.sagemaker_local_aws(images={ECR_URI: PROCESSING})
def test_the_sdk_session_runs_a_pipeline_on_an_ecr_uri_mapped_by_the_marker(sagemaker_local_aws):
    from sagemaker.processing import Processor
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import ProcessingStep

    session = sagemaker_local_aws.session()
    bucket = session.default_bucket()
    assert bucket == "sagemaker-us-east-1-000000000000"
    session.upload_string_as_file_body("hello sdk", bucket, "in/sdk.txt")

    pipelines = sagemaker_local_aws.session(pipeline=True)
    processor = Processor(role=ROLE, image_uri=ECR_URI, instance_count=1, instance_type="ml.m5.large",
                          entrypoint=["python3", "-c", reads_s3(bucket, "in/sdk.txt")], sagemaker_session=pipelines)
    pipeline = Pipeline("sdk-copy", steps=[ProcessingStep("CopyRaw", step_args=processor.run())],
                        sagemaker_session=pipelines)
    pipeline.upsert(role_arn=ROLE)
    execution = pipeline.start()
    execution.wait(delay=1)
    assert execution.describe()["PipelineExecutionStatus"] == "Succeeded"
    assert [(s["StepName"], s["StepStatus"]) for s in execution.list_steps()] == [("CopyRaw", "Succeeded")]
    assert [p["PipelineName"] for p in session.sagemaker_client.list_pipelines()["PipelineSummaries"]] == ["sdk-copy"]
    assert sagemaker_local_aws.local.egress.refusals == ()  # no telemetry, no STS on AWS's host


@pytest.mark.sagemaker_local_aws(imges={})
def test_a_misspelt_option_is_named(sagemaker_local_aws):
    raise AssertionError("not reached: the fixture refuses the marker")
"""

CONFIGURED_TESTS = """

def test_the_projects_data_is_seeded_and_its_image_mapped(sagemaker_local_aws):
    aws = sagemaker_local_aws
    assert aws.s3.get_bytes(S3Uri("team-configured", "raw/rows.csv")) == b"a,b\\n1,2\\n"  # [tool.harness] data
    sagemaker = boto3.Session().client("sagemaker", **aws.client_kwargs)
    sagemaker.create_pipeline(PipelineName="configured", RoleArn=ROLE,
                              PipelineDefinition=definition(ECR_URI, "team-configured", "raw/rows.csv"))
    arn = sagemaker.start_pipeline_execution(PipelineName="configured")["PipelineExecutionArn"]
    # The ECR URI runs on the local image [tool.harness.images] names for it; no marker needed.
    assert sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Succeeded"
    assert aws.s3.get_bytes(S3Uri("team-configured", "out/copy.txt")) == b"a,b\\n1,2\\n"
"""

LIFECYCLE_TESTS = """
import json
import pathlib

import boto3

from harness.engine.docker import ContainerSpec


def test_fails_with_a_container_and_a_network_running(sagemaker_local_aws):
    scope = sagemaker_local_aws.local.scope
    network = scope.network("extra")
    container = scope.start(ContainerSpec(PROCESSING, entrypoint=("sleep",), command=("300",), network=network))
    boto3.Session().client("s3", **sagemaker_local_aws.client_kwargs).create_bucket(Bucket="kept-across-tests")
    RECORD.write_text(json.dumps({"scope": scope.id, "url": sagemaker_local_aws.url, "network": network}))
    assert container.status() == "running"
    raise AssertionError("fails on purpose: the clean-up must not depend on the test passing")


def test_a_later_endpoint_still_has_the_earlier_ones_buckets(sagemaker_local_aws):
    first = json.loads(RECORD.read_text())
    assert sagemaker_local_aws.url != first["url"] and sagemaker_local_aws.local.scope.id != first["scope"]
    buckets = boto3.Session().client("s3", **sagemaker_local_aws.client_kwargs).list_buckets()["Buckets"]
    assert "kept-across-tests" in [b["Name"] for b in buckets]  # moto's backends are the process's
    assert sagemaker_local_aws.control.pipelines.runs == []  # SageMaker state is the test's own
    SECOND.write_text(json.dumps({"scope": sagemaker_local_aws.local.scope.id, "url": sagemaker_local_aws.url}))
"""


def test_the_local_aws_fixture_in_a_user_project(
    pytester: pytest.Pytester, images: dict[ImageKind, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")  # a host setting the environment must drop
    constants = f"PROCESSING = {images[ImageKind.PROCESSING]!r}\nECR_URI = {ECR_URI!r}\n"
    pytester.makepyfile(test_user=constants + HELPERS + USER_TESTS)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    assert (
        "sagemaker_local_aws takes only the keywords ['asynchronous', 'images']; not ['imges']" in result.stdout.str()
    )


def test_the_fixture_applies_the_projects_configuration(
    pytester: pytest.Pytester, images: dict[ImageKind, str]
) -> None:
    constants = f"PROCESSING = {images[ImageKind.PROCESSING]!r}\nECR_URI = {ECR_URI!r}\n"
    (pytester.path / "data").mkdir()
    (pytester.path / "data" / "rows.csv").write_bytes(b"a,b\n1,2\n")
    pytester.makefile(".toml", pyproject=(
        '[tool.harness]\ndata = { "data/rows.csv" = "s3://team-configured/raw/rows.csv" }\n'
        f'[tool.harness.images]\n"{ECR_URI}" = "{images[ImageKind.PROCESSING]}"\n'
    ))  # fmt: skip
    pytester.makepyfile(test_configured=constants + HELPERS + CONFIGURED_TESTS)
    broken = pytester.mkdir("broken")  # its own project, nearest to its test: a configuration error is named
    (broken / "pyproject.toml").write_text("[tool.harness]\nmax-parallel = 0\n")
    (broken / "test_broken.py").write_text("def test_never_runs(sagemaker_local_aws):\n    raise AssertionError\n")
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "--rootdir", str(pytester.path))
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*max-parallel*"])


def test_nothing_of_the_fixture_outlives_its_test(
    pytester: pytest.Pytester, images: dict[ImageKind, str], tmp_path: Path
) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    constants = f"PROCESSING = {images[ImageKind.PROCESSING]!r}\nRECORD = pathlib.Path({str(first)!r})\n"
    constants += f"SECOND = pathlib.Path({str(second)!r})\n"
    pytester.makepyfile(test_lifecycle="import pathlib\n" + constants + LIFECYCLE_TESTS)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*fails on purpose: the clean-up must not depend on the test passing*"])
    endpoints = [json.loads(first.read_text()), json.loads(second.read_text())]
    for endpoint in endpoints:
        labels = ["--filter", f"label={OWNER_LABEL}={OWNER}", "--filter", f"label={SCOPE_LABEL}={endpoint['scope']}"]
        assert _docker("ps", "-aq", *labels) == []
        assert _docker("network", "ls", "-q", *labels) == []
        url = urlparse(endpoint["url"])
        with pytest.raises(ConnectionRefusedError):  # the server is stopped
            socket.create_connection((url.hostname, url.port), timeout=5).close()
    assert _docker("network", "ls", "-q", "--filter", f"name={endpoints[0]['network']}") == []


def _docker(*arguments: str) -> list[str]:
    listed = subprocess.run(["docker", *arguments], capture_output=True, text=True, check=True, timeout=60)
    return listed.stdout.split()
