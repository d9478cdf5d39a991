"""Model quality: the problem type's metrics (statistics.json), their suggested constraints and violations.

Metrics as AWS's "Model Quality Metrics" page lists them, with Spark's conventions: confusion_matrix[actual]
[predicted]; ROC points (0, 0), one per distinct score (highest first), then (1, 1); the precision-recall curve
starts at recall 0 with the first point's precision; AUC by the trapezoid rule; a ratio over 0 is 0. The best
constant classifier predicts the positive label (binary) or, in AWS's multiclass example, the least frequent
actual label. A metric's standard_deviation needs 200 rows: 5 random 80% samples, else "NaN".
"""

from __future__ import annotations

import itertools
import logging
import math
import operator
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness_standin.model_monitor.contract import AnalyzerError, ModelQuality
from harness_standin.model_monitor.drift import load_json

KEYS = {"Regression": "regression", "BinaryClassification": "binary_classification",
        "MulticlassClassification": "multiclass_classification"}  # fmt: skip
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "LessThanThreshold": operator.lt,
    "GreaterThanThreshold": operator.gt,
    "LessThanOrEqualToThreshold": operator.le,
    "GreaterThanOrEqualToThreshold": operator.ge,
}
_LOWER_IS_BETTER = {"mae", "mse", "rmse", "false_positive_rate", "false_negative_rate"}
CONSTRAINED = {
    "Regression": ["mae", "mse", "rmse", "r2"],
    "BinaryClassification": ["recall", "precision", "accuracy", "true_positive_rate", "true_negative_rate",
                             "false_positive_rate", "false_negative_rate", "auc", "f0_5", "f1", "f2"],
    "MulticlassClassification": ["accuracy", "weighted_recall", "weighted_precision", "weighted_f0_5",
                                 "weighted_f1", "weighted_f2"],
}  # fmt: skip
MIN_ROWS_FOR_DEVIATION, SAMPLES, SAMPLE_SHARE = 200, 5, 0.8

log = logging.getLogger("harness_standin.model_monitor")


def evaluate(frame: pd.DataFrame, spec: ModelQuality) -> dict[str, Any]:
    """statistics.json of a model quality job."""
    problem = spec.problem_type
    if not spec.inference_attribute and (problem != "BinaryClassification" or not spec.probability_attribute):
        raise AnalyzerError(f"inference_attribute is not set (a {problem} job needs it, or a probability_attribute)")
    attributes = {
        "ground_truth_attribute": spec.ground_truth_attribute or _default_truth(frame),
        "inference_attribute": spec.inference_attribute,
        "probability_attribute": spec.probability_attribute,
    }
    table = pd.DataFrame({role: _column(frame, name, role) for role, name in attributes.items() if name}).dropna()
    if len(table) < len(frame):
        log.info("Leaving out %d row(s) missing an attribute", len(frame) - len(table))
    count = len(table)
    metrics: dict[str, Any]
    if problem == "Regression":
        y, p = _floats(table, "ground_truth_attribute"), _floats(table, "inference_attribute")
        metrics = _with_deviation(lambda i: _regression(y[i], p[i]), count)
        return {"version": 0.0, "dataset": {"item_count": count}, "regression_metrics": metrics}
    positive = _label(spec.positive_label or "1")
    actual = np.asarray([_label(v) for v in table["ground_truth_attribute"]])
    if spec.inference_attribute:
        predicted = np.asarray([_label(v) for v in table["inference_attribute"]])
    else:  # labels from the probabilities: the positive label above the threshold, else the other one
        negative = next((v for v in sorted(set(actual)) if v != positive), "0")
        predicted = np.where(_floats(table, "probability_attribute") > spec.probability_threshold, positive, negative)
    labels = sorted({str(v) for v in actual} | {str(v) for v in predicted})
    matrix = {a: dict.fromkeys(labels, 0) for a in labels}
    for a, q in zip(actual, predicted, strict=True):
        matrix[str(a)][str(q)] += 1
    if problem == "MulticlassClassification":
        metrics = {
            "confusion_matrix": matrix,
            **_with_deviation(lambda i: _multiclass(actual[i], predicted[i], labels), count),
        }
    else:
        if len(labels) > 2:
            raise AnalyzerError(f"BinaryClassification needs two labels; the data has {len(labels)}: {labels[:10]}")
        guessed = predicted == positive
        scores = _floats(table, "probability_attribute") if spec.probability_attribute else guessed.astype(float)
        metrics = {"confusion_matrix": matrix, **_binary(actual == positive, guessed, scores, count)}
    return {"version": 0.0, "dataset": {"item_count": count}, f"{KEYS[problem]}_metrics": metrics}


def _default_truth(frame: pd.DataFrame) -> str:
    """A captured record merged with its ground truth carries it as groundTruthData_0."""
    if "groundTruthData_0" in frame.columns:
        return "groundTruthData_0"
    raise AnalyzerError("ground_truth_attribute is not set and the data has no ground truth (groundTruthData)")


