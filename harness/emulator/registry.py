"""The local model registry: model package groups and their versions.

A model package is metadata plus artifacts, not a running service (deploying
one means CreateModel, CreateEndpointConfig, CreateEndpoint). Versions are
numbered 1, 2, ... per group. The registry persists as one JSON file in the
project's state folder, so versions and approvals survive across runs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.emulator.arns import sagemaker_arn
from harness.emulator.awserrors import not_found, validation_error
from harness.errors import CorruptState
from harness.statefiles import StateFile, read_object, write_atomically

APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")


def group_arn(group: str) -> str:
    return sagemaker_arn("model-package-group", group)


def package_arn(group: str, version: int) -> str:
    return sagemaker_arn("model-package", f"{group}/{version}")


def _now() -> str:
    return datetime.now(UTC).isoformat()


class ModelRegistry:
    def __init__(self, path: Path) -> None:
        self._path = path

    @property
    def path(self) -> Path:
        return self._path

    @property
    def state_file(self) -> StateFile:
        return StateFile(self._path, "model registry", "every registered model package version and approval")

    def check(self) -> None:
        """CorruptState when the file does not read back as a registry: the one definition `doctor` applies too."""
        self._load()

    # -- storage -------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        state = read_object(self.state_file, required=("groups",))
        if state is None:
            return {"groups": {}}
        groups = state["groups"]
        if not isinstance(groups, dict) or not all(
            isinstance(g, dict) and isinstance(g.get("packages"), list) for g in groups.values()
        ):
            raise CorruptState(
                self._path,
                "model registry",
                "`groups` is not a map of groups with `packages` lists",
                self.state_file.loses,
            )
        return state

    def _save(self, state: dict[str, Any]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self._path, json.dumps(state, indent=2, sort_keys=True))  # never half a registry

    # -- groups --------------------------------------------------------------
    def create_group(self, name: str, description: str = "") -> dict[str, str]:
        state = self._load()
        if name in state["groups"]:
            raise validation_error("CreateModelPackageGroup", f"Model Package Group {name} already exists.")
        state["groups"][name] = {"arn": group_arn(name), "description": description, "created": _now(), "packages": []}
        self._save(state)
        return {"ModelPackageGroupArn": group_arn(name)}

    def describe_group(self, name: str) -> dict[str, Any]:
        group = self._load()["groups"].get(name)
        if group is None:
            raise validation_error("DescribeModelPackageGroup", f"ModelPackageGroup {name} does not exist.")
        return {
            "ModelPackageGroupName": name,
            "ModelPackageGroupArn": group["arn"],
            "ModelPackageGroupDescription": group["description"],
            "CreationTime": group["created"],
            "ModelPackageGroupStatus": "Completed",
        }

    def group_names(self) -> list[str]:
        return list(self._load()["groups"])

    # -- packages ------------------------------------------------------------
    def create_package(self, request: dict[str, Any]) -> dict[str, str]:
        name = request.get("ModelPackageGroupName")
        if not name:
            raise validation_error(
                "CreateModelPackage", "only versioned model packages (ModelPackageGroupName) are supported locally"
            )
        status = request.get("ModelApprovalStatus", "PendingManualApproval")
        _check_status("CreateModelPackage", status)
        state = self._load()
        group = state["groups"].setdefault(
            name, {"arn": group_arn(name), "description": "", "created": _now(), "packages": []}
        )
        version = len(group["packages"]) + 1
        package = {
            **request,
            "ModelPackageGroupName": name,
            "ModelPackageVersion": version,
            "ModelPackageArn": package_arn(name, version),
            "ModelApprovalStatus": status,
            "ModelPackageStatus": "Completed",
            "CreationTime": _now(),
        }
        group["packages"].append(package)
        self._save(state)
        return {"ModelPackageArn": package["ModelPackageArn"]}

    def describe_package(self, name_or_arn: str) -> dict[str, Any]:
        return dict(self._find(self._load(), name_or_arn, "DescribeModelPackage"))

    def update_package(self, arn: str, status: str, description: str = "") -> dict[str, str]:
        _check_status("UpdateModelPackage", status)
        state = self._load()
        package = self._find(state, arn, "UpdateModelPackage")
        package["ModelApprovalStatus"] = status
        if description:
            package["ApprovalDescription"] = description
        package["LastModifiedTime"] = _now()
        self._save(state)
        return {"ModelPackageArn": package["ModelPackageArn"]}

    def list_packages(
        self, group: str, approval_status: str | None = None, descending: bool = True
    ) -> list[dict[str, Any]]:
        packages = self._load()["groups"].get(group, {}).get("packages", [])
        chosen = [p for p in packages if approval_status in (None, p["ModelApprovalStatus"])]
        summaries = [
            {
                key: p[key]
                for key in (
                    "ModelPackageGroupName",
                    "ModelPackageVersion",
                    "ModelPackageArn",
                    "ModelApprovalStatus",
                    "ModelPackageStatus",
                    "CreationTime",
                )
            }
            for p in chosen
        ]
        return sorted(summaries, key=lambda s: s["ModelPackageVersion"], reverse=descending)

    def latest_approved(self, group: str) -> dict[str, Any] | None:
        approved = self.list_packages(group, "Approved")
        return self.describe_package(approved[0]["ModelPackageArn"]) if approved else None

    @staticmethod
    def _find(state: dict[str, Any], name_or_arn: str, operation: str) -> dict[str, Any]:
        for group in state["groups"].values():
            for package in group["packages"]:
                if name_or_arn in (
                    package["ModelPackageArn"],
                    f"{package['ModelPackageGroupName']}/{package['ModelPackageVersion']}",
                ):
                    found: dict[str, Any] = package  # the stored entry itself: updates write to it
                    return found
        raise not_found(operation, f"Model package {name_or_arn} does not exist.")


def _check_status(operation: str, status: str) -> None:
    if status not in APPROVAL_STATUSES:
        raise validation_error(
            operation, f"ModelApprovalStatus {status!r} is not one of {', '.join(APPROVAL_STATUSES)}"
        )
