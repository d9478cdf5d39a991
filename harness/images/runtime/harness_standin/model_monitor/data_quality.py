"""Per-feature statistics (statistics.json) and the constraints a baseline suggests (constraints.json)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

INTEGRAL = r"[+-]?\d+"
NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
TYPES = ("Integral", "Fractional", "String", "Unknown")
KLL_K, KLL_C = 2048, 0.64  # the sketch parameters AWS's statistics show
BUCKETS = 10  # "the distribution is materialized in 10 buckets. You can't change this."
# The analyzer's suggested monitoring_config: AWS's SDK defaults (analytics_input's DataQualityMonitoringConfig),
# which baselines show as "Expected match: 100.0%" (the schema page's example says 0.1 for the two thresholds).
MONITORING_CONFIG: dict[str, Any] = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 1.0,
    "domain_content_threshold": 1.0,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
    },
}


def present(series: pd.Series) -> pd.Series:
    """The non-missing values as stripped text."""
    return series[series.notna()].astype(str).str.strip()


def kinds(series: pd.Series) -> tuple[int, int, int]:
    """(present, integral, numeric) counts; an integral value is numeric too."""
    values = present(series)
    return len(values), int(values.str.fullmatch(INTEGRAL).sum()), int(values.str.fullmatch(NUMBER).sum())


def infer_type(series: pd.Series) -> str:
    """Deequ's rule: any non-number makes a String, any non-integer a Fractional; nothing present, Unknown."""
    count, integral, numeric = kinds(series)
    if count == 0:
        return "Unknown"
    return "String" if numeric < count else "Integral" if integral == count else "Fractional"


def numbers(series: pd.Series) -> np.ndarray:
    """The values that read as numbers (others are left out of numerical statistics)."""
    values = present(series)
    values = values[values.str.fullmatch(NUMBER)]
    return np.asarray(pd.to_numeric(values), dtype=float)


def statistics(frame: pd.DataFrame, types: Mapping[str, str] | None = None) -> dict[str, Any]:
    """statistics.json; `types` (a monitoring run's baseline types) wins over inference for the columns it names."""
    features = []
    for name in frame.columns:
        column = frame[name]
        inferred = (types or {}).get(name) or infer_type(column)
        common = {"num_present": int(column.notna().sum()), "num_missing": int(column.isna().sum())}
        feature: dict[str, Any] = {"name": name, "inferred_type": inferred}
        if inferred in ("Integral", "Fractional"):
            feature["numerical_statistics"] = {"common": common, **_numerical(numbers(column))}
        else:
            counts = present(column).value_counts()
            buckets = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
            feature["string_statistics"] = {
                "common": common,
                "distinct_count": len(counts),
                "distribution": {"categorical": {"buckets": [{"value": v, "count": int(c)} for v, c in buckets]}},
            }
        features.append(feature)
    return {"version": 0.0, "dataset": {"item_count": len(frame)}, "features": features}


def _numerical(values: np.ndarray) -> dict[str, Any]:
    if not len(values):
        nan = math.nan
        return {"mean": nan, "sum": 0.0, "std_dev": nan, "min": nan, "max": nan, "distribution": _kll(values)}
    return {
        "mean": float(values.mean()),
        "sum": float(values.sum()),
        "std_dev": float(values.std()),  # population deviation, as AWS's statistics show
        "min": float(values.min()),
        "max": float(values.max()),
        "distribution": _kll(values),
    }


def _kll(values: np.ndarray) -> dict[str, Any]:
    """10 equal-width buckets between min and max (bounds min + i * width, as AWS's show) and a KLL sketch."""
    buckets: list[dict[str, float]] = []
    if len(values):
        low, high = float(values.min()), float(values.max())
        if low == high:
            buckets = [{"lower_bound": low, "upper_bound": high, "count": float(len(values))}]
        else:
            width = (high - low) / BUCKETS
            edges = [low + i * width for i in range(BUCKETS)] + [high]
            counts, _ = np.histogram(values, bins=edges)  # left-closed, the last bucket closed
            buckets = [
                {"lower_bound": edges[i], "upper_bound": edges[i + 1], "count": float(counts[i])}
                for i in range(BUCKETS)
            ]
    sketch = {"parameters": {"c": KLL_C, "k": float(KLL_K)}, "data": _sketch([float(v) for v in values])}
    return {"kll": {"buckets": buckets, "sketch": sketch}}


def _sketch(values: list[float]) -> list[list[float]]:
    """A KLL sketch's levels: level h's items weigh 2**h. Up to k values it is exact (one level, in input order);
    beyond, a level past its capacity (k * c**depth) is sorted and every other item promoted."""
    levels: list[list[float]] = [[]]
    offset = 0
    for value in values:
        levels[0].append(value)
        h = 0
        while h < len(levels) and len(levels[h]) > max(2, int(KLL_K * KLL_C ** (len(levels) - 1 - h))):
            if h + 1 == len(levels):
                levels.append([])
            ordered = sorted(levels[h])
            levels[h] = [ordered.pop()] if len(ordered) % 2 else []
            levels[h + 1].extend(ordered[offset::2])
            offset ^= 1  # alternate which half goes up, so the compactions do not bias the ranks
            h += 1
    return levels


def suggest_constraints(stats: dict[str, Any], categorical_drift_method: str | None) -> dict[str, Any]:
    """constraints.json as the baseline suggests it: observed completeness, non-negativity and small domains."""
    total = stats["dataset"]["item_count"]
    features = []
    for feature in stats["features"]:
        numerical = feature.get("numerical_statistics")
        detail = numerical or feature["string_statistics"]
        suggested: dict[str, Any] = {
            "name": feature["name"],
            "inferred_type": feature["inferred_type"],
            "completeness": detail["common"]["num_present"] / total if total else 0.0,
        }
        if numerical:
            suggested["num_constraints"] = {"is_non_negative": bool(numerical["min"] >= 0)}
        elif feature["inferred_type"] == "String" and _categorical(detail):
            values = sorted(b["value"] for b in detail["distribution"]["categorical"]["buckets"])
            suggested["string_constraints"] = {"domains": values}
        features.append(suggested)
    config = {**MONITORING_CONFIG, "distribution_constraints": dict(MONITORING_CONFIG["distribution_constraints"])}
    if categorical_drift_method:
        config["distribution_constraints"]["categorical_drift_method"] = categorical_drift_method
    return {"version": 0.0, "features": features, "monitoring_config": config}


def _categorical(detail: dict[str, Any]) -> bool:
    """Deequ's categorical-range rule (AWS does not document its own): at most 120 distinct values (Deequ's
    histogram limit), of which at most 10% were seen only once."""
    buckets = detail["distribution"]["categorical"]["buckets"]
    singles = sum(1 for b in buckets if b["count"] == 1)
    return 0 < len(buckets) <= 120 and singles / len(buckets) <= 0.1
