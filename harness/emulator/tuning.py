"""Hyperparameter tuning (`HyperparameterTuner`, `TuningStep`): CreateHyperParameterTuningJob and its Describe,
List, ListTrainingJobsForHyperParameterTuningJob and Stop, each training job a real one of this control plane.

From AWS's documentation of automatic model tuning: the Random strategy samples every range independently (a
Linear range uniformly, a Logarithmic one uniformly in log space, a ReverseLogarithmic one in log space of 1 - x,
an integer range rounded), Grid runs every combination of the categorical values; the objective is the last value
of the objective metric, read from each training job's log with its MetricDefinitions regex; the best training job
is the one with the best objective. Locally, and said on every run that asks for them: Bayesian and Hyperband run
as Random; automatic early stopping is off; scaling `Auto` is Linear.
"""

from __future__ import annotations

import itertools
import math
import random
import secrets
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from harness.emulator.arns import sagemaker_arn
from harness.emulator.awserrors import not_found, validation_error
from harness.emulator.paging import page
from harness.emulator.replies import run_until_reply

OPERATION = "CreateHyperParameterTuningJob"
NAME_LIMIT = 32  # HyperParameterTuningJobName's length limit
TOP_JOBS = 50  # what a TuningStep's TrainingJobSummaries holds, best first
_STRATEGIES = ("Random", "Grid", "Bayesian", "Hyperband")
_SCALINGS = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")


