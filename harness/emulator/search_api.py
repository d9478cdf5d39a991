"""SageMaker's Search over what the local control plane holds: training jobs, models, endpoints, model package
groups and packages, pipelines and their executions.

As the service (Search API reference): a SearchExpression of Filters (Name is a property path such as
`TrainingJobName`, `HyperParameters.eta`, `Tags.team`, `Metrics.validation:rmse`; Operator Equals, NotEquals,
GreaterThan, GreaterThanOrEqualTo, LessThan, LessThanOrEqualTo, Contains, Exists, NotExists, In), NestedFilters
are not supported, SubExpressions combine with the expression's Operator (And, default, or Or); SortBy a property
path (default CreationTime), SortOrder Descending by default; MaxResults 1-100 (default 10) with NextToken.
Each result is `{<Resource>: <its description>}`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from harness.emulator.awserrors import validation_error

Describer = Callable[[], list[dict[str, Any]]]
OPERATORS = ("Equals", "NotEquals", "GreaterThan", "GreaterThanOrEqualTo", "LessThan", "LessThanOrEqualTo",
             "Contains", "Exists", "NotExists", "In")  # fmt: skip


class SearchApi:
    def __init__(self, resources: Mapping[str, Describer], tags: Callable[[str], list[dict[str, str]]]) -> None:
        self._resources = dict(resources)  # Resource name -> every such resource, described
        self._tags = tags  # ARN -> its tags

    def search(self, Resource: str, **request: Any) -> dict[str, Any]:
        describe = self._resources.get(Resource)
        if describe is None:
            raise validation_error(
                "Search",
                f"Resource {Resource} cannot be searched locally: the local harness searches "
                f"{', '.join(sorted(self._resources))}",
            )
        expression = request.get("SearchExpression") or {}
        found = [item for item in describe() if _matches(self._with_tags(item), expression)]
        sort_by = str(request.get("SortBy") or "CreationTime")
        found.sort(key=lambda item: _sort_key(_value(item, sort_by)), reverse=request.get("SortOrder") != "Ascending")
        limit = int(request.get("MaxResults") or 10)
        if not 1 <= limit <= 100:
            raise validation_error("Search", f"MaxResults must be between 1 and 100, not {limit}")
        start = int(request.get("NextToken") or 0)
        reply: dict[str, Any] = {"Results": [{Resource: item} for item in found[start : start + limit]]}
        if start + limit < len(found):
            reply["NextToken"] = str(start + limit)
        return reply

    def _with_tags(self, item: dict[str, Any]) -> dict[str, Any]:
        arn = next((str(v) for k, v in item.items() if k.endswith("Arn") and k[:-3] in _ARN_OWNERS), "")
        if arn and "Tags" not in item:
            item = {**item, "Tags": self._tags(arn)}
        return item


# The resource whose own ARN field names it (a TrainingJob's TrainingJobArn, not its RoleArn).
_ARN_OWNERS = {"TrainingJob", "Model", "Endpoint", "ModelPackageGroup", "ModelPackage", "Pipeline",
               "PipelineExecution"}  # fmt: skip


def _matches(item: Mapping[str, Any], expression: Mapping[str, Any]) -> bool:
    if expression.get("NestedFilters"):
        raise validation_error("Search", "NestedFilters are not supported by the local harness")
    checks = [_filter(item, f) for f in expression.get("Filters") or []]
    checks += [_matches(item, sub) for sub in expression.get("SubExpressions") or []]
    if not checks:
        return True
    return any(checks) if expression.get("Operator") == "Or" else all(checks)


def _filter(item: Mapping[str, Any], condition: Mapping[str, Any]) -> bool:
    name, operator = str(condition["Name"]), str(condition.get("Operator") or "Equals")
    if operator not in OPERATORS:
        raise validation_error("Search", f"Operator {operator} is not one of {', '.join(OPERATORS)}")
    actual = _value(item, name)
    if operator in ("Exists", "NotExists"):
        return (actual is not None) == (operator == "Exists")
    if actual is None:
        return operator == "NotEquals"
    wanted = str(condition.get("Value", ""))
    if operator == "In":
        return _text(actual) in [part.strip() for part in wanted.split(",")]
    if operator == "Contains":
        return wanted in _text(actual)
    left, right = _comparable(actual, wanted)
    return bool(
        {
            "Equals": left == right,
            "NotEquals": left != right,
            "GreaterThan": left > right,
            "GreaterThanOrEqualTo": left >= right,
            "LessThan": left < right,
            "LessThanOrEqualTo": left <= right,
        }[operator]
    )


def _value(item: Mapping[str, Any], path: str) -> Any:
    """A property path: `A.B` walks maps; `Tags.<key>` reads a tag; `Metrics.<name>` a final training metric."""
    head, _, rest = path.partition(".")
    if head == "Tags" and rest:
        return next((t.get("Value") for t in item.get("Tags") or [] if t.get("Key") == rest), None)
    if head == "Metrics" and rest:
        metrics = {m["MetricName"]: m["Value"] for m in item.get("FinalMetricDataList") or []}
        return metrics.get(rest)
    value: Any = item
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _comparable(actual: Any, wanted: str) -> tuple[Any, Any]:
    if isinstance(actual, datetime):
        with contextlib.suppress(ValueError):
            return actual.timestamp(), datetime.fromisoformat(wanted.replace("Z", "+00:00")).timestamp()
    with contextlib.suppress(ValueError, TypeError):
        return float(actual), float(wanted)
    return _text(actual), wanted


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, datetime):
        return (1, value.timestamp())
    if isinstance(value, int | float):
        return (1, float(value))
    return (2, str(value))
