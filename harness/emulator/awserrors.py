"""boto-shaped errors, for code that expects AWS semantics from the local API."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from harness.errors import HarnessError


def client_error(operation: str, code: str, message: str, status: int = 400, **extra: object) -> ClientError:
    response: Any = {  # botocore's stubs type this as a private TypedDict; extra keys ride along
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
        **extra,
    }
    return ClientError(response, operation)


def validation_error(operation: str, message: str) -> ClientError:
    return client_error(operation, "ValidationException", message)


def not_found(operation: str, message: str) -> ClientError:
    return client_error(operation, "ResourceNotFound", message)


FAILURE_REASON_LIMIT = 1024  # PipelineExecutionStep and Describe*Job FailureReason: at most 1024 characters


def failure_reason(error: BaseException) -> str:
    """A step's or job's FailureReason: what SageMaker would say, not which Python class the harness raised.

    A rejected request reads "ClientError: <AWS's message>", as SageMaker prefixes it; a harness error is its
    problem; only an unexpected exception keeps its type, so a bug still names itself.
    """
    if isinstance(error, ClientError):
        reason = f"ClientError: {error.response.get('Error', {}).get('Message') or error}"
    elif isinstance(error, HarnessError):
        reason = error.problem
    else:
        reason = f"{type(error).__name__}: {error}"
    return cap_reason(reason)


def cap_reason(reason: str) -> str:
    return reason[:FAILURE_REASON_LIMIT]
