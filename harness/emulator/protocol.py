"""AWS's JSON 1.1 protocol, as boto3 speaks it to SageMaker and CloudWatch Logs.

A request is `POST /` with `X-Amz-Target: <Prefix>.<Operation>` and a JSON
body; a reply is JSON, timestamps as epoch seconds; an error is HTTP 4xx/5xx
with `{"__type": <code>, "message": ...}`, which botocore turns into the
`ClientError` user code expects from AWS.

The few errors the endpoint answers for moto's services itself (S3's REST XML,
the query protocol of STS, IAM and the rest) are XML, in each one's shape.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from xml.sax.saxutils import escape

from botocore.exceptions import ClientError

from harness.errors import HarnessError

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class AwsFault(Exception):
    """An error the emulator answers in AWS's shape: HTTP status, error code, message."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def unknown_operation(service: str, operation: str) -> AwsFault:
    """AWS answers an X-Amz-Target it does not know with UnknownOperationException; so do we, naming it."""
    return AwsFault(
        "UnknownOperationException",
        f"The local harness does not implement {service} operation {operation}. "
        "`sagemaker-harness endpoint --operations` lists the implemented ones; run this call against AWS, "
        "or open an issue naming the operation.",
    )


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day).timestamp()
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_reply(payload: Mapping[str, Any], status: int = 200) -> Reply:
    body = json.dumps({k: v for k, v in payload.items() if k != "ResponseMetadata"}, default=_encode)
    return Reply(status, body.encode(), {"Content-Type": JSON_CONTENT_TYPE, "x-amzn-RequestId": str(uuid.uuid4())})


def error_reply(code: str, message: str, status: int = 400) -> Reply:
    body = json.dumps({"__type": code, "message": message, "Message": message}).encode()
    return Reply(
        status,
        body,
        {"Content-Type": JSON_CONTENT_TYPE, "x-amzn-RequestId": str(uuid.uuid4()), "x-amzn-ErrorType": code},
    )


def xml_error_reply(code: str, message: str, status: int, s3: bool) -> Reply:
    """S3's error document (`<Error>`), or the query protocol's (`<ErrorResponse>`): botocore parses each."""
    request_id = str(uuid.uuid4())
    error = f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
    if s3:
        body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{error}<RequestId>{request_id}</RequestId></Error>'
    else:
        body = f"<ErrorResponse><Error><Type>Receiver</Type>{error}</Error><RequestId>{request_id}</RequestId>" \
            "</ErrorResponse>"  # fmt: skip
    return Reply(status, body.encode(), {"Content-Type": "application/xml", "x-amz-request-id": request_id})


def fault_reply(error: BaseException) -> Reply:
    """The AWS-shaped answer for an error raised by an operation's handler."""
    if isinstance(error, AwsFault):
        return error_reply(error.code, error.message, error.status)
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
        return error_reply(str(details.get("Code", "ValidationException")), str(details.get("Message", "")), status)
    if isinstance(error, HarnessError):  # the request is one the harness cannot serve: the caller's to fix
        message = error.problem + (f" (fix: {error.fix})" if error.fix else "")
        return error_reply("ValidationException", message)
    raise error  # a bug: the server's own handler reports it


def parse_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as error:
        raise AwsFault("SerializationException", f"the request body is not JSON: {error}") from error
    if not isinstance(parsed, dict):
        raise AwsFault("SerializationException", "the request body must be a JSON object")
    return parsed
