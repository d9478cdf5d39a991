"""What keeps a local run's memory down: one boto3 session for every S3 client, objects streamed."""

import hashlib
from pathlib import Path

import boto3
import sagemaker.jumpstart.constants as sdk_jumpstart

from harness.emulator.environment import LocalEnvironment
from harness.emulator.sdk_session import default_boto_session
from harness.emulator.storage import S3Uri


def test_the_sdk_session_and_the_embedded_s3_share_one_boto_session(local_env: LocalEnvironment) -> None:
    # botocore parses S3's service model once per session (~13 MB): a second session would parse it again.
    assert local_env.session.boto_session is local_env.s3.boto_session
    loader = local_env.s3.boto_session._session.get_component("data_loader")
    assert local_env.session.s3_client.meta.service_model.service_name == "s3"
    assert local_env.s3.client._loader is loader and local_env.session.s3_client._loader is loader


def test_objects_are_streamed_to_files_and_hashes(local_env: LocalEnvironment, tmp_path: Path) -> None:
    data = bytes(range(256)) * 12_000  # 3 MB: several 1 MB hash blocks
    uri = S3Uri(local_env.bucket, "big/object.bin")
    local_env.s3.put_bytes(data, uri)
    target = tmp_path / "object.bin"
    local_env.s3.get_file(uri, target)
    assert target.read_bytes() == data
    assert local_env.s3.hashes(S3Uri(local_env.bucket, "big/")) == {uri.key: hashlib.sha256(data).hexdigest()}


def test_the_run_shares_the_service_models_the_sdk_parsed_at_import(local_env: LocalEnvironment) -> None:
    # The SDK's import-time JumpStart session already parsed the SageMaker and S3 models (~18 MB).
    sdk_loader = sdk_jumpstart.DEFAULT_JUMPSTART_SAGEMAKER_SESSION.boto_session._session.get_component("data_loader")
    assert local_env.s3.boto_session._session.get_component("data_loader") is sdk_loader
    assert local_env.s3.client._loader is sdk_loader


def test_run_local_gives_boto3s_default_session_the_shared_models(local_env: LocalEnvironment) -> None:
    # The SDK's Estimator calls boto3.client("sagemaker") on boto3's default session (TensorBoardApp).
    assert boto3.DEFAULT_SESSION is None
    with default_boto_session(local_env.s3.boto_session):
        assert boto3.client("sagemaker", region_name="us-east-1")._loader is local_env.s3.client._loader
    assert boto3.DEFAULT_SESSION is None  # put back: the library door never sees it
