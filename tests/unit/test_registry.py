"""The local model registry through the boto-shaped calls users make."""

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from harness.emulator.registry import ModelRegistry


def package(group: str, status: str = "PendingManualApproval") -> dict:
    return {
        "ModelPackageGroupName": group,
        "ModelApprovalStatus": status,
        "InferenceSpecification": {"Containers": [{"Image": "img", "ModelDataUrl": "s3://b/model.tar.gz"}]},
    }


def test_versions_count_per_group_and_persist(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "registry.json")
    first = registry.create_package(package("a"))["ModelPackageArn"]
    registry.create_package(package("b"))
    second = registry.create_package(package("a"))["ModelPackageArn"]
    assert first.endswith("model-package/a/1") and second.endswith("model-package/a/2")
    reopened = ModelRegistry(tmp_path / "registry.json")
    assert [p["ModelPackageVersion"] for p in reopened.list_packages("a")] == [2, 1]
    assert reopened.describe_package(second)["InferenceSpecification"]["Containers"][0]["Image"] == "img"


def test_approval_can_be_updated_and_filtered(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "r.json")
    arns = [registry.create_package(package("g"))["ModelPackageArn"] for _ in range(3)]
    assert registry.latest_approved("g") is None
    registry.update_package(arns[0], "Approved")
    registry.update_package(arns[2], "Rejected", "worse than v1")
    assert [p["ModelPackageVersion"] for p in registry.list_packages("g", "Approved")] == [1]
    assert registry.latest_approved("g")["ModelPackageArn"] == arns[0]
    assert registry.describe_package(arns[2])["ApprovalDescription"] == "worse than v1"


def test_errors_are_aws_shaped(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "r.json")
    with pytest.raises(ClientError) as caught:
        registry.describe_package("arn:aws:sagemaker:us-east-1:000000000000:model-package/none/1")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFound"
    arn = registry.create_package(package("g"))["ModelPackageArn"]
    with pytest.raises(ClientError) as caught:
        registry.update_package(arn, "Maybe")
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    registry.create_group("h", "desc")
    with pytest.raises(ClientError, match="already exists"):
        registry.create_group("h")
