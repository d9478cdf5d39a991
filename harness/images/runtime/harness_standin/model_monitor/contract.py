"""The container's environment ("Container Contract Inputs", and what the SDK's monitors add) as a Config."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SUPPORTED_FORMATS = "csv, json, sagemakerCaptureJson"
CAPTURE_INDEXES = ("endpointInput", "endpointOutput")
PROBLEM_TYPES = ("Regression", "BinaryClassification", "MulticlassClassification")


class AnalyzerError(Exception):
    """Bad input: the job fails with this one-line message as its failure reason."""


@dataclass(frozen=True)
class CsvFormat:
    header: bool  # the SDK's output_columns_position is accepted and left: a plain CSV's columns stay in order


@dataclass(frozen=True)
class JsonFormat:
    lines: bool


@dataclass(frozen=True)
class CaptureFormat:
    index_names: tuple[str, ...]


DatasetFormat = CsvFormat | JsonFormat | CaptureFormat


@dataclass(frozen=True)
class ModelQuality:
    problem_type: str
    inference_attribute: str | None
    probability_attribute: str | None
    ground_truth_attribute: str | None
    probability_threshold: float
    positive_label: str | None


@dataclass(frozen=True)
class Config:
    dataset_format: DatasetFormat
    dataset_source: Path
    output_path: Path
    start_time: datetime | None = None
    end_time: datetime | None = None
    publish_cloudwatch_metrics: bool = False
    record_preprocessor_script: Path | None = None
    post_analytics_processor_script: Path | None = None
    baseline_statistics: Path | None = None
    baseline_constraints: Path | None = None
    model_quality: ModelQuality | None = None
    categorical_drift_method: str | None = None
    endpoint_name: str | None = None  # informational, like the schedule's name and metric_time
    schedule_name: str | None = None
    metric_time: str | None = None

    @property
    def monitoring(self) -> bool:
        """A monitoring (drift check) run compares against a baseline; otherwise the job suggests one."""
        return self.baseline_constraints is not None


def from_env(env: Mapping[str, str]) -> Config:
    def path(name: str) -> Path | None:
        return Path(env[name]) if env.get(name) else None

    for name in ("dataset_format", "dataset_source", "output_path"):
        if not env.get(name):
            raise AnalyzerError(f"environment variable {name} is not set")
    drift_method = env.get("categorical_drift_method") or None
    if drift_method not in (None, "LInfinity", "ChiSquared"):
        raise AnalyzerError(f"categorical_drift_method {drift_method!r} is not one of LInfinity, ChiSquared")
    return Config(
        dataset_format=parse_format(env["dataset_format"]),
        dataset_source=Path(env["dataset_source"]),
        output_path=Path(env["output_path"]),
        start_time=parse_time(env.get("start_time"), "start_time"),
        end_time=parse_time(env.get("end_time"), "end_time"),
        publish_cloudwatch_metrics=env.get("publish_cloudwatch_metrics", "Disabled") == "Enabled",
        record_preprocessor_script=path("record_preprocessor_script"),
        post_analytics_processor_script=path("post_analytics_processor_script"),
        baseline_statistics=path("baseline_statistics"),
        baseline_constraints=path("baseline_constraints"),
        model_quality=_model_quality(env),
        categorical_drift_method=drift_method,
        endpoint_name=env.get("sagemaker_endpoint_name"),
        schedule_name=env.get("sagemaker_monitoring_schedule_name"),
        metric_time=env.get("metric_time"),
    )


def parse_format(text: str) -> DatasetFormat:
    try:
        spec: Any = json.loads(text)
    except ValueError as error:
        raise AnalyzerError(f"dataset_format is not JSON ({error}): {text}") from None
    if not isinstance(spec, dict) or len(spec) != 1:
        raise AnalyzerError(f"dataset_format must name one format ({SUPPORTED_FORMATS}): {text}")
    ((name, options),) = spec.items()
    options = options if isinstance(options, dict) else {}
    if name == "csv":
        return CsvFormat(_flag(options.get("header", False)))
    if name == "json":  # the SDK sends "lines"; AWS's page writes "line"
        return JsonFormat(_flag(options.get("lines", options.get("line", True))))
    if name == "sagemakerCaptureJson":
        indexes = tuple(options.get("captureIndexNames") or CAPTURE_INDEXES)
        if not set(indexes) <= set(CAPTURE_INDEXES):
            raise AnalyzerError(f"dataset_format captureIndexNames {list(indexes)} not within {list(CAPTURE_INDEXES)}")
        return CaptureFormat(indexes)
    if name == "parquet":
        raise AnalyzerError(
            "dataset_format parquet is not available offline (pandas needs pyarrow to read it, which this "
            f"stand-in does not ship); supported: {SUPPORTED_FORMATS}"
        )
    raise AnalyzerError(f"dataset_format {name!r} is not supported; supported: {SUPPORTED_FORMATS}")


def parse_time(text: str | None, name: str) -> datetime | None:
    """ISO 8601 (2019-12-01T15:20:00Z); the contract page's own example has stray spaces, so they are dropped."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace(" ", ""))
    except ValueError:
        raise AnalyzerError(f"{name} {text!r} is not an ISO 8601 time such as 2019-12-01T15:20:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _model_quality(env: Mapping[str, str]) -> ModelQuality | None:
    analysis = env.get("analysis_type") or "DATA_QUALITY"
    if analysis == "DATA_QUALITY":
        return None
    if analysis != "MODEL_QUALITY":
        raise AnalyzerError(f"analysis_type {analysis!r} is not supported here (DATA_QUALITY or MODEL_QUALITY)")
    problem = env.get("problem_type", "")
    if problem not in PROBLEM_TYPES:
        raise AnalyzerError(f"problem_type {problem!r} is not one of {', '.join(PROBLEM_TYPES)}")
    try:
        threshold = float(env.get("probability_threshold_attribute") or 0.5)
    except ValueError:
        raise AnalyzerError("probability_threshold_attribute is not a number") from None
    return ModelQuality(
        problem,
        env.get("inference_attribute") or None,
        env.get("probability_attribute") or None,
        env.get("ground_truth_attribute") or None,
        threshold,
        env.get("positive_label") or None,
    )
