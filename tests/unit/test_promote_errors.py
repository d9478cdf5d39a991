"""AWS errors keep their code through promotion, and "already exists" is decided by code:
real boto3 clients against the moto stand-in, which can answer one operation with an AWS error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from standin import AwsStandIn

from harness.errors import AwsError
from harness.promote import cloud_deploy, execute, plan
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
