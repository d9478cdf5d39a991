"""A tuning job's configuration as the service checks it, and its sampling: ranges with their scaling, Grid's
combinations, the strategies that run as Random said so."""

from __future__ import annotations

import math
from typing import Any

import pytest
from botocore.exceptions import ClientError

from harness.emulator.executor import validate
from harness.emulator.tuning import plan
from harness.errors import UserError


def _request(ranges: dict[str, Any], strategy: str = "Random", jobs: int | None = 20) -> dict[str, Any]:
    limits = {"MaxParallelTrainingJobs": 2} | ({"MaxNumberOfTrainingJobs": jobs} if jobs else {})
    return {
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy, "ResourceLimits": limits, "ParameterRanges": ranges,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:accuracy"},
        },
        "TrainingJobDefinition": {"AlgorithmSpecification": {"TrainingImage": "img", "MetricDefinitions": [
            {"Name": "validation:accuracy", "Regex": "accuracy=([0-9.]+)"}]}},
    }  # fmt: skip


RANGES = {
    "ContinuousParameterRanges": [
        {"Name": "eta", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"},
        {"Name": "subsample", "MinValue": "0.5", "MaxValue": "0.999", "ScalingType": "ReverseLogarithmic"},
    ],
    "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "8", "ScalingType": "Linear"}],
    "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart"]}],
}


def test_random_samples_every_range_within_its_bounds_and_a_seed_repeats_them() -> None:
    tuning = plan(_request(RANGES) | {"HyperParameterTuningJobConfig": {
        **_request(RANGES)["HyperParameterTuningJobConfig"], "RandomSeed": 7}})  # fmt: skip
    candidates = tuning.candidates()
    assert len(candidates) == 20 and candidates == tuning.candidates()
    for candidate in candidates:
        assert 0.001 <= float(candidate["eta"]) <= 1 and 0.5 <= float(candidate["subsample"]) <= 0.999
        assert candidate["max_depth"] in {str(n) for n in range(2, 9)} and candidate["booster"] in {"gbtree", "dart"}
    etas = sorted(math.log10(float(c["eta"])) for c in candidates)
    assert etas[0] < -2 and etas[-1] > -1  # log-uniform: the small decades are drawn, not only values near 1


def test_grid_runs_every_combination_of_the_categorical_values() -> None:
    ranges = {
        "CategoricalParameterRanges": [{"Name": "a", "Values": ["1", "2"]}, {"Name": "b", "Values": ["x", "y", "z"]}]
    }
    tuning = plan(_request(ranges, "Grid", jobs=None))
    assert tuning.max_jobs == 6 and {(c["a"], c["b"]) for c in tuning.candidates()} == {
        (a, b) for a in "12" for b in "xyz"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("ranges", "strategy", "message"),
    [
        ({}, "Random", "ParameterRanges must name at least one"),
        ({"IntegerParameterRanges": [{"Name": "n", "MinValue": "5", "MaxValue": "4"}]}, "Random", "n is empty"),
        ({"CategoricalParameterRanges": [{"Name": "c", "Values": []}]}, "Random", "c is empty: it has no Values"),
        (
            {
                "ContinuousParameterRanges": [
                    {"Name": "lr", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}
                ]
            },
            "Random",
            "Logarithmic scaling needs MinValue above 0",
        ),
        (RANGES, "Grid", "The Grid strategy takes categorical parameter ranges only"),
        (RANGES, "Annealing", "Strategy 'Annealing' is not one of"),
    ],
)
def test_a_configuration_the_service_rejects_is_refused(ranges: dict[str, Any], strategy: str, message: str) -> None:
    with pytest.raises(ClientError, match=message):
        plan(_request(ranges, strategy))


def test_strategies_that_run_otherwise_say_so_and_a_pipeline_step_is_checked_at_creation() -> None:
    assert plan(_request(RANGES, "Bayesian")).notices[0].startswith("the Bayesian strategy runs as Random locally")
    step = {"Name": "Tune", "Type": "Tuning", "Arguments": _request({}, "Random")}
    with pytest.raises(UserError, match="step 'Tune': ParameterRanges must name at least one"):
        validate({"Steps": [step]})
