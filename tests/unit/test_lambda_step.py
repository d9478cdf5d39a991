"""LambdaStep's local handler: run in its own process with the inputs as its event, its outputs typed as declared,
its failures and timeout reported; an unmapped function refused when the pipeline is created."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.emulator.executor import validate
from harness.emulator.lambda_step import LambdaFunctions, LambdaHandler, function_name
from harness.errors import UserError
from harness.projectconfig import load_project

HANDLER = """
import os
def handler(event, context):
    print("got", sorted(event))
    return {"threshold": str(event["base"] * 2), "count": "3", "ok": "true", "seen_by": context.function_name,
            "endpoint": os.environ["AWS_ENDPOINT_URL"], "left_ms": context.get_remaining_time_in_millis()}
def broken(event, context):
    raise ValueError("no model to deploy")
def slow(event, context):
    import time; time.sleep(30)
def a_list(event, context):
    return [1, 2]
"""
OUTPUTS = [
    {"OutputName": "threshold", "OutputType": "Float"},
    {"OutputName": "count", "OutputType": "Integer"},
    {"OutputName": "ok", "OutputType": "Boolean"},
    {"OutputName": "seen_by", "OutputType": "String"},
    {"OutputName": "endpoint", "OutputType": "String"},
]


@pytest.fixture
def functions(tmp_path: Path) -> LambdaFunctions:
    (tmp_path / "fn.py").write_text(HANDLER)
    handlers = {
        name: LambdaHandler(tmp_path / "fn.py", function, timeout)
        for name, function, timeout in [("score", "handler", 60.0), ("broken", "broken", 60.0), ("slow", "slow", 1.0),
                                        ("a-list", "a_list", 60.0)]
    }  # fmt: skip
    return LambdaFunctions(handlers, lambda: "http://127.0.0.1:4566")


def test_the_handler_gets_the_event_and_its_outputs_come_back_typed(functions: LambdaFunctions) -> None:
    lines: list[str] = []
    arn = "arn:aws:lambda:us-east-1:111122223333:function:score"
    outputs = functions.invoke("Score", arn, {"base": 1.5, "extra": "x"}, OUTPUTS, lines.append)
    assert outputs == {"threshold": 3.0, "count": 3, "ok": True, "seen_by": "score",
                       "endpoint": "http://127.0.0.1:4566"}  # fmt: skip
    assert lines == ["got ['base', 'extra']"]


@pytest.mark.parametrize(
    ("name", "outputs", "message"),
    [
        ("broken", [], "Lambda function broken failed: ValueError: no model to deploy"),
        ("slow", [], "Lambda function slow timed out after 1 seconds"),
        ("score", [{"OutputName": "missing", "OutputType": "String"}], "returned no output 'missing'"),
        ("score", [{"OutputName": "seen_by", "OutputType": "Integer"}], "output seen_by='score' is not a Integer"),
        ("a-list", [{"OutputName": "x", "OutputType": "String"}], "returned list, not a JSON object"),
    ],
)
def test_a_failing_handler_fails_with_its_reason(
    functions: LambdaFunctions, name: str, outputs: list[dict[str, str]], message: str
) -> None:
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace("[", r"\[")):
        functions.invoke("Step", name, {"base": 1}, outputs, lambda line: None)


def test_an_unmapped_function_is_refused_when_the_pipeline_is_created(functions: LambdaFunctions) -> None:
    step = {"Name": "Notify", "Type": "Lambda", "Arguments": {},
            "FunctionArn": "arn:aws:lambda:us-east-1:1:function:notify-team:live"}  # fmt: skip
    with pytest.raises(UserError) as refused:
        validate({"Steps": [step]}, functions)
    assert "step 'Notify' invokes the Lambda function arn:aws:lambda:us-east-1:1:function:notify-team:live" in str(
        refused.value
    )
    assert '[tool.harness.lambda] "notify-team" = "path/to/file.py:handler"' in refused.value.fix
    assert function_name("arn:aws:lambda:us-east-1:1:function:notify-team:live") == "notify-team"
    validate({"Steps": [{**step, "FunctionArn": "arn:aws:lambda:us-east-1:1:function:score"}]}, functions)


def test_the_configuration_maps_arns_and_names_relative_to_the_project(tmp_path: Path) -> None:
    (tmp_path / "lambdas").mkdir()
    (tmp_path / "lambdas" / "fn.py").write_text(HANDLER)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.harness.lambda]\nscore = "lambdas/fn.py:handler"\n'
        '"arn:aws:lambda:us-east-1:1:function:slow" = { handler = "lambdas/fn.py:slow", timeout = 5 }\n'
    )
    handlers = load_project(tmp_path).lambdas
    assert handlers["score"] == LambdaHandler(tmp_path / "lambdas" / "fn.py", "handler", 600.0)
    assert handlers["arn:aws:lambda:us-east-1:1:function:slow"].timeout_s == 5.0
    (tmp_path / "pyproject.toml").write_text('[tool.harness.lambda]\nscore = "lambdas/nope.py:handler"\n')
    with pytest.raises(UserError, match=r"nope\.py does not exist"):
        load_project(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.harness.lambda]\nscore = { handler = "lambdas/fn.py:x", timeout = 900 }\n'
    )
    with pytest.raises(UserError, match="timeout 900 is not in 1-600 s"):
        load_project(tmp_path)