class TrainingJobs(Protocol):
    def run_step_job(self, step_type: str, job_name: str, request: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class NumericRange:
    name: str
    low: float
    high: float
    scaling: str
    integer: bool

    def sample(self, rng: random.Random) -> str:
        if self.scaling == "Logarithmic":
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        elif self.scaling == "ReverseLogarithmic":
            value = 1 - math.exp(rng.uniform(math.log(1 - self.high), math.log(1 - self.low)))
        else:
            value = rng.uniform(self.low, self.high)
        if self.integer:
            return str(min(int(self.high), max(int(self.low), round(value))))
        return repr(min(self.high, max(self.low, value)))


@dataclass(frozen=True)
class TuningPlan:
    strategy: str  # as asked
    objective_type: str  # Maximize | Minimize
    objective_metric: str
    max_jobs: int
    max_parallel: int
    numeric: tuple[NumericRange, ...]
    categorical: tuple[tuple[str, tuple[str, ...]], ...]
    seed: int | None
    notices: tuple[str, ...]  # what runs otherwise than the service would, said on every run

    def candidates(self) -> list[dict[str, str]]:
        """The tuned hyperparameters of each training job, in order."""
        if self.strategy == "Grid":
            names = [name for name, _ in self.categorical]
            combos = itertools.product(*(values for _, values in self.categorical))
            return [dict(zip(names, combo, strict=True)) for combo in itertools.islice(combos, self.max_jobs)]
        rng = random.Random(self.seed)
        return [
            {**{r.name: r.sample(rng) for r in self.numeric}, **{n: rng.choice(v) for n, v in self.categorical}}
            for _ in range(self.max_jobs)
        ]


def plan(request: Mapping[str, Any]) -> TuningPlan:
    """The tuning job's configuration, checked as the service checks it (ValidationException otherwise)."""
    if request.get("TrainingJobDefinitions"):
        raise validation_error(OPERATION, "TrainingJobDefinitions (several algorithms) is not supported locally: "
                               "tune one TrainingJobDefinition")  # fmt: skip
    if not request.get("TrainingJobDefinition"):
        raise validation_error(OPERATION, "TrainingJobDefinition is required.")
    config = request.get("HyperParameterTuningJobConfig") or {}
    strategy = str(config.get("Strategy", "Bayesian"))
    if strategy not in _STRATEGIES:
        raise validation_error(OPERATION, f"Strategy {strategy!r} is not one of {', '.join(_STRATEGIES)}.")
    objective = config.get("HyperParameterTuningJobObjective") or {}
    if objective.get("Type") not in ("Maximize", "Minimize") or not objective.get("MetricName"):
        raise validation_error(OPERATION, "HyperParameterTuningJobObjective needs Type (Maximize or Minimize) and "
                               "MetricName.")  # fmt: skip
    metric_names = {d.get("Name") for d in (request["TrainingJobDefinition"].get("AlgorithmSpecification") or {})
                    .get("MetricDefinitions", [])}  # fmt: skip
    if objective["MetricName"] not in metric_names:
        known = sorted(map(str, metric_names))
        raise validation_error(OPERATION, f"The objective metric {objective['MetricName']!r} has no metric "
                               f"definition in the algorithm specification: {known}.")  # fmt: skip
    ranges = config.get("ParameterRanges") or {}
    kinds = (("IntegerParameterRanges", True), ("ContinuousParameterRanges", False))
    numeric = tuple(_numeric(r, integer) for key, integer in kinds for r in ranges.get(key, []))
    categorical = tuple(_categorical(r) for r in ranges.get("CategoricalParameterRanges", []))
    if not numeric and not categorical:
        raise validation_error(OPERATION, "ParameterRanges must name at least one hyperparameter range.")
    limits = config.get("ResourceLimits") or {}
    notices = []
    if strategy == "Grid":
        if numeric:
            raise validation_error(OPERATION, "The Grid strategy takes categorical parameter ranges only: "
                                   f"{', '.join(r.name for r in numeric)} are not.")  # fmt: skip
        combinations = math.prod(len(values) for _, values in categorical)
        max_jobs = min(combinations, int(limits.get("MaxNumberOfTrainingJobs") or combinations))
    else:
        max_jobs = int(limits.get("MaxNumberOfTrainingJobs") or 0)
        if max_jobs < 1:
            raise validation_error(OPERATION, "ResourceLimits.MaxNumberOfTrainingJobs must be at least 1.")
    max_parallel = int(limits.get("MaxParallelTrainingJobs") or 1)
    if max_parallel < 1:
        raise validation_error(OPERATION, "ResourceLimits.MaxParallelTrainingJobs must be at least 1.")
    if strategy in ("Bayesian", "Hyperband"):
        notices.append(f"the {strategy} strategy runs as Random locally (AWS's {strategy} search is not reproduced)")
    if config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
        notices.append("automatic early stopping is off locally: every training job runs to its end")
    if any(r.scaling == "Auto" for r in numeric):
        notices.append("scaling Auto is Linear locally")
    return TuningPlan(strategy, str(objective["Type"]), str(objective["MetricName"]), max_jobs, max_parallel, numeric,
                      categorical, config.get("RandomSeed"), tuple(notices))  # fmt: skip


def _numeric(spec: Mapping[str, Any], integer: bool) -> NumericRange:
    name = str(spec.get("Name"))
    try:
        low, high = float(spec["MinValue"]), float(spec["MaxValue"])
    except (KeyError, TypeError, ValueError):
        raise validation_error(OPERATION, f"Parameter range {name}: MinValue and MaxValue must be numbers.") from None
    scaling = str(spec.get("ScalingType", "Auto"))
    if scaling not in _SCALINGS:
        raise validation_error(OPERATION, f"Parameter range {name}: ScalingType {scaling!r} is not one of "
                               f"{', '.join(_SCALINGS)}.")  # fmt: skip
    if low > high or (integer and math.floor(high) < math.ceil(low)):
        raise validation_error(OPERATION, f"Parameter range {name} is empty: MinValue {spec['MinValue']} is above "
                               f"MaxValue {spec['MaxValue']}.")  # fmt: skip
    if scaling == "Logarithmic" and low <= 0:
        raise validation_error(OPERATION, f"Parameter range {name}: Logarithmic scaling needs MinValue above 0.")
    if scaling == "ReverseLogarithmic" and not (low >= 0 and high < 1):
        raise validation_error(OPERATION, f"Parameter range {name}: ReverseLogarithmic scaling needs values in "
                               "[0, 1).")  # fmt: skip
    return NumericRange(name, low, high, scaling, integer)


def _categorical(spec: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    values = tuple(str(v) for v in spec.get("Values") or [])
    if not values:
        raise validation_error(OPERATION, f"Parameter range {spec.get('Name')} is empty: it has no Values.")
    return str(spec.get("Name")), values


def _resource_config(tuning: Mapping[str, Any]) -> dict[str, Any]:
    """A training job's ResourceConfig from a HyperParameterTuningResourceConfig (its first instance config when it
    lists several, as the service's Prioritized allocation tries them in order)."""
    first = (tuning.get("InstanceConfigs") or [{}])[0]
    return {
        "InstanceType": tuning.get("InstanceType") or first.get("InstanceType", "ml.m5.large"),
        "InstanceCount": tuning.get("InstanceCount") or first.get("InstanceCount", 1),
        "VolumeSizeInGB": tuning.get("VolumeSizeInGB") or first.get("VolumeSizeInGB", 30),
    }


class TuningApi:
    """The tuning jobs of this control plane; each training job runs through `training` (the jobs API)."""

    def __init__(
        self,
        training: TrainingJobs,
        on_notice: Callable[[str], None],
        asynchronous: bool,
        max_parallel: int,
    ) -> None:
        self._training = training
        self._on_notice = on_notice
        self._asynchronous = asynchronous
        self._max_parallel = max_parallel  # the machine's limit, beside the job's own MaxParallelTrainingJobs
        self._jobs: dict[str, dict[str, Any]] = {}
        self._trainings: dict[str, list[dict[str, Any]]] = {}
        self._stop: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._background = ThreadPoolExecutor(thread_name_prefix="tuning")

    def create_hyper_parameter_tuning_job(self, HyperParameterTuningJobName: str, **request: Any) -> dict[str, str]:
        name = HyperParameterTuningJobName
        tuning = self._register(name, request)
        if self._asynchronous:
            self._background.submit(self._run, name, tuning, request)
        else:  # to its end, or until the HTTP reply's deadline (harness.emulator.replies)
            run_until_reply(self._background, lambda: self._run(name, tuning, request))
        return {"HyperParameterTuningJobArn": self._jobs[name]["HyperParameterTuningJobArn"]}

    def run_tuning(self, name: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """What a TuningStep does: the tuning job to its end, then its properties (Describe and the best-first
        ListTrainingJobsForHyperParameterTuningJob in one)."""
        self._run(name, self._register(name, request), request)
        return self.step_properties(name)

    def _register(self, name: str, request: Mapping[str, Any]) -> TuningPlan:
        """Check the request, record the job InProgress, say what runs otherwise than in the service."""
        if len(name) > NAME_LIMIT:
            raise validation_error(OPERATION, f"HyperParameterTuningJobName {name!r} is longer than {NAME_LIMIT}.")
        tuning = plan(request)
        arn = sagemaker_arn("hyper-parameter-tuning-job", name)
        with self._lock:
            if name in self._jobs:
                raise validation_error(OPERATION, f"A tuning job with this name already exists ({arn}).")
            now = datetime.now(UTC)
            self._jobs[name] = {**request, "HyperParameterTuningJobName": name, "HyperParameterTuningJobArn": arn,
                                "HyperParameterTuningJobStatus": "InProgress", "CreationTime": now,
                                "LastModifiedTime": now}  # fmt: skip
            self._trainings[name], self._stop[name] = [], threading.Event()
        for notice in tuning.notices:
            self._on_notice(f"harness: tuning job {name}: {notice}")
        return tuning

    def step_properties(self, name: str) -> dict[str, Any]:
        described = self.describe_hyper_parameter_tuning_job(name)
        return {**described, "TrainingJobSummaries": self._ranked(name)[:TOP_JOBS]}

    def describe_hyper_parameter_tuning_job(self, HyperParameterTuningJobName: str) -> dict[str, Any]:
        job = self._jobs.get(HyperParameterTuningJobName)
        if job is None:
            missing = f"Amazon SageMaker can't find a tuning job named {HyperParameterTuningJobName}."
            raise not_found("DescribeHyperParameterTuningJob", missing)
        return dict(job)

    def list_hyper_parameter_tuning_jobs(self, **request: Any) -> dict[str, Any]:
        keys = ("HyperParameterTuningJobName", "HyperParameterTuningJobArn", "HyperParameterTuningJobStatus",
                "CreationTime", "LastModifiedTime", "TrainingJobStatusCounters", "ObjectiveStatusCounters")  # fmt: skip
        summaries = [{k: job[k] for k in keys if k in job} | {"Strategy": job["HyperParameterTuningJobConfig"].get(
            "Strategy", "Bayesian")} for job in list(self._jobs.values())]  # fmt: skip
        return page(summaries, request, "HyperParameterTuningJobSummaries", "HyperParameterTuningJobName")

    def list_training_jobs_for_hyper_parameter_tuning_job(
        self, HyperParameterTuningJobName: str, **request: Any
    ) -> dict[str, Any]:
        self.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName)
        if request.get("SortBy") == "FinalObjectiveMetricValue":
            summaries = self._ranked(HyperParameterTuningJobName)
            if request.get("SortOrder") == "Ascending":
                summaries.reverse()
            return {"TrainingJobSummaries": summaries}
        return page(list(self._trainings[HyperParameterTuningJobName]), request, "TrainingJobSummaries",
                    "TrainingJobName")  # fmt: skip

    def stop_hyper_parameter_tuning_job(self, HyperParameterTuningJobName: str) -> dict[str, Any]:
        job = self.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName)
        if job["HyperParameterTuningJobStatus"] != "InProgress":
            raise validation_error("StopHyperParameterTuningJob", f"The tuning job is in status "
                                   f"{job['HyperParameterTuningJobStatus']}.")  # fmt: skip
        self._stop[HyperParameterTuningJobName].set()  # no further training job starts; running ones finish
        self._jobs[HyperParameterTuningJobName]["HyperParameterTuningJobStatus"] = "Stopping"
        return {}

    def close(self) -> None:
        for stop in self._stop.values():
            stop.set()
        self._background.shutdown(wait=True)

    # -- running ------------------------------------------------------------------------
    def _run(self, name: str, tuning: TuningPlan, request: Mapping[str, Any]) -> None:
        definition = request["TrainingJobDefinition"]
        arn = self._jobs[name]["HyperParameterTuningJobArn"]
        workers = max(1, min(tuning.max_parallel, self._max_parallel))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"tuning-{name}") as pool:
            for index, tuned in enumerate(tuning.candidates(), start=1):
                pool.submit(self._train, name, arn, index, tuned, definition, tuning)
        self._conclude(name, tuning)

    def _train(self, name: str, arn: str, index: int, tuned: Mapping[str, str], definition: Mapping[str, Any],
               tuning: TuningPlan) -> None:  # fmt: skip
        if self._stop[name].is_set():
            return
        job_name = f"{name}-{index:03d}-{secrets.token_hex(4)}"
        request = {k: v for k, v in definition.items() if k not in ("StaticHyperParameters", "DefinitionName",
                                                                     "TuningObjective", "HyperParameterRanges",
                                                                     "HyperParameterTuningResourceConfig")}  # fmt: skip
        request["HyperParameters"] = {**(definition.get("StaticHyperParameters") or {}), **tuned}
        if "ResourceConfig" not in request:  # the SDK's tuners give HyperParameterTuningResourceConfig instead
            request["ResourceConfig"] = _resource_config(definition.get("HyperParameterTuningResourceConfig") or {})
        request["TuningJobArn"] = arn
        started = datetime.now(UTC)
        try:
            described = self._training.run_step_job("Training", job_name, request)
        except Exception as error:  # noqa: BLE001 (a training job that cannot start is a failed one)
            described = {"TrainingJobStatus": "Failed", "FailureReason": str(error)}
        objective = next((m for m in described.get("FinalMetricDataList", [])
                          if m.get("MetricName") == tuning.objective_metric), None)  # fmt: skip
        summary: dict[str, Any] = {
            "TrainingJobName": job_name, "TrainingJobArn": sagemaker_arn("training-job", job_name),
            "TuningJobName": name, "CreationTime": started, "TrainingStartTime": started,
            "TrainingEndTime": datetime.now(UTC), "TrainingJobStatus": described.get("TrainingJobStatus", "Failed"),
            "TunedHyperParameters": dict(tuned),
            "ObjectiveStatus": "Succeeded" if objective is not None else "Failed",
        }  # fmt: skip
        if objective is not None:
            summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
                "Type": tuning.objective_type, "MetricName": tuning.objective_metric, "Value": objective["Value"]
            }  # fmt: skip
        if described.get("FailureReason"):
            summary["FailureReason"] = described["FailureReason"]
        elif objective is None:
            summary["FailureReason"] = f"The objective metric {tuning.objective_metric} was not found in the log"
        with self._lock:
            self._trainings[name].append(summary)

    def _ranked(self, name: str) -> list[dict[str, Any]]:
        """Training jobs with an objective, best first (as a TuningStep's TrainingJobSummaries)."""
        scored = [s for s in self._trainings[name] if "FinalHyperParameterTuningJobObjectiveMetric" in s]
        maximize = self._jobs[name]["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["Type"] == \
            "Maximize"  # fmt: skip
        return sorted(scored, key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
                      reverse=maximize)  # fmt: skip

    def _conclude(self, name: str, tuning: TuningPlan) -> None:
        trainings = self._trainings[name]
        ranked = self._ranked(name)
        counters = {
            "Completed": sum(t["TrainingJobStatus"] == "Completed" for t in trainings),
            "InProgress": 0, "RetryableError": 0,
            "NonRetryableError": sum(t["TrainingJobStatus"] == "Failed" for t in trainings),
            "Stopped": sum(t["TrainingJobStatus"] == "Stopped" for t in trainings),
        }  # fmt: skip
        objectives = {"Succeeded": len(ranked), "Pending": 0, "Failed": len(trainings) - len(ranked)}
        now = datetime.now(UTC)
        update: dict[str, Any] = {"TrainingJobStatusCounters": counters, "ObjectiveStatusCounters": objectives,
                                  "HyperParameterTuningEndTime": now, "LastModifiedTime": now}  # fmt: skip
        if ranked:
            update["BestTrainingJob"] = ranked[0]
        if self._stop[name].is_set():
            update["HyperParameterTuningJobStatus"] = "Stopped"
        elif ranked:
            update["HyperParameterTuningJobStatus"] = "Completed"
        else:
            update["HyperParameterTuningJobStatus"] = "Failed"
            reasons = sorted({t.get("FailureReason", "") for t in trainings} - {""})
            update["FailureReason"] = ("All training jobs failed. " + "; ".join(reasons))[:1024]
        with self._lock:
            self._jobs[name] |= update
