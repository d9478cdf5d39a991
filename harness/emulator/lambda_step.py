"""LambdaStep locally: the function's ARN or name maps, in the project's configuration, to a handler on this
machine, which runs in its own process with the step's inputs as its event.

    [tool.harness.lambda]
    "arn:aws:lambda:us-east-1:111122223333:function:notify" = "lambdas/notify.py:handler"
    deploy-model = { handler = "lambdas/deploy.py:lambda_handler", timeout = 300 }

The process gets the local AWS endpoint (loopback), the region, dummy credentials and Lambda's own variables
(AWS_LAMBDA_FUNCTION_NAME, LAMBDA_TASK_ROOT, ...), so a handler that calls SageMaker or S3 with boto3 reaches
the local ones. Its output lines are the step's log. Its return value must be a JSON object: each of the step's
OutputParameters is read from it by name and typed as declared. Timeout: the mapping's, else the LambdaStep's
own limit of 10 minutes; past it the process is killed and the step fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.emulator.arns import ACCOUNT, REGION
from harness.emulator.platform import CHILD_SITE, container_environment
from harness.emulator.step_outputs import typed_outputs
from harness.errors import UserError

RUNTIME = Path(__file__).parent / "lambda_bootstrap" / "bootstrap.py"  # alone in its folder: sys.path[0]
STEP_TIMEOUT_S = 600  # a LambdaStep's limit in the service
CONFIG_KEY = "[tool.harness.lambda]"


@dataclass(frozen=True)
class LambdaHandler:
    file: Path
    function: str  # the handler's name in the file
    timeout_s: float = STEP_TIMEOUT_S

    @classmethod
    def parse(cls, folder: Path, where: str, key: str, value: Any) -> LambdaHandler:
        handler, timeout = (value, STEP_TIMEOUT_S) if isinstance(value, str) else (
            (value.get("handler"), value.get("timeout", STEP_TIMEOUT_S)) if isinstance(value, Mapping) else (None, 0)
        )  # fmt: skip
        example = f'"{key}" = "lambdas/handler.py:lambda_handler"'
        if not isinstance(handler, str) or ":" not in handler:
            raise UserError(f"{where}: {CONFIG_KEY} {key!r} must name FILE.py:FUNCTION", fix=example)
        path_text, function = handler.rsplit(":", 1)
        file = (folder / path_text).resolve()
        if not file.is_file():
            raise UserError(f"{where}: {CONFIG_KEY} {key!r}: {file} does not exist", fix=example)
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 0 < timeout <= STEP_TIMEOUT_S:
            raise UserError(f"{where}: {CONFIG_KEY} {key!r}: timeout {timeout!r} is not in 1-{STEP_TIMEOUT_S} s",
                            fix=f'{{ handler = "{handler}", timeout = 60 }}')  # fmt: skip
        return cls(file, function, float(timeout))


def function_name(arn_or_name: str) -> str:
    """`arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]` -> name; a bare name as it is."""
    parts = arn_or_name.split(":")
    if arn_or_name.startswith("arn:") and len(parts) >= 7 and parts[5] == "function":
        return parts[6]
    return arn_or_name


class LambdaFunctions:
    """The configured handlers, and their invocation for a LambdaStep."""

    def __init__(self, handlers: Mapping[str, LambdaHandler], endpoint_url: Callable[[], str]) -> None:
        self._handlers = dict(handlers)
        self._endpoint_url = endpoint_url  # the local AWS endpoint's loopback URL, once the server is up

    def handler(self, step: str, arn: str) -> LambdaHandler:
        """The handler for a step's function; refused, naming the step and the configuration key, if none."""
        found = self._handlers.get(arn) or self._handlers.get(function_name(arn))
        if found is None:
            raise UserError(
                f"step {step!r} invokes the Lambda function {arn}, which has no local handler",
                fix=f'map it in pyproject.toml: {CONFIG_KEY} "{function_name(arn)}" = "path/to/file.py:handler"',
            )
        return found

    def invoke(
        self,
        step: str,
        arn: str,
        event: Mapping[str, Any],
        outputs: Sequence[Mapping[str, Any]],
        on_line: Callable[[str], None],
    ) -> dict[str, Any]:
        """Run the handler on `event`; its declared outputs, typed. A failure raises UserError with the reason."""
        handler = self.handler(step, arn)
        name = function_name(arn)
        with tempfile.TemporaryDirectory(prefix="harness-lambda-") as scratch:
            result_file = Path(scratch) / "result.json"
            command = [sys.executable, str(RUNTIME), str(handler.file), handler.function, str(result_file),
                       str(handler.timeout_s)]  # fmt: skip
            with subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                env=self._environment(handler, name, arn), cwd=handler.file.parent,
            ) as process:  # fmt: skip
                follower = threading.Thread(target=_follow, args=(process, on_line), daemon=True)
                follower.start()
                assert process.stdin is not None
                process.stdin.write(json.dumps(event, default=str))
                process.stdin.close()
                try:
                    process.wait(timeout=handler.timeout_s)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                    raise UserError(f"Lambda function {name} timed out after {handler.timeout_s:g} seconds") from None
                finally:
                    follower.join(timeout=5)
            answer = json.loads(result_file.read_text()) if result_file.is_file() else None
        if process.returncode != 0 or answer is None:
            detail = f"{answer.get('errorType')}: {answer.get('errorMessage')}" if isinstance(answer, dict) else \
                f"exit code {process.returncode}"  # fmt: skip
            raise UserError(f"Lambda function {name} failed: {detail}")
        return typed_outputs(f"Lambda function {name}", answer, outputs)

    def _environment(self, handler: LambdaHandler, name: str, arn: str) -> dict[str, str]:
        endpoint = self._endpoint_url()
        qualified = arn if arn.startswith("arn:") else f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        kept = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "TZ")}
        return {
            **kept,
            **container_environment(endpoint, REGION),
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
            "LAMBDA_TASK_ROOT": str(handler.file.parent),
            "_HANDLER": f"{handler.file.stem}.{handler.function}",
            "HARNESS_LAMBDA_ARN": qualified,
            # As in a `run` command: a client built for an AWS host goes to the local endpoint.
            "PYTHONPATH": os.pathsep.join([str(CHILD_SITE), str(handler.file.parent)]),
            "HARNESS_LOCAL_ENDPOINT_URL": endpoint,
            "PYTHONUNBUFFERED": "1",
        }


def _follow(process: subprocess.Popen[str], on_line: Callable[[str], None]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        on_line(line.rstrip("\n"))
