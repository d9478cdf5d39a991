"""The built-in XGBoost algorithm's hyperparameter checks, with the messages AWS's container gives (read from
aws/sagemaker-xgboost-container's hyperparameter_validation.py and checked against its toolkit's output)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "harness" / "images" / "runtime"))
from harness_standin.xgboost_algorithm import UserError, _libsvm_line, validate


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [
        ({"eta": "0.1"}, "Missing required hyperparameter: num_round"),
        ({"num_round": "10", "foo": "1"}, "Extraneous hyperparameter found: foo"),
        ({"num_round": "10", "sagemaker_program": '"train.py"'}, "Extraneous hyperparameter found: sagemaker_program"),
        ({"num_round": "abc"}, "Hyperparameter num_round: could not parse value (caused by ValueError)"),
        ({"num_round": "10.0"}, "Hyperparameter num_round: could not parse value (caused by ValueError)"),
        ({"num_round": "0"}, "Hyperparameter num_round: 0 is not in [1, +inf)"),
        ({"num_round": "10", "eta": "1.5"}, "Hyperparameter eta: 1.5 is not in [0, 1]"),
        ({"num_round": "10", "subsample": "0"}, "Hyperparameter subsample: 0.0 is not in (0, 1]"),
        ({"num_round": "10", "max_depth": "-1"}, "Hyperparameter max_depth: -1 is not in [0, +inf)"),
        ({"num_round": "10", "booster": "x"}, "Hyperparameter booster: x is not in ['gbtree', 'gblinear', 'dart']"),
        ({"num_round": "10", "objective": "reg:foo"}, "Hyperparameter objective: reg:foo is not in ['aft_loss"),
        ({"num_round": "10", "eval_metric": "rmse,bogus"}, "Hyperparameter eval_metric: value ['rmse', 'bogus'] not"),
        ({"num_round": "10", "objective": "multi:softmax"}, "Require input for parameter 'num_class' for multi-"),
        ({"num_round": "10", "objective": "reg:squarederror", "eval_metric": "auc"},
         "Metric 'auc' can only be applied for classification and ranking problems."),
        ({"num_round": "10", "eval_metric": "rmse@2"}, "Metric 'rmse@2' is not supported. Parameter 'eval_metric'"),
    ],
)  # fmt: skip
def test_a_rejected_value_fails_with_aws_message(hyperparameters: dict[str, str], message: str) -> None:
    with pytest.raises(UserError) as caught:
        validate(hyperparameters)
    assert str(caught.value).startswith(message)


def test_valid_values_are_parsed_and_aliases_replaced() -> None:
    parsed = validate({"num_round": "50", "learning_rate": "0.2", "eval_metric": "rmse,mae"})
    assert parsed == {"num_round": 50, "eta": 0.2, "eval_metric": ["rmse", "mae"]}
    assert validate({"num_round": "5", "eval_metric": "error@0.7"})["eval_metric"] == ["error@0.7"]


@pytest.mark.parametrize(
    ("line", "libsvm"),
    [("1 1:0.5 3:2", True), ("0.5:2 1:1", True), ("1", True), ("1.0,2.0,3.0", False), ("1 a:b", False)],
)
def test_the_libsvm_first_line_check(line: str, libsvm: bool) -> None:
    assert _libsvm_line(line) is libsvm
