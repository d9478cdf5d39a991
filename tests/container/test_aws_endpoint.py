"""The local AWS endpoint through plain boto3 and the AWS CLI: what a team's own scripts send.

A pipeline created from a definition JSON, started, listed and described; its
job reading S3 with its own boto3 inside the container; the container's log
read back through CloudWatch Logs as the SDK reads it; the errors AWS would
answer; the asynchronous mode; and `aws s3 ls` / `aws sagemaker` through the CLI.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from harness.emulator.environment import EnvironmentOptions, LocalEnvironment
from harness.emulator.storage import S3Uri
from harness.engine.docker import Engine
from harness.project.images import ImageKind

ROLE = "arn:aws:iam::111122223333:role/TeamRole"
READS_S3 = (
    "import boto3, os; body = boto3.client('s3').get_object(Bucket='team-raw', Key='in/hello.txt')['Body'].read();"
    "print('read from S3:', body.decode(), 'via', os.environ['AWS_ENDPOINT_URL']);"
    "os.makedirs('/opt/ml/processing/out', exist_ok=True);"
    "open('/opt/ml/processing/out/copy.txt', 'wb').write(body)"
)


def client(env: LocalEnvironment, service: str) -> Any:
    return boto3.Session().client(service, endpoint_url=env.endpoint_url, region_name="us-east-1",
                        aws_access_key_id="anything", aws_secret_access_key="anything")  # fmt: skip


def definition(image: str) -> str:
    """A definition as the cloud receives it: an Integer parameter as the instance count, no approval parameter."""
    return json.dumps({
        "Version": "2020-12-01",
        "Parameters": [{"Name": "Instances", "Type": "Integer", "DefaultValue": 1},
                       {"Name": "Destination", "Type": "String", "DefaultValue": "s3://team-raw/out"}],
        "Steps": [{
            "Name": "CopyRaw", "Type": "Processing",
            "Arguments": {
                "ProcessingResources": {"ClusterConfig": {"InstanceCount": {"Get": "Parameters.Instances"},
                                                          "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}},
                "AppSpecification": {"ImageUri": image, "ContainerEntrypoint": ["python3", "-c", READS_S3]},
                "ProcessingOutputConfig": {"Outputs": [{"OutputName": "out", "S3Output": {
                    "S3Uri": {"Get": "Parameters.Destination"}, "LocalPath": "/opt/ml/processing/out",
                    "S3UploadMode": "EndOfJob"}}]},
                "RoleArn": ROLE,
            },
        }],
    })  # fmt: skip


def seed(env: LocalEnvironment) -> None:
    s3 = client(env, "s3")
    s3.create_bucket(Bucket="team-raw")
    s3.put_object(Bucket="team-raw", Key="in/hello.txt", Body=b"hello team")


def test_a_pipeline_from_its_definition_runs_through_plain_boto3(
    local_env: LocalEnvironment, images: dict[ImageKind, str]
) -> None:
    seed(local_env)
    sagemaker = client(local_env, "sagemaker")
    sagemaker.create_pipeline(PipelineName="copy-raw", PipelineDefinition=definition(images["processing"]),
                              RoleArn=ROLE)  # fmt: skip
    started = time.monotonic()
    arn = sagemaker.start_pipeline_execution(
        PipelineName="copy-raw", PipelineParameters=[{"Name": "Instances", "Value": "1"}]
    )["PipelineExecutionArn"]
    assert sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Succeeded"
    assert time.monotonic() - started < 30  # the job's own time; no waiter sleep

    steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    assert [(s["StepName"], s["StepStatus"]) for s in steps] == [("CopyRaw", "Succeeded")]
    listed = sagemaker.list_processing_jobs()["ProcessingJobSummaries"]
    assert [j["ProcessingJobArn"] for j in listed] == [steps[0]["Metadata"]["ProcessingJob"]["Arn"]]
    job = sagemaker.describe_processing_job(ProcessingJobName=listed[0]["ProcessingJobName"])
    assert job["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1  # typed as the service types it
    summaries = sagemaker.list_pipeline_executions(PipelineName="copy-raw")["PipelineExecutionSummaries"]
    assert [s["PipelineExecutionArn"] for s in summaries] == [arn]
    stored = sagemaker.describe_pipeline_definition_for_execution(PipelineExecutionArn=arn)["PipelineDefinition"]
    assert json.loads(stored)["Steps"][0]["Name"] == "CopyRaw"
    parameters = sagemaker.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)["PipelineParameters"]
    assert {p["Name"]: p["Value"] for p in parameters} == {"Instances": "1", "Destination": "s3://team-raw/out"}
    # Search, as the SDK and teams' scripts call it, over the pipeline and its execution.
    found = sagemaker.search(Resource="PipelineExecution", SearchExpression={"Filters": [
        {"Name": "PipelineExecutionStatus", "Operator": "Equals", "Value": "Succeeded"}]})["Results"]  # fmt: skip
    assert [r["PipelineExecution"]["PipelineExecutionArn"] for r in found] == [arn]
    none = sagemaker.search(Resource="Pipeline", SearchExpression={"Filters": [
        {"Name": "PipelineName", "Operator": "Equals", "Value": "no-such-pipeline"}]})["Results"]  # fmt: skip
    assert none == []

    # The container read the bucket with its own boto3, through the endpoint on the Docker bridge.
    copied = client(local_env, "s3").get_object(Bucket="team-raw", Key="out/copy.txt")["Body"].read()
    assert copied == b"hello team"

    # Its log, where the SDK's logs=True reads it.
    logs = client(local_env, "logs")
    job_name = job["ProcessingJobName"]
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/ProcessingJobs",
                                        logStreamNamePrefix=f"{job_name}/")["logStreams"]  # fmt: skip
    assert len(streams) == 1 and streams[0]["logStreamName"].startswith(f"{job_name}/algo-1-")
    events = logs.get_log_events(logGroupName="/aws/sagemaker/ProcessingJobs",
                                 logStreamName=streams[0]["logStreamName"], startFromHead=True)["events"]  # fmt: skip
    assert any(e["message"].startswith("read from S3: hello team via http://") for e in events)


def test_the_errors_aws_answers(local_env: LocalEnvironment, images: dict[ImageKind, str]) -> None:
    sagemaker = client(local_env, "sagemaker")
    sagemaker.create_pipeline(PipelineName="p", PipelineDefinition=definition(images["processing"]), RoleArn=ROLE)
    cases = {
        "already exists": lambda: sagemaker.create_pipeline(
            PipelineName="p", PipelineDefinition=definition(images["processing"]), RoleArn=ROLE
        ),
        "not declared": lambda: sagemaker.start_pipeline_execution(
            PipelineName="p", PipelineParameters=[{"Name": "Undeclared", "Value": "1"}]
        ),
        "no pipeline": lambda: sagemaker.describe_pipeline(PipelineName="missing"),
        "malformed": lambda: sagemaker.create_pipeline(PipelineName="q", PipelineDefinition="{not json", RoleArn=ROLE),
        "unimplemented": lambda: sagemaker.list_hubs(),
        "missing job": lambda: sagemaker.describe_training_job(TrainingJobName="nope"),
    }
    answers = {}
    for name, call in cases.items():
        with pytest.raises(ClientError) as raised:
            call()
        answers[name] = (raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"])
    assert answers["already exists"][0] == "ValidationException" and "already exists" in answers["already exists"][1]
    assert answers["not declared"][0] == "ValidationException" and "Undeclared" in answers["not declared"][1]
    assert answers["no pipeline"][0] == "ResourceNotFound"
    assert answers["malformed"][0] == "ValidationException" and "not valid JSON" in answers["malformed"][1]
    assert answers["unimplemented"][0] == "UnknownOperationException" and "ListHubs" in answers["unimplemented"][1]
    assert answers["missing job"] == ("ValidationException", "Could not find job nope.")


def test_an_unknown_image_fails_its_job_naming_the_uri_and_both_fixes(local_env: LocalEnvironment) -> None:
    uri = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/absent:1.0"
    sagemaker = client(local_env, "sagemaker")
    sagemaker.create_pipeline(PipelineName="absent", PipelineDefinition=definition(uri), RoleArn=ROLE)
    arn = sagemaker.start_pipeline_execution(PipelineName="absent")["PipelineExecutionArn"]
    described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    reason = described["FailureReason"]
    assert "CopyRaw" in reason and uri in reason and "docker build -t" in reason and "[tool.harness.images]" in reason


def test_the_asynchronous_mode_answers_at_once_and_stops_between_steps(
    engine: Engine, images: dict[ImageKind, str], tmp_path: Path
) -> None:
    two_steps = json.loads(definition(images["processing"]))
    second = {**two_steps["Steps"][0], "Name": "SecondCopy", "DependsOn": ["CopyRaw"]}
    two_steps["Steps"].append(second)
    options = EnvironmentOptions(scope_name="async-test", asynchronous=True)
    with LocalEnvironment.open(tmp_path, engine, lambda job, line: None, lambda record: None, options) as env:
        seed(env)
        sagemaker = client(env, "sagemaker")
        sagemaker.create_pipeline(PipelineName="a", PipelineDefinition=json.dumps(two_steps), RoleArn=ROLE)
        arn = sagemaker.start_pipeline_execution(PipelineName="a")["PipelineExecutionArn"]
        assert sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Executing"
        sagemaker.stop_pipeline_execution(PipelineExecutionArn=arn)
        deadline = time.monotonic() + 60
        while sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Executing":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Stopped"
        steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
        assert [s["StepName"] for s in steps] == ["CopyRaw"]  # the running step finished; the next never started
        with pytest.raises(ClientError, match="cannot be stopped"):
            sagemaker.stop_pipeline_execution(PipelineExecutionArn=arn)


def test_the_aws_cli_lists_buckets_and_pipelines(local_env: LocalEnvironment, aws_cli: Path) -> None:
    seed(local_env)
    env = {"AWS_ENDPOINT_URL": local_env.endpoint_url, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
           "AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin", "AWS_CONFIG_FILE": "/dev/null"}  # fmt: skip
    listed = subprocess.run([str(aws_cli), "s3", "ls"], env=env, capture_output=True, text=True, check=True)
    assert "team-raw" in listed.stdout
    objects = subprocess.run([str(aws_cli), "s3", "ls", "s3://team-raw/in/"], env=env, capture_output=True, text=True)
    assert "hello.txt" in objects.stdout
    pipelines = subprocess.run([str(aws_cli), "sagemaker", "list-pipelines"], env=env, capture_output=True, text=True)
    assert pipelines.returncode == 0 and json.loads(pipelines.stdout)["PipelineSummaries"] == []
    missing = subprocess.run([str(aws_cli), "sagemaker", "list-hubs"], env=env, capture_output=True, text=True)
    assert missing.returncode != 0 and "UnknownOperationException" in missing.stderr and "ListHubs" in missing.stderr


def test_a_missing_input_fails_the_job_not_the_call(local_env: LocalEnvironment, images: dict[ImageKind, str]) -> None:
    seed(local_env)  # the bucket exists; the prefix does not
    sagemaker = client(local_env, "sagemaker")
    sagemaker.create_processing_job(
        ProcessingJobName="no-input",
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}},
        AppSpecification={"ImageUri": images["processing"], "ContainerEntrypoint": ["true"]},
        ProcessingInputs=[{"InputName": "raw", "S3Input": {
            "S3Uri": "s3://team-raw/never-written/", "LocalPath": "/opt/ml/processing/input/raw",
            "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
        RoleArn=ROLE,
    )  # fmt: skip
    job = sagemaker.describe_processing_job(ProcessingJobName="no-input")
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(
        'ClientError: No S3 objects found under S3 URL "s3://team-raw/never-written/"'
    )


def test_work_longer_than_the_reply_deadline_answers_in_progress_and_goes_on(
    local_env: LocalEnvironment, images: dict[ImageKind, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Create must answer before the client's read timeout (botocore: 60 s, then it sends the Create again)."""
    monkeypatch.setenv("HARNESS_REPLY_WITHIN_S", "1")
    sagemaker = client(local_env, "sagemaker")
    started = time.monotonic()
    sagemaker.create_processing_job(
        ProcessingJobName="outlasts-the-reply",
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}},
        AppSpecification={"ImageUri": images["processing"], "ContainerEntrypoint": ["sleep", "5"]},
        RoleArn=ROLE,
    )  # fmt: skip
    assert time.monotonic() - started < 4
    assert sagemaker.describe_processing_job(ProcessingJobName="outlasts-the-reply")["ProcessingJobStatus"] == (
        "InProgress"
    )
    deadline = time.monotonic() + 60
    while (
        status := sagemaker.describe_processing_job(ProcessingJobName="outlasts-the-reply")["ProcessingJobStatus"]
    ) == "InProgress":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert status == "Completed"


