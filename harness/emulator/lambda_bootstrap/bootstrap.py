"""Runs one Lambda handler in its own process, as the Lambda Python runtime calls it: `handler(event, context)`.

    python bootstrap.py FILE HANDLER RESULT_FILE TIMEOUT_S < event.json

Standard library only: it runs in the harness's interpreter, but with the handler's folder first on sys.path
(LAMBDA_TASK_ROOT, as in Lambda). The handler's return value goes to RESULT_FILE as JSON, or
{"errorMessage", "errorType"} when it raised (Lambda's own error shape). Its prints are the function's log.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import traceback
import uuid
from typing import Any


class Context:
    """The attributes and method of Lambda's Python context object that handlers read."""

    def __init__(self, timeout_s: float) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("HARNESS_LAMBDA_ARN", "")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main(argv: list[str]) -> int:
    path, handler_name, result_file, timeout_s = argv[1], argv[2], argv[3], float(argv[4])
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    event = json.loads(sys.stdin.read() or "{}")
    try:
        spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        handler = getattr(module, handler_name, None)
        if not callable(handler):
            raise AttributeError(f"Handler '{handler_name}' missing on module '{spec.name}'")
        result: Any = handler(event, Context(timeout_s))
        answer = json.dumps(result, default=str)
    except Exception as error:  # noqa: BLE001 (any error is the function's, reported as Lambda reports it)
        traceback.print_exc()
        answer = json.dumps({"errorMessage": str(error), "errorType": type(error).__name__})
        with open(result_file, "w") as stream:
            stream.write(answer)
        return 1
    with open(result_file, "w") as stream:
        stream.write(answer)
    return 0


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.exit(main(sys.argv))
