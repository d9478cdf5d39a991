"""Deploying a registered model package the way the cloud does, and checking
the endpoint's answers.

A model package is a blueprint: deploying it means CreateModel (from the
package), CreateEndpointConfig (here with data capture on, which Model
Monitor needs) and CreateEndpoint.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from typing import Any

from harness.emulator.environment import LocalEnvironment
from harness.emulator.storage import S3Uri
from harness.errors import JobFailed, UserError


@dataclass(frozen=True)
class Deployment:
    endpoint: str
    config: str
    model: str
    package_arn: str
    package_version: int
    capture_uri: str
    seconds_to_first_prediction: float


def production_variant(model: str, instance_type: str) -> dict[str, Any]:
    return {"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1, "InstanceType": instance_type}


def data_capture(destination: str) -> dict[str, Any]:
    """Every request and response captured: what Model Monitor needs before it can attach."""
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": destination,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    }


def deploy_latest_approved(
    env: LocalEnvironment, group: str, role: str, instance_type: str, first_payload: tuple[bytes, str]
) -> Deployment:
    summaries = env.client.list_model_packages(
        ModelPackageGroupName=group, ModelApprovalStatus="Approved", SortOrder="Descending"
    )["ModelPackageSummaryList"]
    if not summaries:
        raise UserError(
            f"no approved model package in group {group!r}",
            fix="approve one (update_model_package) or run with ModelApprovalStatus=Approved",
        )
    package = summaries[0]
    version = int(package["ModelPackageVersion"])
    name = f"{group}-v{version}-{int(time.time())}"
    capture_uri = str(S3Uri(env.bucket, "data-capture"))
    env.client.create_model(
        ModelName=name, ExecutionRoleArn=role, Containers=[{"ModelPackageName": package["ModelPackageArn"]}]
    )
    env.client.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[production_variant(name, instance_type)],
        DataCaptureConfig=data_capture(capture_uri),
    )
    started = time.monotonic()
    env.client.create_endpoint(EndpointName=name, EndpointConfigName=name)
    described = env.client.describe_endpoint(EndpointName=name)
    if described["EndpointStatus"] != "InService":  # as in AWS, a container that never got healthy: Failed
        env.client.delete_endpoint(EndpointName=name)
        raise JobFailed(
            f"the endpoint check failed: endpoint {name} is {described['EndpointStatus']}: "
            f"{described.get('FailureReason', '')}",
            fix="`harness check IMAGE --kind inference --model ...` names the contract the container breaks",
        )
    body, content_type = first_payload
    invoke(env, name, body, content_type)
    seconds = time.monotonic() - started
    return Deployment(name, name, name, package["ModelPackageArn"], version, capture_uri, seconds)


def invoke(env: LocalEnvironment, endpoint: str, body: bytes, content_type: str, accept: str | None = None) -> bytes:
    arguments: dict[str, Any] = {"EndpointName": endpoint, "Body": body, "ContentType": content_type}
    if accept:
        arguments["Accept"] = accept
    return bytes(env.runtime.invoke_endpoint(**arguments)["Body"].read())


def check_against_evaluation(env: LocalEnvironment, endpoint: str, test_csv: bytes, predictions_csv: bytes) -> int:
    """The endpoint must predict exactly what the evaluate step predicted on the test split.

    The test split's rows go out as they are, less the label (first column); plain
    csv, not pandas: its parsers would cost the run ~3 MB for a two-column check.
    """
    features = io.StringIO()
    csv.writer(features, lineterminator="\n").writerows(row[1:] for row in csv.reader(io.StringIO(test_csv.decode())))
    expected = [int(row["prediction"]) for row in csv.DictReader(io.StringIO(predictions_csv.decode()))]
    answer = invoke(env, endpoint, features.getvalue().encode(), "text/csv", "text/csv")
    served = [int(v) for v in answer.decode().split()]
    if served != expected:
        differing = (
            sum(a != b for a, b in zip(served, expected, strict=True))
            if len(served) == len(expected)
            else len(expected)
        )
        raise JobFailed(
            f"the endpoint's predictions differ from the evaluate step's on {differing} of {len(expected)} test rows",
            fix="the served model is not the evaluated one: check the model package's ModelDataUrl",
        )
    return len(expected)


def delete_deployment(env: LocalEnvironment, deployment: Deployment) -> None:
    env.client.delete_endpoint(EndpointName=deployment.endpoint)
    env.client.delete_endpoint_config(EndpointConfigName=deployment.config)
    env.client.delete_model(ModelName=deployment.model)


def captured_records(env: LocalEnvironment, deployment: Deployment) -> list[str]:
    return env.s3.keys(S3Uri.parse(deployment.capture_uri).join(deployment.endpoint, "AllTraffic"))
