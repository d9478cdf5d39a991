"""Deploying the approved model package in the cloud, the seed's way round:
check the artifact exists first, enable data capture before a monitor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.emulator.storage import S3Uri
from harness.errors import AwsError, UserError
from harness.project.deploy_check import data_capture, production_variant
from harness.promote.aws import AwsClients, already_exists, aws_call, head_object, not_found
from harness.promote.settings import PromoteSettings

MONITOR_SCHEDULE = "cron(0 * ? * * *)"  # hourly, as SageMaker's examples schedule data quality


def latest_approved(promote: PromoteSettings, clients: AwsClients) -> dict[str, Any]:
    listed = aws_call(
        "ListModelPackages",
        promote.model_package_group,
        clients.sagemaker.list_model_packages,
        ModelPackageGroupName=promote.model_package_group,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
    )["ModelPackageSummaryList"]
    if not listed:
        raise UserError(
            f"no approved model package in {promote.model_package_group}",
            fix="approve one (update_model_package ... ModelApprovalStatus=Approved), then deploy",
        )
    arn = listed[0]["ModelPackageArn"]
    return dict(aws_call("DescribeModelPackage", arn, clients.sagemaker.describe_model_package, ModelPackageName=arn))


def check_artifact(package: dict[str, Any], clients: AwsClients) -> str:
    """The model artifact must exist before anything is deployed (the seed's deploy-too-early pain)."""
    url = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    uri = S3Uri.parse(url)
    if head_object(clients, uri.bucket, uri.key) is None:
        raise UserError(
            f"the model artifact {url} does not exist (yet)",
            fix="wait for the pipeline execution to finish: the training step writes "
            "ModelArtifacts.S3ModelArtifacts at its end",
        )
    return str(url)


def deploy(
    promote: PromoteSettings, clients: AwsClients, monitor: bool, on_line: Callable[[str], None]
) -> dict[str, str]:
    package = latest_approved(promote, clients)
    artifact = check_artifact(package, clients)
    version = package["ModelPackageVersion"]
    model = f"{promote.model_package_group}-v{version}"
    config = f"{promote.endpoint_name}-v{version}" + ("-capture" if monitor else "")
    _create_if_missing(
        "CreateModel",
        model,
        clients.sagemaker.create_model,
        ModelName=model,
        ExecutionRoleArn=promote.role_arn,
        Containers=[{"ModelPackageName": package["ModelPackageArn"]}],
    )
    _create_if_missing(
        "CreateEndpointConfig",
        config,
        clients.sagemaker.create_endpoint_config,
        EndpointConfigName=config,
        ProductionVariants=[production_variant(model, promote.instance_type)],
        **({"DataCaptureConfig": data_capture(promote.capture_uri)} if monitor else {}),
    )
    _create_or_update_endpoint(promote, config, clients)
    on_line(f"endpoint {promote.endpoint_name}: package v{version} ({artifact}), config {config}")
    deployed = {"endpoint": promote.endpoint_name, "config": config, "model": model, "artifact": artifact}
    if monitor:
        deployed["schedule"] = _monitoring_schedule(promote, config, clients, on_line)
    return deployed


def _create_if_missing(operation: str, name: str, call: Callable[..., Any], **request: Any) -> None:
    try:
        aws_call(operation, name, call, **request)
    except AwsError as error:
        if not already_exists(error):
            raise


def _create_or_update_endpoint(promote: PromoteSettings, config: str, clients: AwsClients) -> None:
    name = promote.endpoint_name
    try:
        aws_call("DescribeEndpoint", name, clients.sagemaker.describe_endpoint, EndpointName=name)
    except AwsError as error:
        if not not_found(error):  # AWS: ValidationException "Could not find endpoint ..."
            raise
        aws_call(
            "CreateEndpoint", name, clients.sagemaker.create_endpoint, EndpointName=name, EndpointConfigName=config
        )
        return
    aws_call("UpdateEndpoint", name, clients.sagemaker.update_endpoint, EndpointName=name, EndpointConfigName=config)


def _monitoring_schedule(
    promote: PromoteSettings, config: str, clients: AwsClients, on_line: Callable[[str], None]
) -> str:
    """Model Monitor cannot attach to an endpoint without capture: refuse instead of failing in AWS."""
    described = aws_call(
        "DescribeEndpointConfig", config, clients.sagemaker.describe_endpoint_config, EndpointConfigName=config
    )
    if not (described.get("DataCaptureConfig") or {}).get("EnableCapture"):
        raise UserError(
            f"endpoint config {config} has no data capture, so Model Monitor cannot attach",
            fix="deploy with --monitor, which creates the endpoint config with DataCaptureConfig",
        )
    from sagemaker import image_uris

    schedule = f"{promote.endpoint_name}-data-quality"
    _create_if_missing(
        "CreateMonitoringSchedule",
        schedule,
        clients.sagemaker.create_monitoring_schedule,
        MonitoringScheduleName=schedule,
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": MONITOR_SCHEDULE},
            "MonitoringType": "DataQuality",
            "MonitoringJobDefinition": {
                "MonitoringInputs": [
                    {"EndpointInput": {"EndpointName": promote.endpoint_name, "LocalPath": "/opt/ml/processing/input"}}
                ],
                "MonitoringOutputConfig": {
                    "MonitoringOutputs": [
                        {
                            "S3Output": {
                                "S3Uri": f"s3://{promote.bucket}/monitoring/{promote.endpoint_name}",
                                "LocalPath": "/opt/ml/processing/output",
                            }
                        }
                    ]
                },
                "MonitoringResources": {
                    "ClusterConfig": {"InstanceCount": 1, "InstanceType": promote.instance_type, "VolumeSizeInGB": 20}
                },
                "MonitoringAppSpecification": {"ImageUri": image_uris.retrieve("model-monitor", promote.region)},
                "RoleArn": promote.role_arn,
            },
        },
    )
    on_line(f"monitoring schedule {schedule} on {promote.endpoint_name} (data capture on)")
    return schedule
