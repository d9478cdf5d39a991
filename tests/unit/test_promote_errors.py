"""AWS errors keep their code through promotion, and "already exists" is decided by code:
real boto3 clients against the moto stand-in, which can answer one operation with an AWS error."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.config import Config
from standin import AwsStandIn

from harness.errors import AwsError
from harness.promote import aws, cloud_deploy, execute, plan
from harness.promote.aws import AwsClients

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def stand_in() -> Iterator[AwsStandIn]:
    with AwsStandIn() as aws:
        yield aws


@pytest.fixture
def clients(stand_in: AwsStandIn) -> AwsClients:
    stand_in.reset()
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")

    def make(service: str) -> Any:
        return session.client(service, endpoint_url=stand_in.endpoint_url)

    return AwsClients(session, make("s3"), make("ecr"), make("sagemaker"), make("sts"))


def _plan(*names: str) -> plan.Plan:
    repositories = tuple(plan.Repository(n, f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{n}", False) for n in names)
    return plan.Plan("run", ACCOUNT, repositories, (), (), "p", False, "{}", False, False, False)


def test_access_denied_reaches_the_error_with_its_code(stand_in: AwsStandIn, clients: AwsClients) -> None:
    stand_in.fail(
        "AmazonEC2ContainerRegistry_V20150921.CreateRepository",
        "AccessDeniedException",
        "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecr:CreateRepository",
        403,
    )
    with pytest.raises(AwsError) as caught:
        execute.ensure_repositories(_plan("mlops-training"), clients, lambda line: None)
    error = caught.value
    assert (error.code, error.operation, error.resource) == (
        "AccessDeniedException",
        "CreateRepository",
        "mlops-training",
    )
    assert error.problem.startswith("AWS CreateRepository on mlops-training failed: AccessDeniedException: User:")
    assert "lack permission for CreateRepository" in error.fix and error.exit_code == 4


def test_an_existing_repository_is_recognised_by_its_code(clients: AwsClients) -> None:
    lines: list[str] = []
    execute.ensure_repositories(_plan("mlops-training"), clients, lines.append)
    execute.ensure_repositories(_plan("mlops-training"), clients, lines.append)  # RepositoryAlreadyExistsException
    assert lines == ["created ECR repository mlops-training"]


def test_a_throttled_create_is_not_mistaken_for_already_existing(stand_in: AwsStandIn, clients: AwsClients) -> None:
    stand_in.fail("SageMaker.CreateModel", "ThrottlingException", "Rate exceeded")
    with pytest.raises(AwsError) as caught:
        cloud_deploy._create_if_missing(
            "CreateModel",
            "m",
            clients.sagemaker.create_model,
            ModelName="m",
            ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/r",
            Containers=[{"Image": "img"}],
        )
    assert caught.value.code == "ThrottlingException" and "ThrottlingException: Rate exceeded" in caught.value.problem
    assert caught.value.fix.startswith("AWS throttled CreateModel")


@pytest.mark.parametrize(
    ("target", "code", "message"),
    [
        ("SageMaker.CreateModel", "ValidationException", 'Cannot create already existing model "arn:aws:sagemaker:m".'),
        ("SageMaker.CreateMonitoringSchedule", "ResourceInUse", "Monitoring schedule s already exists"),
    ],
)
def test_already_existing_resources_are_skipped(
    target: str, code: str, message: str, stand_in: AwsStandIn, clients: AwsClients
) -> None:
    stand_in.fail(target, code, message)
    operation = target.split(".", 1)[1]
    call = getattr(clients.sagemaker, "create_model" if operation == "CreateModel" else "create_monitoring_schedule")
    request = (
        {"ModelName": "m", "ExecutionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/r", "Containers": [{"Image": "i"}]}
        if operation == "CreateModel"
        else {"MonitoringScheduleName": "s", "MonitoringScheduleConfig": {}}
    )
    cloud_deploy._create_if_missing(operation, "x", call, **request)  # no error: it is there already


def test_other_validation_errors_are_raised(stand_in: AwsStandIn, clients: AwsClients) -> None:
    stand_in.fail("SageMaker.CreateEndpointConfig", "ValidationException", "Invalid instance type ml.x.large")
    with pytest.raises(AwsError, match="ValidationException: Invalid instance type"):
        cloud_deploy._create_if_missing(
            "CreateEndpointConfig",
            "c",
            clients.sagemaker.create_endpoint_config,
            EndpointConfigName="c",
            ProductionVariants=[{"VariantName": "v", "ModelName": "m"}],
        )


def test_a_refused_describe_is_not_read_as_missing(stand_in: AwsStandIn, clients: AwsClients) -> None:
    stand_in.fail("AmazonEC2ContainerRegistry_V20150921.DescribeRepositories", "AccessDeniedException", "denied", 403)
    with pytest.raises(AwsError, match="AccessDeniedException"):
        plan._repository(clients, _settings(), ACCOUNT, "training")
    stand_in.shim.failures.clear()
    assert plan._repository(clients, _settings(), ACCOUNT, "training").exists is False


def _settings():
    from harness.promote.settings import PromoteSettings

    return PromoteSettings(region="us-east-1", role_arn="r", bucket="b")


def test_an_invalid_pyproject_is_a_user_error_naming_the_line(tmp_path) -> None:
    from harness.errors import UserError
    from harness.promote.settings import load

    (tmp_path / "pyproject.toml").write_text('[tool.harness.promote]\nregion = "us-east-1"\nbucket = \n')
    with pytest.raises(UserError) as caught:
        load(tmp_path, {}, {})
    assert (
        caught.value.problem == f"{tmp_path / 'pyproject.toml'} is not valid TOML: Invalid value (at line 3, column 10)"
    )
    (tmp_path / "pyproject.toml").write_text('[tool.harness]\npromote = "us-east-1"\n')
    with pytest.raises(UserError, match=r"\[tool.harness.promote\] must be a table"):
        load(tmp_path, {}, {})


# -- decided by code, not by message (each case would pass the old message-substring logic the wrong way) -----------
def test_a_limit_error_that_mentions_already_exists_is_raised(stand_in: AwsStandIn, clients: AwsClients) -> None:
    stand_in.fail(
        "SageMaker.CreateModel", "ResourceLimitExceeded", "The account-level limit is reached; m already exists"
    )
    with pytest.raises(AwsError) as caught:
        cloud_deploy._create_if_missing("CreateModel", "m", clients.sagemaker.create_model, **_model_request())
    assert caught.value.code == "ResourceLimitExceeded"


def test_resource_in_use_is_existing_whatever_its_message(stand_in: AwsStandIn, clients: AwsClients) -> None:
    stand_in.fail("SageMaker.CreateMonitoringSchedule", "ResourceInUse", "Schedule s is in use by endpoint e")
    cloud_deploy._create_if_missing(
        "CreateMonitoringSchedule",
        "s",
        clients.sagemaker.create_monitoring_schedule,
        MonitoringScheduleName="s",
        MonitoringScheduleConfig={},
    )  # no error: it is there already


def _model_request() -> dict[str, Any]:
    return {"ModelName": "m", "ExecutionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/r", "Containers": [{"Image": "i"}]}


# -- "missing" is ResourceNotFound or SageMaker's "Could not find"; other ValidationExceptions are errors
def test_a_missing_pipeline_is_missing_and_a_bad_request_is_an_error(stand_in: AwsStandIn, clients: AwsClients) -> None:
    assert plan._pipeline_exists(clients, "nope") is False  # moto: ValidationException "Could not find pipeline ..."
    stand_in.fail("SageMaker.DescribePipeline", "ResourceNotFound", "Pipeline nope not found")
    assert plan._pipeline_exists(clients, "nope") is False
    stand_in.fail(
        "SageMaker.DescribePipeline",
        "ValidationException",
        "1 validation error detected: Value 'no pe' at 'pipelineName' failed to satisfy constraint",
    )
    with pytest.raises(AwsError, match="DescribePipeline on no pe failed: ValidationException: 1 validation error"):
        plan._pipeline_exists(clients, "no pe")


def test_only_a_missing_endpoint_is_created(stand_in: AwsStandIn, clients: AwsClients) -> None:
    promote = _settings()
    with pytest.raises(AwsError) as missing:  # moto's DescribeEndpoint says "Could not find endpoint": so create it
        cloud_deploy._create_or_update_endpoint(promote, "no-such-config", clients)
    assert missing.value.operation == "CreateEndpoint"  # it went on to create (and moto lacks the config)
    stand_in.fail("SageMaker.DescribeEndpoint", "ValidationException", "Endpoint name mlops-endpoint is reserved")
    with pytest.raises(AwsError) as refused:
        cloud_deploy._create_or_update_endpoint(promote, "no-such-config", clients)
    assert (refused.value.operation, refused.value.code) == ("DescribeEndpoint", "ValidationException")


# -- fix texts for the codes S3 answers HEAD requests with, and for throttling by any name ---------------------------
def test_a_missing_bucket_names_the_bucket_fix(clients: AwsClients) -> None:
    with pytest.raises(AwsError) as caught:
        execute.require_bucket(replace(_settings(), bucket="no-such-bucket"), clients)
    assert caught.value.code == "404"  # HeadBucket: no body, the bare status
    assert caught.value.fix == "the bucket does not exist: create it or fix --bucket"


class _S3Refusing(BaseHTTPRequestHandler):
    """S3's REST protocol as a refusing account sees it: HEAD gets a bare 403, PUT a 503 SlowDown."""

    def do_HEAD(self) -> None:
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
        self.send_response(503)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest's output clean
        return


