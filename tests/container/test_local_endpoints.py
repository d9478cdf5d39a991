"""Local endpoints: CreateModel -> CreateEndpointConfig -> CreateEndpoint, invoke, capture, delete."""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, WaiterError
from support import SESSION

from harness.emulator.environment import EnvironmentOptions, LocalEnvironment
from harness.emulator.hosting import ENDPOINT_LABEL
from harness.emulator.storage import S3Uri
from harness.engine.docker import Engine
from harness.errors import UserError
from harness.project.config import Settings

CAPTURE = "data-capture"


def deploy(env: LocalEnvironment, name: str, image: str, model_uri: str, capture: bool = False) -> None:
    env.client.create_model(
        ModelName=name, ExecutionRoleArn="r", PrimaryContainer={"Image": image, "ModelDataUrl": model_uri}
    )
    config = {
        "EndpointConfigName": name,
        "ProductionVariants": [
            {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    }
    if capture:
        config["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"s3://{env.bucket}/{CAPTURE}",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        }
    env.client.create_endpoint_config(**config)
    env.client.create_endpoint(EndpointName=name, EndpointConfigName=name)


@pytest.fixture
def model_uri(local_env: LocalEnvironment, trained: Path) -> str:
    uri = S3Uri(local_env.bucket, "models/job/output/model.tar.gz")
    local_env.s3.put_file(trained / "model.tar.gz", uri)
    return str(uri)


def test_two_endpoints_serve_at_once_on_their_own_ports(
    local_env: LocalEnvironment, model_uri: str, images: dict, fixtures_dir: Path, engine: Engine
) -> None:
    for name in ("first", "second"):
        deploy(local_env, name, images["inference"], model_uri)
    ports = {local_env.endpoints.endpoints[n].client.base_url for n in ("first", "second")}
    assert len(ports) == 2 and all(url.startswith("http://127.0.0.1:") for url in ports)
    body = (fixtures_dir / "payloads" / "batch.csv").read_bytes()
    answers = [
        local_env.runtime.invoke_endpoint(EndpointName=n, Body=body, ContentType="text/csv")["Body"].read()
        for n in ("first", "second")
    ]
    assert answers[0] == answers[1] and len(answers[0].split()) == 10
    assert local_env.client.describe_endpoint(EndpointName="first")["EndpointStatus"] == "InService"
    for name in ("first", "second"):
        local_env.client.delete_endpoint(EndpointName=name)
    local_env.endpoints.drain()
    for name in ("first", "second"):
        assert engine.containers({ENDPOINT_LABEL: name}) == []
    with pytest.raises(
        ClientError, match=r'Could not find endpoint "arn:aws:sagemaker:us-east-1:\d{12}:endpoint/first"'
    ):
        local_env.client.describe_endpoint(EndpointName="first")


def _deletion_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("delete-endpoint")]


def test_delete_answers_at_once_then_deleting_then_gone(
    local_env: LocalEnvironment, model_uri: str, images: dict, fixtures_dir: Path, engine: Engine
) -> None:
    deploy(local_env, "quick", images["inference"], model_uri)
    started = time.monotonic()
    local_env.client.delete_endpoint(EndpointName="quick")
    answered_s = time.monotonic() - started
    # The container's own SIGTERM shutdown takes ~1 s (gunicorn); the answer must not wait for it.
    assert answered_s < 0.3, f"DeleteEndpoint took {answered_s:.2f} s"
    assert local_env.client.describe_endpoint(EndpointName="quick")["EndpointStatus"] == "Deleting"
    assert engine.containers({ENDPOINT_LABEL: "quick"}), "the container should still be stopping"
    body = (fixtures_dir / "payloads" / "single_row.csv").read_bytes()
    with pytest.raises(ClientError, match="Endpoint quick of account") as invoked:
        local_env.runtime.invoke_endpoint(EndpointName="quick", Body=body, ContentType="text/csv")
    assert invoked.value.response["Error"]["Code"] == "ValidationError"  # sagemaker-runtime's code
    with pytest.raises(ClientError, match=r'already existing endpoint "arn:aws:sagemaker:.*:endpoint/quick"'):
        local_env.client.create_endpoint(EndpointName="quick", EndpointConfigName="quick")
    local_env.client.delete_endpoint(EndpointName="quick")  # deleting twice is not an error
    deadline = time.monotonic() + 40  # the 30 s SIGTERM grace, plus the removal
    while local_env.endpoints.status("quick") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(ClientError, match=r'Could not find endpoint "arn:aws:sagemaker:.*:endpoint/quick"'):
        local_env.client.describe_endpoint(EndpointName="quick")
    assert engine.containers({ENDPOINT_LABEL: "quick"}) == []


def test_closing_the_environment_waits_for_every_deletion(
    engine: Engine, images: dict, trained: Path, tmp_path: Path
) -> None:
    settings = replace(Settings.from_env(), state_dir=tmp_path / "state")
    with LocalEnvironment.open(
        settings.state_dir, engine, lambda job, line: None, lambda record: None, EnvironmentOptions(scope_name=SESSION)
    ) as env:
        uri = S3Uri(env.bucket, "models/job/output/model.tar.gz")
        env.s3.put_file(trained / "model.tar.gz", uri)
        for name in ("deleted", "kept"):
            deploy(env, name, images["inference"], str(uri))
        env.client.delete_endpoint(EndpointName="deleted")  # still stopping when the block ends
        labels = env.scope.labels
        stopping = engine.containers({**labels, ENDPOINT_LABEL: "deleted"})
        assert stopping and stopping[0].status() == "running"
    assert engine.containers(labels) == []
    assert _deletion_threads() == [], "a deletion outlived the environment"


def test_data_capture_writes_model_monitor_records(
    local_env: LocalEnvironment, model_uri: str, images: dict, fixtures_dir: Path
) -> None:
    deploy(local_env, "captured", images["inference"], model_uri, capture=True)
    payloads = [(fixtures_dir / "payloads" / n).read_bytes() for n in ("single_row.csv", "batch.csv")]
    answers = [
        local_env.runtime.invoke_endpoint(EndpointName="captured", Body=p, ContentType="text/csv")["Body"]
        .read()
        .decode()
        for p in payloads
    ]
    keys = local_env.s3.keys(S3Uri(local_env.bucket, f"{CAPTURE}/captured/AllTraffic/"))
    assert len(keys) == 2
    for key in keys:  # {endpoint}/{variant}/yyyy/mm/dd/hh/<file>.jsonl
        parts = key.split("/")
        assert len(parts) == 8 and parts[-1].endswith(".jsonl") and len(parts[3]) == 4 and len(parts[6]) == 2
    records = [json.loads(local_env.s3.get_bytes(S3Uri(local_env.bucket, k))) for k in sorted(keys)]
    seen = {(r["captureData"]["endpointInput"]["data"], r["captureData"]["endpointOutput"]["data"]) for r in records}
    assert seen == {(p.decode(), a) for p, a in zip(payloads, answers, strict=True)}
    assert all(
        r["captureData"]["endpointInput"]["encoding"] == "CSV" and r["eventMetadata"]["eventId"] for r in records
    )


def test_container_errors_map_to_model_error(local_env: LocalEnvironment, model_uri: str, images: dict) -> None:
    deploy(local_env, "strict", images["inference"], model_uri)
    with pytest.raises(ClientError) as caught:
        local_env.runtime.invoke_endpoint(EndpointName="strict", Body=b"1,2,3", ContentType="text/csv")
    error = caught.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["OriginalStatusCode"] == 400
    assert "the model expects 30" in error["Error"]["Message"]
    with pytest.raises(ClientError, match="Endpoint nowhere of account"):
        local_env.runtime.invoke_endpoint(EndpointName="nowhere", Body=b"1", ContentType="text/csv")


def test_deploying_before_the_artifact_exists_is_refused(
    local_env: LocalEnvironment, images: dict, engine: Engine
) -> None:
    missing = f"s3://{local_env.bucket}/models/not-yet/output/model.tar.gz"
    with pytest.raises(ClientError, match=r"Could not find model data at .*has not finished"):
        deploy(local_env, "early", images["inference"], missing)
    local_env.s3.put_bytes(b"not a tarball", S3Uri.parse(missing))
    deploy(local_env, "early", images["inference"], missing)  # the model exists now; the endpoint cannot start
    described = local_env.client.describe_endpoint(EndpointName="early")
    assert described["EndpointStatus"] == "Failed" and "is not a valid tar.gz" in described["FailureReason"]
    assert engine.containers({ENDPOINT_LABEL: "early"}) == []


def test_batch_transform_writes_one_output_per_input_object(
    local_env: LocalEnvironment, model_uri: str, images: dict, fixtures_dir: Path
) -> None:
    local_env.client.create_model(
        ModelName="batch", PrimaryContainer={"Image": images["inference"], "ModelDataUrl": model_uri}
    )
    batch = (fixtures_dir / "payloads" / "batch.csv").read_bytes()
    local_env.s3.put_bytes(batch, S3Uri(local_env.bucket, "transform/in/part-1.csv"))
    local_env.s3.put_bytes(batch * 3, S3Uri(local_env.bucket, "transform/in/part-2.csv"))
    local_env.client.create_transform_job(
        TransformJobName="batch-1",
        ModelName="batch",
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=1,
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{local_env.bucket}/transform/in"}
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={
            "S3OutputPath": f"s3://{local_env.bucket}/transform/out",
            "AssembleWith": "Line",
            "Accept": "text/csv",
        },
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    described = local_env.client.describe_transform_job(TransformJobName="batch-1")
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    first = local_env.s3.get_bytes(S3Uri(local_env.bucket, "transform/out/part-1.csv.out")).decode().split()
    second = local_env.s3.get_bytes(S3Uri(local_env.bucket, "transform/out/part-2.csv.out")).decode().split()
    assert len(first) == 10 and second == first * 3


@pytest.fixture
def wrong_port_image(broken_image: Callable[[str], str]) -> str:
    """fixtures/broken-images/inference-wrong-port: the project's server, listening on 8081."""
    return broken_image("inference-wrong-port")


def test_an_endpoint_on_the_wrong_port_fails_within_seconds(
    local_env: LocalEnvironment, model_uri: str, wrong_port_image: str
) -> None:
    started = time.monotonic()
    deploy(local_env, "wrong-port", wrong_port_image, model_uri)  # as in AWS: the endpoint is Failed, with why
    seconds = time.monotonic() - started
    described = local_env.client.describe_endpoint(EndpointName="wrong-port")
    assert described["EndpointStatus"] == "Failed" and "listens on 8081" in described["FailureReason"]
    assert seconds < 60, f"judged after {seconds:.1f} s; the start-up window is 240 s"
    assert local_env.scope.leftovers() == []


def test_the_endpoint_waiters_return_once_the_state_is_reached(
    local_env: LocalEnvironment, model_uri: str, images: dict, engine: Engine
) -> None:
    deploy(local_env, "waited", images["inference"], model_uri)
    local_env.client.get_waiter("endpoint_in_service").wait(EndpointName="waited")
    local_env.client.delete_endpoint(EndpointName="waited")
    local_env.client.get_waiter("endpoint_deleted").wait(EndpointName="waited")
    assert engine.containers({ENDPOINT_LABEL: "waited"}) == []
    deploy_again = local_env.client.create_endpoint  # the name is free again, as after AWS's waiter
    assert deploy_again(EndpointName="waited", EndpointConfigName="waited")["EndpointArn"].endswith("/waited")
    with pytest.raises(WaiterError, match="ValidationException"):
        local_env.client.get_waiter("endpoint_in_service").wait(EndpointName="never-created")
    with pytest.raises(UserError, match="waiter endpoint_created is not supported"):
        local_env.client.get_waiter("endpoint_created")
