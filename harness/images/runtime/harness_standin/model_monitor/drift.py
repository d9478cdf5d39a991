"""A monitoring run's data quality violations (constraint_violations.json) against the baseline's files.

The data_type_check wording is the service's own; the others' wordings are ours in its style (AWS documents
none of them). Distances follow the schema page: the largest absolute difference between the two cumulative
distributions (linf_simple), or under "Robust" that less the two-sample Kolmogorov-Smirnov allowance
1.8 * sqrt((n + m) / (n * m)) (Deequ's c(alpha) for alpha = 0.003), floored at 0 (linf_robust).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness_standin.model_monitor import data_quality
from harness_standin.model_monitor.contract import AnalyzerError

C_ALPHA = 1.8
_CHOICES = {
    "evaluate_constraints": ("Enabled", "Disabled"),
    "emit_metrics": ("Enabled", "Disabled"),
    "perform_comparison": ("Enabled", "Disabled"),
    "comparison_method": ("Simple", "Robust"),
    "categorical_drift_method": ("LInfinity", "ChiSquared"),
}
_NUMBERS = ("datatype_check_threshold", "domain_content_threshold", "comparison_threshold",
            "categorical_comparison_threshold")  # fmt: skip


def load_json(path: Path, what: str) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise AnalyzerError(f"{what} {path} cannot be read as JSON ({error})") from None
    if not isinstance(document, dict):
        raise AnalyzerError(f"{what} {path} is not a JSON object")
    if "version" not in document:
        raise AnalyzerError(f"{what} {path}: missing field 'version'")
    return document


def load_constraints(path: Path) -> dict[str, Any]:
    """A data quality constraints file, checked field by field as the service rejects a malformed one."""
    constraints = load_json(path, "baseline_constraints")
    features = constraints.get("features")
    if not isinstance(features, list):
        raise AnalyzerError(f"baseline_constraints {path}: missing field 'features' (a list)")
    for i, feature in enumerate(features):
        where = f"baseline_constraints {path}: features[{i}]"
        if not isinstance(feature, dict) or not isinstance(feature.get("name"), str):
            raise AnalyzerError(f"{where}: missing field 'name'")
        if feature.get("inferred_type", "Unknown") not in data_quality.TYPES:
            raise AnalyzerError(
                f"{where}.inferred_type {feature['inferred_type']!r} is not one of {data_quality.TYPES}"
            )
        if not isinstance(feature.get("completeness", 0), int | float):
            raise AnalyzerError(f"{where}.completeness is not a number")
        _check_config(feature.get("monitoringConfigOverrides") or {}, f"{where}.monitoringConfigOverrides")
    _check_config(constraints.get("monitoring_config") or {}, f"baseline_constraints {path}: monitoring_config")
    return constraints


def _check_config(config: Any, where: str) -> None:
    if not isinstance(config, dict):
        raise AnalyzerError(f"{where} is not an object")
    for key, value in {**config, **(config.get("distribution_constraints") or {})}.items():
        if key in _CHOICES and value not in _CHOICES[key]:
            raise AnalyzerError(f"{where}.{key} {value!r} is not one of {', '.join(_CHOICES[key])}")
        if key in _NUMBERS and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise AnalyzerError(f"{where}.{key} {value!r} is not a number")


def _settings(constraints: dict[str, Any], feature: dict[str, Any], drift_method: str | None) -> dict[str, Any]:
    """The defaults, then the file's monitoring_config, then the feature's overrides, then the environment's."""
    defaults = {**data_quality.MONITORING_CONFIG["distribution_constraints"]}
    del defaults["categorical_comparison_threshold"]  # documented default: the comparison_threshold in force
    layers = [{**data_quality.MONITORING_CONFIG, "distribution_constraints": defaults}]
    layers += [constraints.get("monitoring_config") or {}, feature.get("monitoringConfigOverrides") or {}]
    merged: dict[str, Any] = {}
    for config in layers:
        merged.update({k: v for k, v in config.items() if k != "distribution_constraints"})
        merged.update(config.get("distribution_constraints") or {})
    merged.setdefault("categorical_comparison_threshold", merged["comparison_threshold"])
    if drift_method:
        merged["categorical_drift_method"] = drift_method
    return merged


