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

from harness.errors import AwsError, InfrastructureError

T = TypeVar("T")


@dataclass(frozen=True)
class AwsClients:
    session: Any
    s3: Any
    ecr: Any
    sagemaker: Any
    sts: Any

    @classmethod
    def create(cls, region: str) -> AwsClients:
        session = boto3.Session(region_name=region)
        return cls(
            session, session.client("s3"), session.client("ecr"), session.client("sagemaker"), session.client("sts")
        )


# Codes AWS answers when the thing a Create* call makes is already there.
_ALREADY_EXISTS = (
    "ResourceInUse",
    "RepositoryAlreadyExistsException",
    "EntityAlreadyExists",
    "BucketAlreadyOwnedByYou",
)
_ACCESS_DENIED = "the credentials lack permission for {operation}: grant it to the role or user (IAM), then re-run"
_THROTTLED = "AWS throttled {operation}: wait a minute and re-run; completed steps are skipped"
_FIXES = {
    "AccessDenied": _ACCESS_DENIED,
    "403": _ACCESS_DENIED,  # a HEAD request has no body: S3 answers the bare status
    "Throttling": _THROTTLED,
    "SlowDown": _THROTTLED,  # S3's throttling
    "TooManyRequests": _THROTTLED,
    "ExpiredToken": "the credentials have expired: refresh them (e.g. `aws sso login`), then re-run",
    "NoSuchBucket": "the bucket does not exist: create it or fix --bucket",
    "404": "the bucket does not exist: create it or fix --bucket",  # HeadBucket; head_object reads 404 as missing
}
_DEFAULT_FIX = "check the settings and the credentials' permissions, then re-run: completed steps are skipped"
# SageMaker answers ValidationException "Could not find ..." (DescribeEndpoint, DescribeModel) for a missing resource.
_NOT_FOUND_MESSAGES = ("could not find", "does not exist")


def aws_call(operation: str, resource: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return call(*args, **kwargs)
    except ClientError as error:
        details = error.response.get("Error", {})
        code, message = str(details.get("Code", "")), str(details.get("Message", ""))
        raise AwsError(operation, resource, code, message, _fix(code, operation)) from error
    except BotoCoreError as error:
        raise InfrastructureError(
            f"AWS {operation} on {resource} failed: {error}",
            fix="check the credentials (standard boto3 chain) and the network",
        ) from error


def _fix(code: str, operation: str) -> str:
    """The fix for AWS's error code; the codes vary by service (AccessDeniedException, ThrottlingException, ...)."""
    for stem, fix in _FIXES.items():
        if code == stem or (not stem.isdigit() and code.startswith(stem)):
            return fix.format(operation=operation)
    return _DEFAULT_FIX


def head_object(clients: AwsClients, bucket: str, key: str) -> dict[str, Any] | None:
    """HeadObject, None when the object is missing; a refusal (403) is an error, not "missing"."""
    try:
        return dict(aws_call("HeadObject", f"s3://{bucket}/{key}", clients.s3.head_object, Bucket=bucket, Key=key))
    except AwsError as error:
        if error.code in ("404", "NoSuchKey", "NotFound"):  # HEAD has no body: S3 answers the bare status
            return None
        raise


def error_code(error: BaseException) -> str:
    return error.code if isinstance(error, AwsError) else ""


def already_exists(error: BaseException) -> bool:
    """Decided by AWS's error code; SageMaker answers ValidationException "Cannot create already existing ..."
    for CreateModel, CreateEndpointConfig and CreateEndpoint, so there the code alone is ambiguous."""
    if not isinstance(error, AwsError):
        return False
    return error.code in _ALREADY_EXISTS or (
        error.code == "ValidationException" and "already exist" in error.message.lower()
    )


def not_found(error: BaseException) -> bool:
    """Decided by AWS's error code; SageMaker answers ValidationException "Could not find ..." for a missing endpoint
    or model, so there the message decides, and any other ValidationException (a bad name, a bad value) is an error."""
    if not isinstance(error, AwsError):
        return False
    message = error.message.lower()
    return error.code == "ResourceNotFound" or (
        error.code == "ValidationException" and any(phrase in message for phrase in _NOT_FOUND_MESSAGES)
    )