def test_an_endpoint_still_starting_at_the_reply_deadline_is_creating_then_in_service(
    local_env: LocalEnvironment, images: dict[ImageKind, str], trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_REPLY_WITHIN_S", "0.05")  # below the container's own start-up
    model = f"s3://{local_env.bucket}/slow/model.tar.gz"
    local_env.s3.put_file(trained / "model.tar.gz", S3Uri.parse(model))
    sagemaker = client(local_env, "sagemaker")
    sagemaker.create_model(ModelName="m", ExecutionRoleArn=ROLE,
                           PrimaryContainer={"Image": images["inference"], "ModelDataUrl": model})  # fmt: skip
    sagemaker.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
        {"VariantName": "v", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])  # fmt: skip
    sagemaker.create_endpoint(EndpointName="slow", EndpointConfigName="c")
    assert sagemaker.describe_endpoint(EndpointName="slow")["EndpointStatus"] == "Creating"
    with pytest.raises(ClientError, match="Cannot create already existing endpoint"):
        sagemaker.create_endpoint(EndpointName="slow", EndpointConfigName="c")
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName="slow", WaiterConfig={"Delay": 0.2})
    assert sagemaker.describe_endpoint(EndpointName="slow")["EndpointStatus"] == "InService"
    # Its container's log, where SageMaker puts an endpoint's: /aws/sagemaker/Endpoints/<name>, <variant>/<instance>.
    logs = client(local_env, "logs")
    deadline = time.monotonic() + 30
    while not (streams := logs.describe_log_streams(logGroupName="/aws/sagemaker/Endpoints/slow")["logStreams"]):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert streams[0]["logStreamName"].startswith("v/i-")
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/Endpoints/slow", logStreamName=streams[0]["logStreamName"]
    )
    assert events["events"]  # the model server's own lines
    sagemaker.delete_endpoint(EndpointName="slow")