def violations(
    frame: pd.DataFrame, stats: dict[str, Any], constraints: dict[str, Any], baseline: dict[str, Any] | None,
    drift_method: str | None,
) -> list[dict[str, str]]:  # fmt: skip
    if (constraints.get("monitoring_config") or {}).get("evaluate_constraints") == "Disabled":
        return []
    current = {f["name"]: f for f in stats["features"]}
    base_stats = {f.get("name"): f for f in (baseline or {}).get("features") or []}
    names = [f["name"] for f in constraints["features"]]
    counts = (f"Number of columns in current dataset: {len(frame.columns)}, "
              f"Number of columns in baseline constraints: {len(names)}")  # fmt: skip
    found = [_violation(n, "missing_column_check", f"There are missing columns in current dataset. {counts}")
             for n in names if n not in frame.columns]  # fmt: skip
    for feature in constraints["features"]:
        if feature["name"] in frame.columns:
            settings = _settings(constraints, feature, drift_method)
            column = frame[feature["name"]]
            found += _checks(feature, column, current[feature["name"]], base_stats.get(feature["name"]), settings)
    return found + [_violation(n, "extra_column_check", f"There are extra columns in current dataset. {counts}")
                    for n in frame.columns if n not in names]  # fmt: skip


def _violation(name: str, check: str, description: str) -> dict[str, str]:
    return {"feature_name": name, "constraint_check_type": check, "description": description}


def _checks(
    feature: dict[str, Any], column: pd.Series, current: dict[str, Any], baseline: dict[str, Any] | None,
    settings: dict[str, Any],
) -> list[dict[str, str]]:  # fmt: skip
    name, kind = feature["name"], feature.get("inferred_type")
    count, integral, numeric = data_quality.kinds(column)
    found = []
    if count and kind in ("Integral", "Fractional"):
        share, expected = (integral if kind == "Integral" else numeric) / count, settings["datatype_check_threshold"]
        if share < expected:
            text = f"Expected data type: {kind}, Expected match: {expected * 100}%. Observed: Only {share * 100}%"
            found.append(
                _violation(
                    name, "data_type_check", f"Data type match requirement is not met. {text} of data is {kind}."
                )
            )
    if "completeness" in feature and len(column) and count / len(column) < feature["completeness"]:
        text = f"Expected completeness: {feature['completeness'] * 100}%. Observed: Only {count / len(column) * 100}%"
        found.append(
            _violation(
                name, "completeness_check", f"Data completeness requirement is not met. {text} of data is complete."
            )
        )
    domains = (feature.get("string_constraints") or {}).get("domains")
    if domains and count:
        share = float(data_quality.present(column).isin([str(v) for v in domains]).mean())
        if share < settings["domain_content_threshold"]:
            text = f"Expected match: {settings['domain_content_threshold'] * 100}%. Observed: Only {share * 100}%"
            found.append(
                _violation(
                    name,
                    "categorical_values_check",
                    f"Domain content requirement is not met. {text} of data is in the baseline's domain.",
                )
            )
    if baseline and count and settings["perform_comparison"] == "Enabled":
        found += _drift(name, column, current, baseline, settings)
    return found


