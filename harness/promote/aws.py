"""AWS clients from the standard boto3 credential chain, and AWS errors
reported with the call, the resource and AWS's own message.

Endpoints follow boto3's own settings (AWS_ENDPOINT_URL and friends), which
is how tests point promotion at a stand-in that speaks the AWS protocols.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from harness.errors import InfrastructureError

T = TypeVar("T")


@dataclass(frozen=True)
class AwsClients:
    session: Any
    s3: Any
    ecr: Any
    sagemaker: Any
    sts: Any

    @classmethod
    def create(cls, region: str) -> "AwsClients":
        session = boto3.Session(region_name=region)
        return cls(session, session.client("s3"), session.client("ecr"), session.client("sagemaker"),
                   session.client("sts"))


def aws_call(operation: str, resource: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return call(*args, **kwargs)
    except ClientError as error:
        details = error.response.get("Error", {})
        raise InfrastructureError(
            f"AWS {operation} on {resource} failed: {details.get('Code', '?')}: {details.get('Message', '')}",
            fix="check the settings and the credentials' permissions, then re-run: completed steps are skipped",
        ) from error
    except BotoCoreError as error:
        raise InfrastructureError(f"AWS {operation} on {resource} failed: {error}",
                                  fix="check the credentials (standard boto3 chain) and the network") from error


def error_code(error: BaseException) -> str:
    cause = error.__cause__
    return str(cause.response.get("Error", {}).get("Code", "")) if isinstance(cause, ClientError) else ""