def _column(frame: pd.DataFrame, attribute: str, role: str) -> pd.Series:
    """A column by name, JSON path ($.name), captured output key or index (endpointOutput_0), or position."""
    name = attribute.removeprefix("$.")
    for candidate in (attribute, name, f"endpointOutput_{name}"):
        if candidate in frame.columns:
            return frame[candidate]
    if attribute.isdigit() and int(attribute) < len(frame.columns):
        return frame[frame.columns[int(attribute)]]
    columns = ", ".join(str(c) for c in frame.columns[:20]) or "none"
    raise AnalyzerError(f"{role} {attribute!r} is not a column of the dataset (columns: {columns})")


def _floats(table: pd.DataFrame, role: str) -> np.ndarray:
    try:
        return np.asarray(pd.to_numeric(table[role].astype(str).str.strip()), dtype=float)
    except (ValueError, TypeError):
        raise AnalyzerError(f"the {role} column holds values that are not numbers") from None


def _label(value: Any) -> str:
    """Labels as text, with 1, 1.0 and "1" the same label."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else str(number)


def _with_deviation(metrics: Callable[[np.ndarray], dict[str, float]], count: int) -> dict[str, dict[str, float]]:
    """Each metric's value over all rows and its deviation over 5 random 80% samples (200 rows or more)."""
    values = metrics(np.arange(count))
    deviations = dict.fromkeys(values, math.nan)
    if count >= MIN_ROWS_FOR_DEVIATION:
        rng = np.random.default_rng(0)  # fixed, so that a run repeats
        samples = [metrics(rng.choice(count, int(count * SAMPLE_SHARE), replace=False)) for _ in range(SAMPLES)]
        deviations = {k: float(np.std([s[k] for s in samples], ddof=1)) for k in values}
    return {k: {"value": v, "standard_deviation": deviations[k]} for k, v in values.items()}


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else 0.0


def _f(beta: float, precision: float, recall: float) -> float:
    return _ratio((1 + beta**2) * precision * recall, beta**2 * precision + recall)


def _regression(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    errors = p - y
    mse = float(np.mean(errors**2)) if len(y) else math.nan
    spread = float(np.sum((y - y.mean()) ** 2)) if len(y) else 0.0
    return {
        "mae": float(np.mean(np.abs(errors))) if len(y) else math.nan,
        "mse": mse,
        "rmse": math.sqrt(mse),
        "r2": 1 - float(np.sum(errors**2)) / spread if spread else math.nan,
    }


def _binary(actual: np.ndarray, predicted: np.ndarray, score: np.ndarray, count: int) -> dict[str, Any]:
    def scalars(i: np.ndarray) -> dict[str, float]:
        a, p = actual[i], predicted[i]
        tp, fp = float(np.sum(a & p)), float(np.sum(~a & p))
        fn, tn = float(np.sum(a & ~p)), float(np.sum(~a & ~p))
        recall, precision, fpr = _ratio(tp, tp + fn), _ratio(tp, tp + fp), _ratio(fp, fp + tn)
        prevalence = _ratio(tp + fn, len(a))
        constant_recall = 1.0 if tp + fn else 0.0
        return {
            "recall": recall, "precision": precision, "accuracy": _ratio(tp + tn, len(a)),
            "recall_best_constant_classifier": constant_recall,
            "precision_best_constant_classifier": prevalence, "accuracy_best_constant_classifier": prevalence,
            "true_positive_rate": recall, "true_negative_rate": 1 - fpr, "false_positive_rate": fpr,
            "false_negative_rate": 1 - recall, "auc": _curves(a, score[i])[2],
            "f0_5": _f(0.5, precision, recall), "f1": _f(1, precision, recall), "f2": _f(2, precision, recall),
            "f0_5_best_constant_classifier": _f(0.5, prevalence, constant_recall),
            "f1_best_constant_classifier": _f(1, prevalence, constant_recall),
            "f2_best_constant_classifier": _f(2, prevalence, constant_recall),
        }  # fmt: skip

    metrics: dict[str, Any] = _with_deviation(scalars, count)
    roc, pr, _ = _curves(actual, score)
    ordered = list(metrics.items())  # AWS's order: the curves come after the four rates
    head, tail = ordered[:10], ordered[10:]
    curves = {"receiver_operating_characteristic_curve": {"false_positive_rates": [x for x, _ in roc],
                                                          "true_positive_rates": [y for _, y in roc]},
              "precision_recall_curve": {"precisions": [y for _, y in pr], "recalls": [x for x, _ in pr]}}  # fmt: skip
    return {**dict(head), **curves, **dict(tail)}


def _curves(
    actual: np.ndarray, score: np.ndarray
) -> tuple[list[tuple[float, float]], list[tuple[float, float]], float]:
    """(ROC points, precision-recall points as (recall, precision), AUC), one threshold per distinct score."""
    order = np.argsort(-score, kind="stable")
    ranked, hits = score[order], actual[order]
    ends = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))  # the last row of each distinct score
    tp, fp = np.cumsum(hits)[ends].astype(float), np.cumsum(~hits)[ends].astype(float)
    positives, negatives = float(hits.sum()), float((~hits).sum())
    tpr = tp / positives if positives else np.zeros_like(tp)
    fpr = fp / negatives if negatives else np.zeros_like(fp)
    roc = [(0.0, 0.0), *zip(fpr.tolist(), tpr.tolist(), strict=True)]
    if roc[-1] != (1.0, 1.0):
        roc.append((1.0, 1.0))
    precisions = [_ratio(t, t + f) for t, f in zip(tp, fp, strict=True)]
    pr = [(0.0, precisions[0] if precisions else 1.0), *zip(tpr.tolist(), precisions, strict=True)]
    auc = sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in itertools.pairwise(roc))
    return roc, pr, float(auc)