def _drift(
    name: str, column: pd.Series, current: dict[str, Any], baseline: dict[str, Any], settings: dict[str, Any]
) -> list[dict[str, str]]:
    robust = settings["comparison_method"] == "Robust"
    if "numerical_statistics" in baseline and "numerical_statistics" in current:
        values = data_quality.numbers(column)
        if not len(values):
            return []
        distance, n = _numerical_distance(baseline["numerical_statistics"], current["numerical_statistics"], values)
        threshold, m = settings["comparison_threshold"], float(len(values))
    elif "string_statistics" in baseline and "string_statistics" in current:
        buckets = baseline["string_statistics"]["distribution"]["categorical"]["buckets"]
        expected = {str(b["value"]): float(b["count"]) for b in buckets}
        observed = {str(k): float(v) for k, v in data_quality.present(column).value_counts().items()}
        threshold, n, m = settings["categorical_comparison_threshold"], sum(expected.values()), sum(observed.values())
        if settings["categorical_drift_method"] == "ChiSquared":
            p_value = chi_square_p_value(expected, observed)
            if math.isnan(p_value) or p_value >= threshold:
                return []
            return [
                _violation(
                    name, "baseline_drift_check", f"Baseline drift p-value: {p_value} is below threshold: {threshold}"
                )
            ]
        distance = (
            max(abs(expected.get(k, 0.0) / n - observed.get(k, 0.0) / m) for k in {*expected, *observed}) if n else 0.0
        )
    else:
        return []
    if robust and n and m:
        distance = max(0.0, distance - C_ALPHA * math.sqrt((n + m) / (n * m)))
    if distance <= threshold:
        return []
    return [
        _violation(name, "baseline_drift_check", f"Baseline drift distance: {distance} exceeds threshold: {threshold}")
    ]


def _numerical_distance(baseline: dict[str, Any], current: dict[str, Any], values: np.ndarray) -> tuple[float, float]:
    """max |F_baseline(x) - F_current(x)| over the union of both statistics' bucket edges: the current CDF from its
    values, the baseline's from its KLL sketch (items of level h weigh 2**h), else linearly within its buckets."""
    kll = baseline["distribution"]["kll"]
    edges = sorted({b[k] for s in (kll, current["distribution"]["kll"]) for b in s["buckets"]
                    for k in ("lower_bound", "upper_bound")})  # fmt: skip
    ordered = np.sort(values)
    current_cdf = np.searchsorted(ordered, edges, side="right") / len(ordered)
    levels = (kll.get("sketch") or {}).get("data") or []
    items = np.asarray([v for level in levels for v in level], dtype=float)
    if len(items):
        weights = np.asarray([2.0**h for h, level in enumerate(levels) for _ in level])
        order = np.argsort(items, kind="stable")
        cumulative = np.concatenate([[0.0], np.cumsum(weights[order])])
        total = float(cumulative[-1])
        baseline_cdf = cumulative[np.searchsorted(items[order], edges, side="right")] / total
    else:
        buckets = kll["buckets"]
        if not buckets:
            return 0.0, 0.0
        counts = np.cumsum([float(b["count"]) for b in buckets])
        total = float(counts[-1])
        points = [buckets[0]["lower_bound"]] + [b["upper_bound"] for b in buckets]
        baseline_cdf = np.interp(edges, points, np.concatenate([[0.0], counts / total]))
    return float(np.max(np.abs(baseline_cdf - current_cdf))), total


def chi_square_p_value(expected: dict[str, float], observed: dict[str, float]) -> float:
    """Deequ's categorical chi-square: the baseline's shares scaled to the current count of baseline categories,
    against that count; NaN under two categories. (Deequ also merges small categories first; this does not.)"""
    total = sum(expected.values())
    sample = sum(v for k, v in observed.items() if k in expected)
    if len(expected) < 2 or not total or not sample:
        return math.nan
    scaled = {k: v / total * sample for k, v in expected.items()}
    statistic = sum((observed.get(k, 0.0) - e) ** 2 / e for k, e in scaled.items() if e > 0)
    return _chi2_sf(statistic, len(expected) - 1)


def _chi2_sf(x: float, df: int) -> float:
    """P(X >= x) for chi-square(df), by the Wilson-Hilferty normal approximation (no SciPy in the image)."""
    if x <= 0:
        return 1.0
    z = ((x / df) ** (1 / 3) - (1 - 2 / (9 * df))) / math.sqrt(2 / (9 * df))
    return 0.5 * math.erfc(z / math.sqrt(2))
