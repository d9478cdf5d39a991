"""SageMaker's Search over local resources: filters with every operator, sub-expressions, sort and pages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from harness.emulator.protocol import AwsFault
from harness.emulator.search_api import SearchApi

JOBS = [
    {"TrainingJobName": "a", "TrainingJobArn": "arn:a", "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
     "HyperParameters": {"eta": "0.1"}, "FinalMetricDataList": [{"MetricName": "validation:rmse", "Value": 3.5}]},
    {"TrainingJobName": "b", "TrainingJobArn": "arn:b", "CreationTime": datetime(2026, 1, 2, tzinfo=UTC),
     "HyperParameters": {"eta": "0.3"}, "FinalMetricDataList": [{"MetricName": "validation:rmse", "Value": 2.5}]},
    {"TrainingJobName": "c-other", "TrainingJobArn": "arn:c", "CreationTime": datetime(2026, 1, 3, tzinfo=UTC)},
]  # fmt: skip
TAGS = {"arn:b": [{"Key": "team", "Value": "ml"}]}


def search(**request: object) -> list[str]:
    api = SearchApi({"TrainingJob": lambda: [dict(j) for j in JOBS]}, lambda arn: TAGS.get(arn, []))
    return [r["TrainingJob"]["TrainingJobName"] for r in api.search("TrainingJob", **request)["Results"]]


def expression(*filters: dict[str, str], operator: str = "And") -> dict[str, object]:
    return {"SearchExpression": {"Filters": list(filters), "Operator": operator}}


@pytest.mark.parametrize(
    ("request_", "names"),
    [
        ({}, ["c-other", "b", "a"]),  # newest first by default
        ({"SortBy": "TrainingJobName", "SortOrder": "Ascending"}, ["a", "b", "c-other"]),
        (expression({"Name": "TrainingJobName", "Operator": "Equals", "Value": "a"}), ["a"]),
        (expression({"Name": "TrainingJobName", "Operator": "Contains", "Value": "other"}), ["c-other"]),
        (expression({"Name": "HyperParameters.eta", "Operator": "GreaterThan", "Value": "0.2"}), ["b"]),
        (expression({"Name": "Metrics.validation:rmse", "Operator": "LessThanOrEqualTo", "Value": "3.5"}), ["b", "a"]),
        (expression({"Name": "FinalMetricDataList", "Operator": "NotExists"}), ["c-other"]),
        (expression({"Name": "Tags.team", "Operator": "Equals", "Value": "ml"}), ["b"]),
        (expression({"Name": "TrainingJobName", "Operator": "In", "Value": "a, c-other"}), ["c-other", "a"]),
        (expression({"Name": "CreationTime", "Operator": "LessThan", "Value": "2026-01-02T00:00:00Z"}), ["a"]),
        (expression({"Name": "TrainingJobName", "Operator": "Equals", "Value": "a"},
                    {"Name": "TrainingJobName", "Operator": "Equals", "Value": "b"}, operator="Or"), ["b", "a"]),
    ],
)  # fmt: skip
def test_filters_sort_and_operators(request_: dict[str, object], names: list[str]) -> None:
    assert search(**request_) == names


def test_results_come_in_pages() -> None:
    api = SearchApi({"TrainingJob": lambda: [dict(j) for j in JOBS]}, lambda arn: [])
    first = api.search("TrainingJob", MaxResults=2)
    assert len(first["Results"]) == 2 and first["NextToken"]
    rest = api.search("TrainingJob", MaxResults=2, NextToken=first["NextToken"])
    assert len(rest["Results"]) == 1 and "NextToken" not in rest


def test_a_resource_not_searched_locally_is_a_validation_error() -> None:
    api = SearchApi({"TrainingJob": list}, lambda arn: [])
    with pytest.raises((AwsFault, ClientError)) as caught:
        api.search("FeatureGroup")
    assert "FeatureGroup cannot be searched locally" in str(caught.value)
