"""CallbackStep locally: the step waits for a token that someone completes.

As in the service, the step sends its message to its SQS queue, `{"token", "pipelineExecutionArn", "arguments",
"status": "Executing"}`, and waits until SendPipelineExecutionStepSuccess (with its OutputParameters) or
SendPipelineExecutionStepFailure names its token. The queue is the local endpoint's (moto's SQS): when it does not
exist there, the harness says so and the step still waits; either way the token is printed with the command that
completes it (`sagemaker-harness callback success TOKEN --output K=V`). StopPipelineExecution ends the wait.
"""

from __future__ import annotations

import json
import secrets
import string
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.emulator.awserrors import validation_error
from harness.emulator.step_outputs import typed_outputs
from harness.errors import UserError

TOKEN_ALPHABET = string.ascii_letters + string.digits  # the API's pattern: 10 of [a-zA-Z0-9]


class CallbackStopped(Exception):
    """The execution was stopped while the step waited."""


@dataclass
class _Waiting:
    execution_arn: str
    step: str
    done: threading.Event = field(default_factory=threading.Event)
    outputs: dict[str, Any] | None = None
    failure: str | None = None


class Callbacks:
    """The tokens of every callback step waiting now."""

    def __init__(self, send_message: Callable[[str, str], None], on_notice: Callable[[str], None]) -> None:
        self._send_message = send_message  # (queue URL, body) on the local endpoint's SQS; raises if no queue
        self._on_notice = on_notice
        self._waiting: dict[str, _Waiting] = {}
        self._lock = threading.Lock()

    def open(self, execution_arn: str, step: str, queue_url: str, arguments: Mapping[str, Any]) -> str:
        """A new token for the step, its message sent (or said unsendable); returns the token."""
        token = "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(10))
        with self._lock:
            self._waiting[token] = _Waiting(execution_arn, step)
        body = json.dumps({"token": token, "pipelineExecutionArn": execution_arn, "arguments": dict(arguments),
                           "status": "Executing"}, default=str)  # fmt: skip
        try:
            self._send_message(queue_url, body)
            where = f"sent to {queue_url}"
        except Exception as error:  # noqa: BLE001 (no such queue locally: the step waits all the same)
            where = f"not sent: the queue {queue_url} does not exist on the local endpoint ({type(error).__name__})"
        self._on_notice(
            f"harness: step {step} waits for its callback, token {token} (message {where}); complete it with "
            f"`sagemaker-harness callback success {token} [--output NAME=VALUE]` or `... failure {token} --reason ...`"
        )
        return token

    def wait(self, token: str, outputs: Sequence[Mapping[str, Any]], stopped: threading.Event) -> dict[str, Any]:
        """Until the token is completed: its typed outputs, or UserError with the failure it was sent."""
        with self._lock:
            waiting = self._waiting[token]
        try:
            while not waiting.done.wait(0.2):
                if stopped.is_set():
                    raise CallbackStopped
        finally:
            with self._lock:
                self._waiting.pop(token, None)
        if waiting.failure is not None:
            raise UserError(waiting.failure or "the callback reported a failure")
        return typed_outputs("the callback", waiting.outputs or {}, outputs)

    def succeed(self, operation: str, token: str, outputs: Sequence[Mapping[str, Any]]) -> str:
        waiting = self._take(operation, token)
        waiting.outputs = {str(o.get("Name")): o.get("Value") for o in outputs}
        waiting.done.set()
        return waiting.execution_arn

    def fail(self, operation: str, token: str, reason: str) -> str:
        waiting = self._take(operation, token)
        waiting.failure = reason
        waiting.done.set()
        return waiting.execution_arn

    def waiting(self) -> dict[str, tuple[str, str]]:
        """token -> (execution ARN, step), for the steps waiting now."""
        with self._lock:
            return {token: (w.execution_arn, w.step) for token, w in self._waiting.items()}

    def _take(self, operation: str, token: str) -> _Waiting:
        with self._lock:
            waiting = self._waiting.get(token)
        if waiting is None or waiting.done.is_set():
            raise validation_error(operation, f"Callback token {token} is not valid or has already been used.")
        return waiting