@pytest.fixture
def refusing_s3() -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _S3Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    yield session.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{server.server_port}",
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_refused_head_object_says_access_denied(refusing_s3: Any) -> None:
    clients = AwsClients(None, refusing_s3, None, None, None)
    with pytest.raises(AwsError) as caught:
        aws.head_object(clients, "b", "model.tar.gz")
    assert caught.value.code == "403"
    assert caught.value.fix.startswith("the credentials lack permission for HeadObject")


def test_s3_slow_down_is_throttling(refusing_s3: Any) -> None:
    with pytest.raises(AwsError) as caught:
        aws.aws_call("PutObject", "s3://b/k", refusing_s3.put_object, Bucket="b", Key="k", Body=b"x")
    assert caught.value.code == "SlowDown" and caught.value.fix.startswith("AWS throttled PutObject")


def test_too_many_requests_is_throttling(stand_in: AwsStandIn) -> None:
    stand_in.reset()
    stand_in.fail("SageMaker.CreateModel", "TooManyRequestsException", "Too many requests")
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    sagemaker = session.client(
        "sagemaker", endpoint_url=stand_in.endpoint_url, config=Config(retries={"max_attempts": 1})
    )
    with pytest.raises(AwsError) as caught:
        aws.aws_call("CreateModel", "m", sagemaker.create_model, **_model_request())
    assert caught.value.code == "TooManyRequestsException" and caught.value.fix.startswith("AWS throttled CreateModel")


def test_stand_ins_for_aws_images_are_never_pushed() -> None:
    verified = {
        "training_image": {"tag": "team/trainer:dev", "id": "sha256:1", "stand_in": False},
        "processing_image": {
            "tag": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
            "id": "sha256:2",
            "stand_in": True,
        },
        "inference_image": {"tag": "team/server:dev", "id": "sha256:3"},  # a record from before stand-ins
    }
    assert plan.images_to_push(verified) == ["inference_image", "training_image"]
