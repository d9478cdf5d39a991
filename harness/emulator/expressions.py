"""Pipeline definition expressions, evaluated as SageMaker Pipelines does:
`{"Get": "Parameters.X"}`, `{"Get": "Execution.PipelineExecutionId"}`,
`{"Get": "Steps.S.<property path>"}`, `{"Std:Join": ...}`, `{"Std:JsonGet": ...}`
and the condition types.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import UserError

_TOKEN = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]|\[\s*(\d+)\s*\]")
EXPRESSION_KEYS = ("Get", "Std:Join", "Std:JsonGet")


class ExpressionError(UserError):
    """A reference that cannot be resolved (unknown parameter, step or property)."""


@dataclass(frozen=True)
class Context:
    parameters: Mapping[str, Any]
    execution: Mapping[str, Any]
    step_properties: Mapping[str, Mapping[str, Any]]
    read_json: Callable[[str, str], Any]  # (step name, property file name) -> parsed document


def is_expression(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in EXPRESSION_KEYS


def references(value: Any) -> set[str]:
    """Names of the steps an argument tree refers to."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Get" in value and isinstance(value["Get"], str) and value["Get"].startswith("Steps."):
            found.add(value["Get"].split(".")[1].split("[")[0])
        for item in value.values():
            found |= references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


def resolve(value: Any, context: Context) -> Any:
    """The argument tree with every expression replaced by its value."""
    if is_expression(value):
        return _evaluate(value, context)
    if isinstance(value, dict):
        return {key: resolve(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, context) for item in value]
    return value


def _evaluate(expression: dict[str, Any], context: Context) -> Any:
    ((kind, body),) = expression.items()
    if kind == "Get":
        return _get(body, context)
    if kind == "Std:Join":
        values = [resolve(v, context) for v in body["Values"]]
        return str(body["On"]).join(_text(v) for v in values)
    document = resolve(body["PropertyFile"], context)
    return walk(document, str(body["Path"]), f"JsonGet path {body['Path']!r}")


def _get(path: str, context: Context) -> Any:
    root, _, rest = path.partition(".")
    if root == "Parameters":
        if rest not in context.parameters:
            raise ExpressionError(
                f"the pipeline refers to an undefined parameter {rest!r}",
                fix="declare it in Pipeline(parameters=[...])",
            )
        return context.parameters[rest]
    if root == "Execution":
        return context.execution[rest]
    if root == "Steps":
        step, _, property_path = rest.partition(".")
        if step not in context.step_properties:
            raise ExpressionError(f"{path}: step {step!r} has not run", fix="add it to the pipeline before its users")
        if property_path.startswith("PropertyFiles."):
            return context.read_json(step, property_path.split(".", 1)[1])
        return walk(context.step_properties[step], property_path, path)
    raise ExpressionError(f"unsupported reference {path!r}", fix="use Parameters, Execution or Steps references")


def walk(document: Any, path: str, label: str) -> Any:
    """Follow a property path (`A.B['name'][0].C`) through dicts and lists.

    A string key on a list picks the element whose *Name field matches, as in
    `ProcessingOutputConfig.Outputs['train']`.
    """
    node = document
    position = 0
    while position < len(path):
        match = _TOKEN.match(path, position)
        if match is None:
            raise ExpressionError(f"{label}: cannot parse the property path at {path[position:]!r}")
        position = match.end()
        name, quoted, double_quoted, index = match.groups()
        key = name if name is not None else quoted if quoted is not None else double_quoted
        node = _step_into(node, key, int(index) if index is not None else None, label)
    return node


def _step_into(node: Any, key: str | None, index: int | None, label: str) -> Any:
    if index is not None and isinstance(node, list) and index < len(node):
        return node[index]
    if isinstance(node, dict) and key in node:
        return node[key]
    if isinstance(node, list) and key is not None:
        for item in node:
            if isinstance(item, dict) and any(k.endswith("Name") and v == key for k, v in item.items()):
                return item
    raise ExpressionError(f"{label}: no {key if key is not None else index!r} in the step's properties")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b,
    "LessThanOrEqualTo": lambda a, b: a <= b,
}


def condition_holds(condition: Mapping[str, Any], context: Context) -> bool:
    kind = condition["Type"]
    if kind in _COMPARISONS:
        left, right = resolve(condition["LeftValue"], context), resolve(condition["RightValue"], context)
        return _COMPARISONS[kind](*_comparable(left, right))
    if kind == "In":
        value = resolve(condition["QueryValue"], context)
        return value in [resolve(v, context) for v in condition["Values"]]
    if kind == "Not":
        return not condition_holds(condition["Condition"], context)
    if kind == "Or":
        return any(condition_holds(c, context) for c in condition["Conditions"])
    raise ExpressionError(f"condition type {kind!r} is not supported", fix="use a comparison, In, Not or Or")


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    """Numbers compare as numbers even when one side arrived as a string."""
    if isinstance(left, (int, float)) != isinstance(right, (int, float)):
        try:
            return float(left), float(right)
        except (TypeError, ValueError):
            return str(left), str(right)
    return left, right
