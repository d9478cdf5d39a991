"""The Model Monitor analyzer stand-in: its files against AWS's documented schemas and examples, its checks, its
captured-data reading and its failures, run as the processing job runs it (`python3 -m harness_standin.model_monitor`
with the contract's environment)."""

from __future__ import annotations

import base64
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "harness" / "images" / "runtime"))
from harness_standin.model_monitor import data_quality, drift

RUNTIME = Path(__file__).resolve().parents[2] / "harness" / "images" / "runtime"

CSV = json.dumps({"csv": {"header": True, "output_columns_position": "START"}})
CAPTURE = json.dumps({"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}})


def run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(RUNTIME),
        "HARNESS_FAILURE_FILE": str(tmp_path / "failure"),
        "HARNESS_MESSAGE_FILE": str(tmp_path / "message"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "harness_standin.model_monitor"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def read(path: Path) -> Any:
    return json.loads(path.read_text())


def write_csv(path: Path, frame: pd.DataFrame, header: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, header=header)
    return path


def training(rows: int = 1000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "label": rng.integers(0, 2, rows),
            "age": rng.integers(18, 80, rows),
            "income": rng.normal(50, 10, rows).round(3),
            "city": rng.choice(["paris", "rome", "oslo"], rows),
        }
    )


def baseline(tmp_path: Path, frame: pd.DataFrame) -> Path:
    write_csv(tmp_path / "train" / "train.csv", frame)
    out = tmp_path / "baseline"
    result = run(tmp_path, dataset_format=CSV, dataset_source=str(tmp_path / "train"), output_path=str(out))
    assert result.returncode == 0, result.stderr
    return out


def monitor(tmp_path: Path, base: Path, source: Path, fmt: str = CSV, **env: str) -> subprocess.CompletedProcess[str]:
    return run(
        tmp_path,
        dataset_format=fmt,
        dataset_source=str(source),
        output_path=str(tmp_path / "report"),
        baseline_constraints=str(base / "constraints.json"),
        baseline_statistics=str(base / "statistics.json"),
        **env,
    )


def checks(report: Path) -> set[tuple[str, str]]:
    return {
        (v["feature_name"], v["constraint_check_type"])
        for v in read(report / "constraint_violations.json")["violations"]
    }


def test_baseline_statistics_follow_the_documented_schema(tmp_path: Path) -> None:
    frame = training(50)
    frame.loc[3, "income"] = np.nan
    out = baseline(tmp_path, frame)
    stats = read(out / "statistics.json")
    assert set(stats) == {"version", "dataset", "features"} and stats["version"] == 0.0
    assert stats["dataset"] == {"item_count": 50}
    features = {f["name"]: f for f in stats["features"]}
    assert list(features) == ["label", "age", "income", "city"]
    income = features["income"]
    assert set(income) == {"name", "inferred_type", "numerical_statistics"} and income["inferred_type"] == "Fractional"
    numerical = income["numerical_statistics"]
    assert set(numerical) == {"common", "mean", "sum", "std_dev", "min", "max", "distribution"}
    assert numerical["common"] == {"num_present": 49, "num_missing": 1}
    values = frame["income"].dropna().to_numpy()
    assert numerical["mean"] == pytest.approx(values.mean()) and numerical["sum"] == pytest.approx(values.sum())
    assert numerical["std_dev"] == pytest.approx(values.std())  # population deviation, as AWS's statistics
    assert (numerical["min"], numerical["max"]) == (values.min(), values.max())
    kll = numerical["distribution"]["kll"]
    assert set(numerical["distribution"]) == {"kll"} and set(kll) == {"buckets", "sketch"}
    width = (values.max() - values.min()) / 10
    assert [b["lower_bound"] for b in kll["buckets"]] == [values.min() + i * width for i in range(10)]
    assert kll["buckets"][-1]["upper_bound"] == values.max()
    assert all(set(b) == {"lower_bound", "upper_bound", "count"} for b in kll["buckets"])
    assert sum(b["count"] for b in kll["buckets"]) == 49
    assert kll["sketch"]["parameters"] == {"c": 0.64, "k": 2048.0}
    assert kll["sketch"]["data"] == [list(values)]  # exact below k items: one level, in input order
    assert features["label"]["inferred_type"] == "Integral" and features["age"]["numerical_statistics"]["min"] >= 18
    city = features["city"]
    assert set(city) == {"name", "inferred_type", "string_statistics"} and city["inferred_type"] == "String"
    strings = city["string_statistics"]
    assert set(strings) == {"common", "distinct_count", "distribution"} and strings["distinct_count"] == 3
    counts = frame["city"].value_counts()
    buckets = strings["distribution"]["categorical"]["buckets"]
    assert buckets == [{"value": v, "count": int(c)} for v, c in sorted(counts.items(), key=lambda i: (-i[1], i[0]))]


def test_suggested_constraints_follow_the_documented_schema(tmp_path: Path) -> None:
    frame = training(50)
    frame["delta"] = np.arange(50) - 10
    frame["id"] = [f"user-{i}" for i in range(50)]
    frame.loc[:4, "income"] = np.nan
    constraints = read(baseline(tmp_path, frame) / "constraints.json")
    assert set(constraints) == {"version", "features", "monitoring_config"} and constraints["version"] == 0.0
    features = {f["name"]: f for f in constraints["features"]}
    assert features["income"] == {
        "name": "income",
        "inferred_type": "Fractional",
        "completeness": 0.9,
        "num_constraints": {"is_non_negative": True},
    }
    assert features["delta"]["num_constraints"] == {"is_non_negative": False}
    assert features["city"]["string_constraints"] == {"domains": ["oslo", "paris", "rome"]}
    assert set(features["id"]) == {"name", "inferred_type", "completeness"}  # every value unique: no domain
    assert constraints["monitoring_config"] == {
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


@pytest.mark.parametrize(
    ("values", "inferred"),
    [
        (["1", "2", "-3"], "Integral"),
        (["1", "2.5"], "Fractional"),
        (["1e3", " 7 "], "Fractional"),
        (["1", "x"], "String"),
        (["true"], "String"),
        ([None, None], "Unknown"),
        ([" 7 ", None], "Integral"),
    ],
)
def test_inferred_types(values: list[str | None], inferred: str) -> None:
    assert data_quality.infer_type(pd.Series(values, dtype=object)) == inferred


def test_a_large_column_is_sketched_in_weighted_levels() -> None:
    values = np.arange(10_000, dtype=float)
    levels = data_quality._kll(values)["kll"]["sketch"]["data"]
    assert len(levels) > 1 and all(len(level) <= 2048 for level in levels)
    assert sum(len(level) * 2**h for h, level in enumerate(levels)) == pytest.approx(10_000, rel=0.01)


def test_header_less_csv_columns_are_named_as_spark_names_them(tmp_path: Path) -> None:
    write_csv(tmp_path / "in" / "a.csv", pd.DataFrame({"x": [1, 2], "y": ["a", "b"]}), header=False)
    result = run(
        tmp_path,
        dataset_format=json.dumps({"csv": {"header": False}}),
        dataset_source=str(tmp_path / "in"),
        output_path=str(tmp_path / "out"),
    )
    assert result.returncode == 0, result.stderr
    assert [f["name"] for f in read(tmp_path / "out" / "statistics.json")["features"]] == ["_c0", "_c1"]


def test_json_lines_are_flattened(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text('{"b": 1, "a": {"y": "u", "x": 2.5}}\n\n{"b": 2, "a": {"x": 1}}\n')
    result = run(
        tmp_path,
        dataset_format=json.dumps({"json": {"lines": True}}),
        dataset_source=str(tmp_path / "in"),
        output_path=str(tmp_path / "out"),
    )
    assert result.returncode == 0, result.stderr
    features = {f["name"]: f for f in read(tmp_path / "out" / "statistics.json")["features"]}
    assert [(n, f["inferred_type"]) for n, f in features.items()] == [
        ("a.x", "Fractional"),
        ("a.y", "String"),
        ("b", "Integral"),
    ]
    assert features["a.y"]["string_statistics"]["common"] == {"num_present": 1, "num_missing": 1}


def test_a_clean_dataset_has_no_violations_against_its_own_baseline(tmp_path: Path) -> None:
    frame = training()
    base = baseline(tmp_path, frame)
    result = monitor(tmp_path, base, tmp_path / "train", publish_cloudwatch_metrics="Enabled")
    assert result.returncode == 0, result.stderr
    assert read(tmp_path / "report" / "constraint_violations.json") == {"violations": []}
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == [
        "constraint_violations.json",
        "constraints.json",
        "statistics.json",
    ]
    assert read(tmp_path / "report" / "statistics.json") == read(base / "statistics.json")
    assert (tmp_path / "message").read_text() == "Completed: Job completed successfully with no violations."
    assert "CloudWatch metrics are not published locally" in result.stdout


def test_a_drifted_dataset_gives_each_violation_kind(tmp_path: Path) -> None:
    base = baseline(tmp_path, training())
    current = training(seed=1).drop(columns="age").assign(extra=1)
    current["income"] = (current["income"] + 30).astype(object)  # shifted mean
    current.loc[:99, "income"] = None  # missing values
    current.loc[100, "income"] = "n/a"  # a string in a numeric column
    current.loc[:199, "city"] = "madrid"  # a category the baseline never saw
    write_csv(tmp_path / "current" / "part.csv", current)
    result = monitor(tmp_path, base, tmp_path / "current")
    assert result.returncode == 0, result.stderr
    report = tmp_path / "report"
    assert checks(report) == {
        ("age", "missing_column_check"),
        ("extra", "extra_column_check"),
        ("income", "data_type_check"),
        ("income", "completeness_check"),
        ("income", "baseline_drift_check"),
        ("city", "categorical_values_check"),
        ("city", "baseline_drift_check"),
    }
    descriptions = {
        (v["feature_name"], v["constraint_check_type"]): v["description"]
        for v in read(report / "constraint_violations.json")["violations"]
    }
    assert descriptions[("income", "data_type_check")] == (
        "Data type match requirement is not met. Expected data type: Fractional, Expected match: 100.0%. "
        f"Observed: Only {899 / 900 * 100}% of data is Fractional."
    )
    assert descriptions[("income", "completeness_check")].endswith("Observed: Only 90.0% of data is complete.")
    assert descriptions[("age", "missing_column_check")] == (
        "There are missing columns in current dataset. Number of columns in current dataset: 4, "
        "Number of columns in baseline constraints: 4"
    )
    assert descriptions[("income", "baseline_drift_check")].startswith("Baseline drift distance: ")
    assert (
        tmp_path / "message"
    ).read_text() == "CompletedWithViolations: Job completed successfully with 7 violations."
    assert (report / "constraints.json").exists()  # what the current data suggests, as AWS's report folder holds


def test_disabled_evaluation_and_per_feature_overrides(tmp_path: Path) -> None:
    base = baseline(tmp_path, training())
    current = training(seed=1)
    current["income"] += 30
    write_csv(tmp_path / "current" / "part.csv", current)
    constraints = read(base / "constraints.json")
    constraints["features"][2]["monitoringConfigOverrides"] = {
        "distribution_constraints": {"perform_comparison": "Disabled"}
    }
    (base / "constraints.json").write_text(json.dumps(constraints))
    assert monitor(tmp_path, base, tmp_path / "current").returncode == 0
    assert checks(tmp_path / "report") == set()
    constraints["features"][2]["monitoringConfigOverrides"] = {}
    (base / "constraints.json").write_text(json.dumps(constraints))
    assert monitor(tmp_path, base, tmp_path / "current").returncode == 0
    assert checks(tmp_path / "report") == {("income", "baseline_drift_check")}
    constraints["monitoring_config"]["evaluate_constraints"] = "Disabled"
    (base / "constraints.json").write_text(json.dumps(constraints))
    assert monitor(tmp_path, base, tmp_path / "current").returncode == 0
    assert checks(tmp_path / "report") == set()


def test_robust_comparison_allows_for_few_samples(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    base = baseline(tmp_path, pd.DataFrame({"x": rng.normal(0, 1, 60).round(4)}))
    write_csv(tmp_path / "current" / "c.csv", pd.DataFrame({"x": rng.normal(0.6, 1, 60).round(4)}))
    assert monitor(tmp_path, base, tmp_path / "current").returncode == 0
    assert checks(tmp_path / "report") == set()  # Robust (the default): 1.8 * sqrt(120 / 3600) = 0.33 allowed
    constraints = read(base / "constraints.json")
    constraints["monitoring_config"]["distribution_constraints"]["comparison_method"] = "Simple"
    (base / "constraints.json").write_text(json.dumps(constraints))
    assert monitor(tmp_path, base, tmp_path / "current").returncode == 0
    assert checks(tmp_path / "report") == {("x", "baseline_drift_check")}


def test_categorical_drift_by_chi_squared(tmp_path: Path) -> None:
    assert drift.chi_square_p_value({"a": 50, "b": 50}, {"a": 50, "b": 50}) == pytest.approx(1.0)
    assert drift.chi_square_p_value({"a": 50, "b": 50}, {"a": 90, "b": 10}) < 1e-6
    assert drift.chi_square_p_value({"a": 50, "b": 50}, {"a": 55, "b": 45}) == pytest.approx(0.3173, abs=0.02)
    assert math.isnan(drift.chi_square_p_value({"a": 5}, {"a": 5}))
    rng = np.random.default_rng(4)
    base = baseline(tmp_path, pd.DataFrame({"c": rng.choice(["a", "b"], 400)}))
    write_csv(tmp_path / "current" / "c.csv", pd.DataFrame({"c": rng.choice(["a", "b"], 400, p=[0.65, 0.35])}))
    assert monitor(tmp_path, base, tmp_path / "current").returncode == 0
    assert checks(tmp_path / "report") == set()  # L-infinity: 0.15 less the robust allowance 0.13 is under 0.1
    assert monitor(tmp_path, base, tmp_path / "current", categorical_drift_method="ChiSquared").returncode == 0
    violation = read(tmp_path / "report" / "constraint_violations.json")["violations"]
    assert [(v["feature_name"], v["constraint_check_type"]) for v in violation] == [("c", "baseline_drift_check")]
    assert violation[0]["description"].startswith("Baseline drift p-value: ")


def capture_record(
    when: str, input_data: str, output_data: str, encoding: str = "CSV", content: str = "text/csv", **extra: Any
) -> str:
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": content,
                    "mode": "INPUT",
                    "data": input_data,
                    "encoding": encoding,
                },
                "endpointOutput": {
                    "observedContentType": content,
                    "mode": "OUTPUT",
                    "data": output_data,
                    "encoding": encoding,
                },
            },
            "eventMetadata": {"eventId": "e-" + when, "inferenceTime": when, **extra},
            "eventVersion": "0",
        }
    )


def write_capture(root: Path, hour: str, *records: str) -> None:
    folder = root / "my-endpoint" / "AllTraffic" / hour
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{len(list(folder.iterdir()))}-capture.jsonl").write_text("\n".join(records) + "\n")


def test_captured_csv_in_a_window_is_named_after_the_baseline(tmp_path: Path) -> None:
    base = baseline(tmp_path, training(200).drop(columns="city"))
    data = tmp_path / "endpointdata"
    write_capture(data, "2026/12/01/09", capture_record("2026-12-01T09:59:59Z", "30,52.5", "0.9"))
    write_capture(
        data,
        "2026/12/01/10",
        capture_record("2026-12-01T10:00:00Z", "31,49.5", "0.8"),
        capture_record("2026-12-01T10:30:00Z", "40,51.0", "0.1"),
        capture_record("2026-12-01T10:40:00Z", "41,50.0", "0.2", invocationSource="ShadowExperiment"),
    )
    write_capture(data, "2026/12/01/11", capture_record("2026-12-01T11:00:00Z", "50,50.0", "0.3"))
    result = monitor(
        tmp_path, base, data, fmt=CAPTURE, start_time="2026-12-01T10:00:00Z", end_time="2026-12-01T11:00:00Z"
    )
    assert result.returncode == 0, result.stderr
    stats = read(tmp_path / "report" / "statistics.json")
    assert stats["dataset"] == {"item_count": 2}
    assert [f["name"] for f in stats["features"]] == ["label", "age", "income"]  # endpointOutput first
    assert stats["features"][1]["numerical_statistics"]["sum"] == 71.0
    violations = read(tmp_path / "report" / "constraint_violations.json")["violations"]
    assert {
        "feature_name": "label",
        "constraint_check_type": "data_type_check",
        "description": (
            "Data type match requirement is not met. Expected data type: Integral, Expected match: 100.0%. "
            "Observed: Only 0.0% of data is Integral."
        ),
    } in violations


def test_captured_json_and_base64_records(tmp_path: Path) -> None:
    data = tmp_path / "endpointdata"
    encoded = base64.b64encode(b"7,x").decode()
    write_capture(
        data,
        "2026/12/01/10",
        capture_record(
            "2026-12-01T10:00:00Z",
            json.dumps({"b": 2, "a": {"x": 1}}),
            json.dumps({"score": 0.5}),
            encoding="JSON",
            content="application/json",
        ),
        capture_record("2026-12-01T10:01:00Z", encoded, base64.b64encode(b"0.25").decode(), encoding="BASE64"),
    )
    result = run(tmp_path, dataset_format=CAPTURE, dataset_source=str(data), output_path=str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    features = {f["name"]: f for f in read(tmp_path / "out" / "statistics.json")["features"]}
    assert list(features) == ["score", "a.x", "b", "_c0", "_c1", "_c2"]
    assert features["_c0"]["numerical_statistics"]["sum"] == 0.25 and features["_c1"]["inferred_type"] == "Integral"
    assert features["_c2"]["string_statistics"]["distribution"]["categorical"]["buckets"] == [
        {"value": "x", "count": 1}
    ]


def test_an_empty_capture_window_is_an_empty_report(tmp_path: Path) -> None:
    base = baseline(tmp_path, training(100))
    data = tmp_path / "endpointdata"
    write_capture(data, "2026/12/01/08", capture_record("2026-12-01T08:10:00Z", "1,2,c", "0"))
    result = monitor(
        tmp_path, base, data, fmt=CAPTURE, start_time="2026-12-01T10:00:00Z", end_time="2026-12-01T11:00:00Z"
    )
    assert result.returncode == 0, result.stderr
    assert read(tmp_path / "report" / "statistics.json") == {
        "version": 0.0,
        "dataset": {"item_count": 0},
        "features": [],
    }
    assert read(tmp_path / "report" / "constraint_violations.json") == {"violations": []}
    assert "had no records" in result.stdout


def test_record_preprocessor_and_post_processor_scripts(tmp_path: Path) -> None:
    scripts = tmp_path / "code"
    scripts.mkdir()
    (scripts / "pre.py").write_text(
        "def preprocess_handler(inference_record, logger):\n"
        "    logger.info('record %s', inference_record.event_metadata.event_id)\n"
        "    values = inference_record.endpoint_input.data.split(',')\n"
        "    if values[0] == 'skip':\n"
        "        return []\n"
        "    assert inference_record.endpoint_output.observed_content_type == 'text/csv'\n"
        "    return {'feature_a': values[0], 'prediction': inference_record.endpoint_output.data}\n"
    )
    (scripts / "post.py").write_text(
        f"def postprocess_handler():\n    open({str(tmp_path / 'post-ran')!r}, 'w').close()\n"
    )
    data = tmp_path / "endpointdata"
    write_capture(
        data,
        "2026/12/01/10",
        capture_record("2026-12-01T10:00:00Z", "3,9", "0.5"),
        capture_record("2026-12-01T10:01:00Z", "skip,1", "0.1"),
    )
    result = run(
        tmp_path,
        dataset_format=CAPTURE,
        dataset_source=str(data),
        output_path=str(tmp_path / "out"),
        record_preprocessor_script=str(scripts / "pre.py"),
        post_analytics_processor_script=str(scripts / "post.py"),
    )
    assert result.returncode == 0, result.stderr
    stats = read(tmp_path / "out" / "statistics.json")
    assert stats["dataset"] == {"item_count": 1}
    assert [f["name"] for f in stats["features"]] == ["feature_a", "prediction"]
    assert "record e-2026-12-01T10:00:00Z" in result.stdout and (tmp_path / "post-ran").exists()


def quality(
    tmp_path: Path, frame: pd.DataFrame, problem: str, constraints: dict[str, Any] | None = None, **env: str
) -> dict[str, Any]:
    write_csv(tmp_path / "mq" / "data.csv", frame)
    extra = {}
    if constraints is not None:
        (tmp_path / "mq-constraints.json").write_text(json.dumps(constraints))
        extra["baseline_constraints"] = str(tmp_path / "mq-constraints.json")
    result = run(
        tmp_path,
        dataset_format=CSV,
        dataset_source=str(tmp_path / "mq"),
        output_path=str(tmp_path / "mq-out"),
        analysis_type="MODEL_QUALITY",
        problem_type=problem,
        ground_truth_attribute="label",
        **extra,
        **env,
    )
    assert result.returncode == 0, result.stderr
    return {p.name: read(p) for p in (tmp_path / "mq-out").iterdir()}


def test_regression_metrics_and_constraints(tmp_path: Path) -> None:
    out = quality(
        tmp_path, pd.DataFrame({"label": [1, 2, 3, 4], "pred": [1, 2, 4, 2]}), "Regression", inference_attribute="pred"
    )
    nan = "NaN"  # under 200 rows, as AWS's example shows
    assert out["statistics.json"] == {
        "version": 0.0,
        "dataset": {"item_count": 4},
        "regression_metrics": {
            "mae": {"value": 0.75, "standard_deviation": nan},
            "mse": {"value": 1.25, "standard_deviation": nan},
            "rmse": {"value": math.sqrt(1.25), "standard_deviation": nan},
            "r2": {"value": 0.0, "standard_deviation": nan},
        },
    }
    assert out["constraints.json"] == {
        "version": 0.0,
        "regression_constraints": {
            "mae": {"threshold": 0.75, "comparison_operator": "GreaterThanThreshold"},
            "mse": {"threshold": 1.25, "comparison_operator": "GreaterThanThreshold"},
            "rmse": {"threshold": math.sqrt(1.25), "comparison_operator": "GreaterThanThreshold"},
            "r2": {"threshold": 0.0, "comparison_operator": "LessThanThreshold"},
        },
    }


def test_binary_metrics_reproduce_aws_example(tmp_path: Path) -> None:
    # AWS's example: confusion matrix {"0": {"0": 1, "1": 2}, "1": {"0": 0, "1": 1}}
    frame = pd.DataFrame({"label": [0, 0, 0, 1], "pred": [0, 1, 1, 1], "prob": [0.2, 0.6, 0.7, 0.9]})
    out = quality(tmp_path, frame, "BinaryClassification", inference_attribute="pred", probability_attribute="prob")
    metrics = out["statistics.json"]["binary_classification_metrics"]
    assert list(metrics) == [
        "confusion_matrix",
        "recall",
        "precision",
        "accuracy",
        "recall_best_constant_classifier",
        "precision_best_constant_classifier",
        "accuracy_best_constant_classifier",
        "true_positive_rate",
        "true_negative_rate",
        "false_positive_rate",
        "false_negative_rate",
        "receiver_operating_characteristic_curve",
        "precision_recall_curve",
        "auc",
        "f0_5",
        "f1",
        "f2",
        "f0_5_best_constant_classifier",
        "f1_best_constant_classifier",
        "f2_best_constant_classifier",
    ]
    assert metrics["confusion_matrix"] == {"0": {"0": 1, "1": 2}, "1": {"0": 0, "1": 1}}
    expected = {
        "recall": 1.0,
        "precision": 0.3333333333333333,
        "accuracy": 0.5,
        "recall_best_constant_classifier": 1.0,
        "precision_best_constant_classifier": 0.25,
        "accuracy_best_constant_classifier": 0.25,
        "true_positive_rate": 1.0,
        "true_negative_rate": 0.33333333333333337,
        "false_positive_rate": 0.6666666666666666,
        "false_negative_rate": 0.0,
        "auc": 1.0,
        "f0_5": 0.3846153846153846,
        "f1": 0.5,
        "f2": 0.7142857142857143,
        "f0_5_best_constant_classifier": 0.29411764705882354,
        "f1_best_constant_classifier": 0.4,
        "f2_best_constant_classifier": 0.625,
    }
    assert {k: metrics[k]["value"] for k in expected} == pytest.approx(expected, rel=1e-12)
    assert metrics["true_negative_rate"]["value"] == 0.33333333333333337  # 1 - FPR, as AWS computes it
    assert metrics["receiver_operating_characteristic_curve"] == {
        "false_positive_rates": [0.0, 0.0, 1 / 3, 2 / 3, 1.0],
        "true_positive_rates": [0.0, 1.0, 1.0, 1.0, 1.0],
    }
    assert metrics["precision_recall_curve"] == {
        "precisions": [1.0, 1.0, 0.5, 1 / 3, 0.25],
        "recalls": [0.0, 1.0, 1.0, 1.0, 1.0],
    }
    assert set(out["constraints.json"]["binary_classification_constraints"]) == {
        "recall",
        "precision",
        "accuracy",
        "true_positive_rate",
        "true_negative_rate",
        "false_positive_rate",
        "false_negative_rate",
        "auc",
        "f0_5",
        "f1",
        "f2",
    }


def test_binary_labels_from_probabilities_and_a_monitoring_violation(tmp_path: Path) -> None:
    frame = pd.DataFrame({"label": [1, 1, 0, 0], "prob": [0.9, 0.4, 0.6, 0.1]})
    constraints = {
        "version": 0.0,
        "binary_classification_constraints": {
            "f1": {"threshold": 0.9, "comparison_operator": "LessThanThreshold"},
            "accuracy": {"threshold": 0.4, "comparison_operator": "LessThanThreshold"},
            "false_positive_rate": {"threshold": 0.2, "comparison_operator": "GreaterThanThreshold"},
        },
    }
    out = quality(
        tmp_path,
        frame,
        "BinaryClassification",
        constraints,
        probability_attribute="prob",
        probability_threshold_attribute="0.5",
    )
    assert sorted(out) == ["constraint_violations.json", "constraints.json", "statistics.json"]
    assert out["statistics.json"]["binary_classification_metrics"]["confusion_matrix"] == {
        "0": {"0": 1, "1": 1},
        "1": {"0": 1, "1": 1},
    }
    assert out["constraint_violations.json"] == {
        "violations": [
            {
                "constraint_check_type": "LessThanThreshold",
                "description": "Metric f1 with 0.5 +/- NaN was LessThanThreshold '0.9'",
                "metric_name": "f1",
            },
            {
                "constraint_check_type": "GreaterThanThreshold",
                "description": "Metric false_positive_rate with 0.5 +/- NaN was GreaterThanThreshold '0.2'",
                "metric_name": "false_positive_rate",
            },
        ]
    }


def test_multiclass_metrics_reproduce_aws_example(tmp_path: Path) -> None:
    cells = [(0, 0, 1180), (0, 1, 510), (1, 0, 268), (1, 1, 138)]  # AWS's example confusion matrix
    frame = pd.DataFrame([(a, p) for a, p, n in cells for _ in range(n)], columns=["label", "pred"])
    out = quality(tmp_path, frame, "MulticlassClassification", inference_attribute="pred")
    metrics = out["statistics.json"]["multiclass_classification_metrics"]
    assert metrics["confusion_matrix"] == {"0": {"0": 1180, "1": 510}, "1": {"0": 268, "1": 138}}
    expected = {
        "accuracy": 0.6288167938931297,
        "weighted_recall": 0.6288167938931297,
        "weighted_precision": 0.6983172269629505,
        "weighted_f0_5": 0.6803947317178771,
        "weighted_f1": 0.6571162346664904,
        "weighted_f2": 0.6384024354394601,
        "accuracy_best_constant_classifier": 0.19370229007633588,
        "weighted_recall_best_constant_classifier": 0.19370229007633588,
        "weighted_precision_best_constant_classifier": 0.03752057718081697,
        "weighted_f0_5_best_constant_classifier": 0.04473443104152011,
        "weighted_f1_best_constant_classifier": 0.06286421244683643,
        "weighted_f2_best_constant_classifier": 0.10570313141262414,
    }
    assert list(metrics)[1:] == list(expected)
    assert {k: metrics[k]["value"] for k in expected} == pytest.approx(expected, rel=1e-12)
    deviation = metrics["accuracy"]["standard_deviation"]  # 2096 rows: 5 samples of 80%
    assert isinstance(deviation, float) and 0 < deviation < 0.02


def test_multiclass_metrics_of_three_labels(tmp_path: Path) -> None:
    frame = pd.DataFrame({"label": ["a", "a", "b", "c"], "pred": ["a", "b", "b", "a"]})
    out = quality(tmp_path, frame, "MulticlassClassification", inference_attribute="pred")
    metrics = {
        k: v["value"]
        for k, v in out["statistics.json"]["multiclass_classification_metrics"].items()
        if k != "confusion_matrix"
    }
    # per label (precision, recall, weight): a (0.5, 0.5, 0.5), b (0.5, 1, 0.25), c (0, 0, 0.25)
    assert metrics["accuracy"] == 0.5 and metrics["weighted_recall"] == 0.5
    assert metrics["weighted_precision"] == pytest.approx(0.375)
    assert metrics["weighted_f1"] == pytest.approx(0.5 * 0.5 + 0.25 * (2 / 3))
    assert metrics["accuracy_best_constant_classifier"] == 0.25  # the rarest label (b, c tie: b)
    assert set(out["constraints.json"]["multiclass_classification_constraints"]) == {
        "accuracy",
        "weighted_recall",
        "weighted_precision",
        "weighted_f0_5",
        "weighted_f1",
        "weighted_f2",
    }


def data_file(tmp_path: Path, name: str, text: str, fmt: str) -> dict[str, str]:
    (tmp_path / "in" / name).write_text(text)
    return {"dataset_format": fmt}


def constraints_file(tmp_path: Path, text: str) -> dict[str, str]:
    write_csv(tmp_path / "in" / "d.csv", pd.DataFrame({"x": [1, 2]}))
    (tmp_path / "c.json").write_text(text)
    return {"dataset_format": CSV, "baseline_constraints": str(tmp_path / "c.json")}


BAD_COMPARISON = json.dumps(
    {
        "version": 0.0,
        "features": [{"name": "x"}],
        "monitoring_config": {"distribution_constraints": {"comparison_method": "Fuzzy"}},
    }
)
BAD_OPERATOR = json.dumps(
    {"version": 0.0, "regression_constraints": {"mae": {"threshold": 1, "comparison_operator": "Bigger"}}}
)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda t: {"dataset_format": "{csv"}, "dataset_format is not JSON"),
        (
            lambda t: {"dataset_format": '{"xml": {}}'},
            "dataset_format 'xml' is not supported; supported: csv, json, sagemakerCaptureJson",
        ),
        (lambda t: {"dataset_format": '{"parquet": {}}'}, "dataset_format parquet is not available offline"),
        (lambda t: {"dataset_format": CSV}, "holds no records to baseline"),
        (lambda t: data_file(t, "bad.csv", "a,b\n1,2\n1,2,3\n", CSV), "bad.csv line 3: 3 fields where the data has 2"),
        (
            lambda t: data_file(t, "d.jsonl", '{"a": 1}\n{"a": \n', '{"json": {"lines": true}}'),
            "d.jsonl line 2: not valid JSON",
        ),
        (lambda t: constraints_file(t, "not json"), "c.json cannot be read as JSON"),
        (lambda t: constraints_file(t, '{"features": []}'), "c.json: missing field 'version'"),
        (lambda t: constraints_file(t, '{"version": 0}'), "c.json: missing field 'features'"),
        (lambda t: constraints_file(t, BAD_COMPARISON), "comparison_method 'Fuzzy' is not one of Simple, Robust"),
        (
            lambda t: {
                **constraints_file(t, BAD_OPERATOR),
                "analysis_type": "MODEL_QUALITY",
                "problem_type": "Regression",
                "inference_attribute": "x",
                "ground_truth_attribute": "x",
            },
            "regression_constraints.mae.comparison_operator 'Bigger' is not one of LessThanThreshold",
        ),
        (
            lambda t: {
                **constraints_file(t, "{}"),
                "baseline_constraints": "",
                "analysis_type": "MODEL_QUALITY",
                "problem_type": "Regression",
                "inference_attribute": "prediction",
                "ground_truth_attribute": "x",
            },
            "inference_attribute 'prediction' is not a column of the dataset (columns: x)",
        ),
        (
            lambda t: {
                **constraints_file(t, "{}"),
                "baseline_constraints": "",
                "analysis_type": "MODEL_QUALITY",
                "problem_type": "Regression",
                "inference_attribute": "x",
            },
            "ground_truth_attribute is not set and the data has no ground truth",
        ),
    ],
)
def test_bad_input_fails_with_a_clear_reason(tmp_path: Path, setup: Any, message: str) -> None:
    (tmp_path / "in").mkdir(exist_ok=True)
    env = {"dataset_source": str(tmp_path / "in"), "output_path": str(tmp_path / "out"), **setup(tmp_path)}
    result = run(tmp_path, **{k: v for k, v in env.items() if v})
    assert result.returncode == 1
    reason = (tmp_path / "failure").read_text()
    assert message in reason and reason.count("\n") == 1
    assert result.stderr.strip().splitlines()[-1] == reason.strip()