def _multiclass(actual: np.ndarray, predicted: np.ndarray, labels: list[str]) -> dict[str, float]:
    total = len(actual)
    metrics = dict.fromkeys(
        ("weighted_recall", "weighted_precision", "weighted_f0_5", "weighted_f1", "weighted_f2"), 0.0
    )
    support = {c: float(np.sum(actual == c)) for c in labels}
    for c in labels:
        hits = float(np.sum((actual == c) & (predicted == c)))
        precision, recall, weight = (
            _ratio(hits, float(np.sum(predicted == c))),
            _ratio(hits, support[c]),
            support[c] / total,
        )
        metrics["weighted_recall"] += weight * recall
        metrics["weighted_precision"] += weight * precision
        for beta, key in ((0.5, "weighted_f0_5"), (1, "weighted_f1"), (2, "weighted_f2")):
            metrics[key] += weight * _f(beta, precision, recall)
    rarest = min((c for c in labels if support[c]), key=lambda c: (support[c], c), default=labels[0])
    share = support[rarest] / total  # the constant classifier's precision on its label, and its accuracy
    return {
        "accuracy": _ratio(float(np.sum(actual == predicted)), total), **metrics,
        "accuracy_best_constant_classifier": share, "weighted_recall_best_constant_classifier": share,
        "weighted_precision_best_constant_classifier": share * share,
        "weighted_f0_5_best_constant_classifier": share * _f(0.5, share, 1.0),
        "weighted_f1_best_constant_classifier": share * _f(1, share, 1.0),
        "weighted_f2_best_constant_classifier": share * _f(2, share, 1.0),
    }  # fmt: skip


def suggest_constraints(stats: dict[str, Any], problem: str) -> dict[str, Any]:
    """Each constrained metric's baseline value as its threshold; errors may not grow, the rest may not fall."""
    metrics = stats[f"{KEYS[problem]}_metrics"]
    constraints = {
        name: {"threshold": metrics[name]["value"],
               "comparison_operator": "GreaterThanThreshold" if name in _LOWER_IS_BETTER else "LessThanThreshold"}
        for name in CONSTRAINED[problem] if not math.isnan(metrics[name]["value"])
    }  # fmt: skip
    return {"version": 0.0, f"{KEYS[problem]}_constraints": constraints}


def load_constraints(path: Path, problem: str) -> dict[str, Any]:
    document: dict[str, Any] = load_json(path, "baseline_constraints")
    key = f"{KEYS[problem]}_constraints"
    constraints = document.get(key)
    if not isinstance(constraints, dict):
        raise AnalyzerError(f"baseline_constraints {path}: missing field '{key}' (an object) for {problem}")
    for name, constraint in constraints.items():
        where = f"baseline_constraints {path}: {key}.{name}"
        if name not in CONSTRAINED[problem] and not name.endswith("best_constant_classifier"):
            raise AnalyzerError(f"{where}: {name!r} is not a {problem} metric")
        threshold = constraint.get("threshold") if isinstance(constraint, dict) else None
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise AnalyzerError(f"{where}.threshold is missing or not a number")
        if (check := constraint.get("comparison_operator")) not in OPERATORS:
            raise AnalyzerError(f"{where}.comparison_operator {check!r} is not one of {', '.join(OPERATORS)}")
    return document


def violations(stats: dict[str, Any], constraints: dict[str, Any], problem: str) -> list[dict[str, str]]:
    metrics = stats[f"{KEYS[problem]}_metrics"]
    found = []
    for name, constraint in constraints[f"{KEYS[problem]}_constraints"].items():
        metric = metrics.get(name) or {}
        value, deviation = metric.get("value", math.nan), metric.get("standard_deviation", math.nan)
        check, threshold = constraint["comparison_operator"], constraint["threshold"]
        if not math.isnan(value) and OPERATORS[check](value, threshold):
            found.append({
                "constraint_check_type": check,
                "description": f"Metric {name} with {value} +/- {_java(deviation)} was {check} '{threshold}'",
                "metric_name": name,
            })  # fmt: skip
    return found


def _java(number: float) -> str:
    return "NaN" if math.isnan(number) else str(number)  # as the service's (JVM's) text has it
