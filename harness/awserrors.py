"""boto-shaped errors, for code that expects AWS semantics from the local API."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


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