def test_stopping_a_running_job_sends_sigterm_and_ends_it_stopped(
    local_env: LocalEnvironment, images: dict[ImageKind, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_REPLY_WITHIN_S", "0.5")  # the Create answers while the job runs
    waits_for_sigterm = (
        "import signal, sys, time; signal.signal(signal.SIGTERM, lambda *_: (print('got SIGTERM', flush=True), "
        "sys.exit(0))); print('running', flush=True); time.sleep(120)"
    )
    sagemaker = client(local_env, "sagemaker")
    sagemaker.create_processing_job(
        ProcessingJobName="stop-me",
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}},
        AppSpecification={"ImageUri": images["processing"],
                          "ContainerEntrypoint": ["python3", "-c", waits_for_sigterm]},
        RoleArn=ROLE,
    )  # fmt: skip
    logs = client(local_env, "logs")
    deadline = time.monotonic() + 60

    def streams() -> list[Any]:  # as in AWS, the log group does not exist before the job's first line
        try:
            return list(logs.describe_log_streams(logGroupName="/aws/sagemaker/ProcessingJobs")["logStreams"])
        except logs.exceptions.ResourceNotFoundException:
            return []

    while not streams():
        assert time.monotonic() < deadline  # its first line: the container runs
        time.sleep(0.2)
    started = time.monotonic()
    sagemaker.stop_processing_job(ProcessingJobName="stop-me")
    assert sagemaker.describe_processing_job(ProcessingJobName="stop-me")["ProcessingJobStatus"] in (
        "Stopping",
        "Stopped",
    )
    with pytest.raises(ClientError, match="in status Stopp"):
        sagemaker.stop_processing_job(ProcessingJobName="stop-me")
    while (job := sagemaker.describe_processing_job(ProcessingJobName="stop-me"))["ProcessingJobStatus"] == "Stopping":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert job["ProcessingJobStatus"] == "Stopped" and "FailureReason" not in job
    assert time.monotonic() - started < 30  # the SIGTERM ended it, not the 120 s grace or its own sleep
    stream = logs.describe_log_streams(logGroupName="/aws/sagemaker/ProcessingJobs")["logStreams"][0]["logStreamName"]
    events = logs.get_log_events(logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=stream)["events"]
    assert [e["message"] for e in events] == ["running", "got SIGTERM"]
