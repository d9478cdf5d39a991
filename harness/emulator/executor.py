"""Runs a pipeline definition (the JSON the cloud receives).

Independent steps run concurrently (harness.emulator.scheduler decides when
each may start); a Condition step runs one branch; after the first failure no
further step starts and the execution fails. Every step type, argument and
reference is checked before the first container starts.
"""

from __future__ import annotations

import re
import secrets
import string
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from harness.emulator.arns import sagemaker_arn
from harness.emulator.awserrors import cap_reason, failure_reason
from harness.emulator.callbacks import CallbackStopped
from harness.emulator.expressions import Context, condition_holds, is_expression, resolve
from harness.emulator.job_names import job_name
from harness.emulator.lambda_step import LambdaFunctions
from harness.emulator.pipeline_options import PipelineOptions, StepServices
from harness.emulator.quality_check import QUALITY_CHECK_SETTINGS, run_quality_check
from harness.emulator.retries import STEP_TYPES as RETRYABLE_STEP_TYPES
from harness.emulator.retries import RetryPolicy, exception_type, matching, retry_policies
from harness.emulator.scheduler import dependencies, order, parallel_limit, run_dag
from harness.emulator.selective import SelectivePlan
from harness.emulator.specs import ProcessingJobSpec, TrainingJobSpec
from harness.emulator.step_cache import CachePolicy
from harness.emulator.step_outputs import as_text
from harness.emulator.tuning import plan as tuning_plan
from harness.errors import ContractViolation, CorruptState, JobFailed, UserError

SUPPORTED_STEP_TYPES = (
    "Processing", "Training", "Transform", "Tuning", "Model", "RegisterModel", "Condition", "Fail", "Lambda",
    "Callback", "QualityCheck",
)  # fmt: skip


class StepFailed(Exception):
    def __init__(self, step: str, reason: str, exception_type: str | None = None) -> None:
        super().__init__(f"{step}: {reason}")
        self.step = step
        self.reason = cap_reason(reason)
        self.exception_type = exception_type  # a retry policy's ExceptionType this failure is, if known


class _Stopped(Exception):
    """StopPipelineExecution was called: no further step starts."""


# What SageMaker itself reports as a failed step (a rejected request, a job or container that failed).
# Anything else (Docker gone, a bug in the harness) also fails the step, then propagates to the caller.
_STEP_LEVEL = (ClientError, UserError, JobFailed, ContractViolation)


class SageMakerApi(Protocol):
    """The part of the (local) SageMaker API that steps call."""

    def run_step_job(self, step_type: str, job_name: str, request: dict[str, Any]) -> dict[str, Any]: ...
    def stop_step_job(self, step_type: str, job_name: str) -> None: ...
    def run_tuning(self, name: str, request: dict[str, Any]) -> dict[str, Any]: ...
    def create_model(self, ModelName: str, **request: Any) -> dict[str, Any]: ...
    def create_model_package(self, **request: Any) -> dict[str, Any]: ...
    def describe_model_package(self, ModelPackageName: str) -> dict[str, Any]: ...
    def read_property_file(self, step_properties: Mapping[str, Any], property_file: Mapping[str, Any]) -> Any: ...
    def latest_approved_package(self, group: str) -> dict[str, Any] | None: ...
    def read_json(self, uri: str) -> Any: ...


@dataclass
class StepRecord:
    name: str
    step_type: str
    status: str = "Executing"
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    ended: datetime | None = None
    failure_reason: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    cache_hit: str = ""  # the source execution's ARN when the step reused an earlier run (CacheConfig)
    attempts: int = 1  # AttemptCount: 2 and more after a retry policy retried it
    retried: list[str] = field(default_factory=list)  # the failure reason of each attempt that was retried
    job: str = ""  # the job its last attempt started, if any
    selective_source: str = ""  # a selective execution's reference whose outputs this step reused

    @property
    def seconds(self) -> float:
        return ((self.ended or datetime.now(UTC)) - self.started).total_seconds()

    def as_api(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "StepName": self.name,
            "StepStatus": self.status,
            "StartTime": self.started,
            "Metadata": self.metadata,
        }
        if self.ended:
            entry["EndTime"] = self.ended
        if self.failure_reason:
            entry["FailureReason"] = self.failure_reason
        if self.cache_hit:
            entry["CacheHitResult"] = {"SourcePipelineExecutionArn": self.cache_hit}
        if self.selective_source:
            entry["SelectiveExecutionResult"] = {"SourcePipelineExecutionArn": self.selective_source}
        if self.step_type in RETRYABLE_STEP_TYPES:
            entry["AttemptCount"] = self.attempts
        return entry


StepEvent = Callable[[StepRecord], None]


def all_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every step, with the steps nested in Condition branches."""
    found = []
    for step in steps:
        found.append(step)
        if step.get("Type") == "Condition":
            found += all_steps(step["Arguments"].get("IfSteps", []) + step["Arguments"].get("ElseSteps", []))
    return found


# Why a step type does not run locally, for the refusal.
_NOT_RUN = {
    "EMR": "an EMR step runs on an Amazon EMR cluster, which has no local stand-in",
    "ClarifyCheck": "a Clarify check runs AWS's Clarify container, which is not available offline",
    "AutoML": "Autopilot runs AWS's own AutoML jobs, which have no local stand-in",
    "NotebookJob": "notebook jobs do not run locally",
}


def validate(definition: Mapping[str, Any], lambdas: LambdaFunctions | None = None) -> None:
    """Refuse unsupported step types, a broken graph, bad arguments and Lambda functions without a local handler
    before anything runs."""
    steps = all_steps(definition.get("Steps", []))
    for step in steps:
        kind = step.get("Type")
        if kind not in SUPPORTED_STEP_TYPES:
            why = f" ({_NOT_RUN[str(kind)]})" if kind in _NOT_RUN else ""
            raise UserError(
                f"step {step.get('Name')!r} has type {kind!r}, which the local harness does not run{why}",
                fix=f"supported step types: {', '.join(SUPPORTED_STEP_TYPES)}",
            )
        if kind == "Training" and _is_function_step(step):
            raise UserError(
                f"step {step.get('Name')!r} is a @step function, which the local harness does not run: it runs the "
                "SDK's remote-function runtime (its job_driver.sh bootstrap, the function pickled in S3) inside an "
                "image with the SageMaker SDK",
                fix="write the function's work as a ProcessingStep or TrainingStep with a script, or run this "
                "pipeline in AWS",
            )
    names = [s.get("Name") for s in steps]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise UserError(f"step names must be unique; repeated: {', '.join(sorted(str(d) for d in duplicates))}")
    for step in steps:
        missing = sorted(dependencies(step) - set(names))
        if missing:
            raise UserError(
                f"step {step.get('Name')!r} depends on {', '.join(map(repr, missing))}, "
                "which the pipeline does not have",
                fix="add the step to the pipeline's steps, or fix the name in depends_on or the property reference",
            )
    order(steps)  # a dependency cycle is refused here
    for step in steps:
        CachePolicy.of(step)  # caching on a step type it does not apply to, or a bad ExpireAfter
        retry_policies(step)  # a policy the service would reject
        arguments = _placeholders(step.get("Arguments", {}), _stand_ins(definition))
        if step["Type"] in ("Processing", "QualityCheck"):
            ProcessingJobSpec.from_request({**arguments, "ProcessingJobName": "validation"})
        elif step["Type"] == "Training":
            TrainingJobSpec.from_request({**arguments, "TrainingJobName": "validation"})
        elif step["Type"] == "Tuning":
            try:
                tuning_plan({**arguments, "HyperParameterTuningJobName": "validation"})
            except ClientError as error:
                raise UserError(f"step {step['Name']!r}: {error.response['Error']['Message']}") from None
        elif step["Type"] == "Lambda":
            (lambdas or LambdaFunctions({}, str)).handler(step["Name"], str(step.get("FunctionArn", "")))


def _is_function_step(step: Mapping[str, Any]) -> bool:
    """A `@step`-decorated function: the SDK's remote-function bootstrap is its container's entrypoint."""
    entrypoint = ((step.get("Arguments") or {}).get("AlgorithmSpecification") or {}).get("ContainerEntrypoint") or []
    return any("sagemaker_remote_function_bootstrap" in str(part) for part in entrypoint)


# Members SageMaker types as numbers: an expression standing there validates as a number.
_NUMERIC_MEMBERS = frozenset(
    {"InstanceCount", "VolumeSizeInGB", "MaxRuntimeInSeconds", "MaxWaitTimeInSeconds", "MaxPayloadInMB",
     "MaxConcurrentTransforms", "InitialInstanceCount"}
)  # fmt: skip


def _stand_ins(definition: Mapping[str, Any]) -> dict[str, Any]:
    """Each parameter's value for validation: its default, else a value of its type."""
    typed = {"Integer": 1, "Float": 1.0, "Boolean": False}
    return {
        f"Parameters.{p['Name']}": p.get("DefaultValue", typed.get(p.get("Type", "String"), "s3://placeholder/value"))
        for p in definition.get("Parameters", [])
    }


def _placeholders(value: Any, stand_ins: Mapping[str, Any], member: str = "") -> Any:
    """Arguments with every expression replaced by a stand-in, for validation."""
    if is_expression(value):
        if isinstance(value, dict) and isinstance(value.get("Get"), str) and value["Get"] in stand_ins:
            return stand_ins[value["Get"]]
        return 1 if member in _NUMERIC_MEMBERS else "s3://placeholder/value"
    if isinstance(value, dict):
        return {k: _placeholders(v, stand_ins, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v, stand_ins, member) for v in value]
    return value


class PipelineRun:
    """One execution of one definition."""

    def __init__(
        self,
        definition: Mapping[str, Any],
        pipeline_name: str,
        parameters: Mapping[str, Any],
        api: SageMakerApi,
        on_event: StepEvent,
        parallelism: Mapping[str, Any] | None = None,  # ParallelismConfiguration
        options: PipelineOptions | None = None,
        services: StepServices | None = None,
        selective: SelectivePlan | None = None,  # SelectiveExecutionConfig, checked
    ) -> None:
        options, services = options or PipelineOptions(), services or StepServices()
        self.definition = definition
        self.pipeline_name = pipeline_name
        self.execution_id = execution_id()
        self.arn = sagemaker_arn("pipeline", f"{pipeline_name}/execution/{self.execution_id}")
        self.parameters = _parameters(definition, parameters)
        self.started = datetime.now(UTC)
        self.status = "Executing"
        self.failure_reason = ""
        self.steps: list[StepRecord] = []  # in the order they started (ListPipelineExecutionSteps)
        self.parallelism = dict(parallelism or {})
        self.parallel_limit = parallel_limit(parallelism, options.max_parallel)
        self._rank = {s["Name"]: i for i, s in enumerate(_written_order(definition.get("Steps", [])))}
        self._steps_lock = threading.Lock()
        self._cache = services.cache
        self._use_cache = options.use_cache
        self._faults = dict(options.faults)
        self._lambdas = services.lambdas
        self._on_log = services.on_log
        self._callbacks = services.callbacks
        self.selective = selective
        self._properties: dict[str, dict[str, Any]] = {}
        self._property_files = {
            s["Name"]: {f["PropertyFileName"]: f for f in s.get("PropertyFiles", [])}
            for s in all_steps(definition.get("Steps", []))
        }
        self._api = api
        self._on_event = on_event
        self._stop_requested = threading.Event()

    def request_stop(self) -> None:
        """StopPipelineExecution: no further step starts, running jobs stop as Stop*Job stops them (SIGTERM), a
        waiting callback or retry ends; those steps and the execution end Stopped."""
        self._stop_requested.set()
        with self._steps_lock:
            running = [(r.step_type, r.job) for r in self.steps if r.status == "Executing" and r.job]
        for step_type, job in running:
            threading.Thread(target=self._api.stop_step_job, args=(step_type, job), daemon=True).start()

    @property
    def steps_in_order(self) -> list[StepRecord]:
        """The steps that ran, in the definition's dependency order: the same every run, however they overlapped."""
        return sorted(self.steps, key=lambda record: self._rank.get(record.name, len(self._rank)))

    def succeeded_properties(self) -> dict[str, dict[str, Any]]:
        """The properties of the steps that succeeded (what a selective execution may reuse)."""
        succeeded = {record.name for record in self.steps if record.status == "Succeeded"}
        return {name: value for name, value in self._properties.items() if name in succeeded}

    def properties(self) -> dict[str, dict[str, Any]]:
        """Each finished step's properties (what `Steps.<name>...` references read)."""
        return dict(self._properties)

    def context(self) -> Context:
        execution = {
            "PipelineExecutionId": self.execution_id,
            "PipelineExecutionArn": self.arn,
            "PipelineName": self.pipeline_name,
            "StartDateTime": self.started.isoformat(),
            "CurrentDateTime": datetime.now(UTC).isoformat(),
        }
        return Context(self.parameters, execution, self._properties, self._read_property_file)

    def _read_property_file(self, step: str, file_name: str) -> Any:
        spec = self._property_files.get(step, {}).get(file_name)
        if spec is None:
            raise UserError(
                f"step {step!r} declares no property file {file_name!r}",
                fix="pass it in ProcessingStep(property_files=[...])",
            )
        return self._api.read_property_file(self._properties[step], spec)

    def run(self) -> PipelineRun:
        if self._cache is not None:
            self._cache.prune(datetime.now(UTC))
        try:
            self._run_steps(self.definition.get("Steps", []))
        except KeyboardInterrupt:
            self.status, self.failure_reason = "Stopped", "interrupted (Ctrl-C or SIGTERM)"
            raise
        except _Stopped:
            self.status = "Stopped"
        except StepFailed as failure:
            self.status, self.failure_reason = "Failed", f"Step failure: {failure.step}: {failure.reason}"
        except Exception as error:
            failed = [step for step in self.steps if step.status == "Failed"]
            where = f"{failed[-1].name}: {failed[-1].failure_reason}" if failed else failure_reason(error)
            self.status, self.failure_reason = "Failed", f"Step failure: {where}"
            raise
        else:
            self.status = "Succeeded"
        return self

    def _run_steps(self, steps: list[dict[str, Any]]) -> None:
        run_dag(steps, self._run_step, self.parallel_limit, lambda: not self._stop_requested.is_set())
        if self._stop_requested.is_set():
            raise _Stopped

    def _run_step(self, step: dict[str, Any]) -> list[dict[str, Any]]:
        """Runs one step (in a thread of its own), retried as its retry policies say; returns the branch a
        Condition chose."""
        part = self.selective.part(step["Name"]) if self.selective else "run"
        if part == "skip":  # a selective execution that does not need it
            return []
        record = StepRecord(step["Name"], step["Type"])
        with self._steps_lock:
            self.steps.append(record)
        self._on_event(record)
        if part == "reuse" and self.selective is not None:
            return self._reuse(step, record, self.selective)
        policies, began = retry_policies(step), time.monotonic()
        while True:
            try:
                branch = self._execute(step, record)
            except KeyboardInterrupt:
                self._finish(record, "Stopped", "interrupted")
                raise
            except (CallbackStopped, _Stopped):
                self._finish(record, "Stopped")
                raise _Stopped from None
            except Exception as error:
                reason = error.reason if isinstance(error, StepFailed) else failure_reason(error)
                kind = error.exception_type if isinstance(error, StepFailed) else None
                policy = matching(policies, kind or exception_type(step["Type"], error, reason))
                try:
                    if policy is not None and self._retry(record, policy, began, reason):
                        continue
                except _Stopped:
                    self._finish(record, "Stopped", reason)
                    raise
                self._finish(record, "Failed", reason)
                if isinstance(error, StepFailed):
                    raise
                if isinstance(error, _STEP_LEVEL) and not isinstance(error, CorruptState):  # the harness's own files
                    raise StepFailed(step["Name"], reason) from error
                raise
            self._finish(record, "Succeeded")
            return branch

    def _reuse(self, step: dict[str, Any], record: StepRecord, selective: SelectivePlan) -> list[dict[str, Any]]:
        """A selective execution's unselected dependency: the reference execution's properties stand."""
        properties = dict(selective.source_properties[step["Name"]])
        self._properties[step["Name"]] = properties
        record.selective_source = selective.source_arn
        self._finish(record, "Succeeded")
        if step["Type"] != "Condition":
            return []
        arguments = step["Arguments"]
        return list(arguments.get("IfSteps", []) if properties.get("Outcome") else arguments.get("ElseSteps", []))

    def _retry(self, record: StepRecord, policy: RetryPolicy, began: float, reason: str) -> bool:
        """Wait out the policy's interval and count the next attempt; False when the policy allows no more (or
        StopPipelineExecution came meanwhile)."""
        attempt = record.attempts + 1
        if not policy.allows(attempt, time.monotonic() - began):
            return False
        record.retried.append(cap_reason(reason))
        if self._stop_requested.wait(policy.delay_before(attempt)):
            raise _Stopped
        record.attempts = attempt
        self._on_event(record)  # the same step, its next attempt
        return True

    def _finish(self, record: StepRecord, status: str, reason: str = "") -> None:
        record.status, record.failure_reason, record.ended = status, cap_reason(reason), datetime.now(UTC)
        self._on_event(record)

    def _execute(self, step: dict[str, Any], record: StepRecord) -> list[dict[str, Any]]:
        """Runs one step; returns the steps of the branch to run next (Condition only)."""
        name, kind = step["Name"], step["Type"]
        if kind == "Condition":
            return self._condition(step, record)
        arguments = resolve(step.get("Arguments", {}), self.context())
        if kind == "Fail":
            raise StepFailed(name, str(arguments.get("ErrorMessage", "")) or "the pipeline reached a Fail step")
        if kind == "Lambda":
            return self._lambda(step, arguments, record)
        if kind == "Callback":
            return self._callback(step, arguments, record)
        if kind == "Tuning":
            return self._tuning(step, arguments, record)
        if kind == "QualityCheck":
            return self._quality_check(step, arguments, record)
        if kind == "Model":
            model_name = f"{self.pipeline_name}-{name}-{self.execution_id}"[:63].strip("-")
            self._api.create_model(ModelName=model_name, **arguments)
            self._properties[name] = {"ModelName": model_name}
            record.metadata = {"Model": {"Arn": sagemaker_arn("model", model_name)}}
            return []
        if kind == "RegisterModel":
            arn = self._api.create_model_package(**arguments)["ModelPackageArn"]
            self._properties[name] = self._api.describe_model_package(ModelPackageName=arn)
            record.metadata = {"RegisterModel": {"Arn": arn}}
            return []
        policy = CachePolicy.of(step) if self._cache is not None else None
        key = self._cache.key(self.pipeline_name, step, arguments) if self._cache and policy else ""
        if self._cache and policy and self._use_cache:
            hit = self._cache.find(self.pipeline_name, key, policy, datetime.now(UTC))
            if hit is not None:  # no container: the earlier run's outputs are back in S3, its properties stand
                self._properties[name] = hit.description
                record.metadata, record.cache_hit = _job_metadata(kind, hit.description), hit.source_execution_arn
                return []
        fault = self._faults.get(name)
        if fault is not None and record.attempts <= fault.attempts:  # as the service would say it; no container
            raise StepFailed(name, fault.failure(), fault.exception)
        record.job = job_name(self.execution_id, name, record.attempts)
        if self._stop_requested.is_set():  # StopPipelineExecution came as this step was starting
            raise _Stopped
        description = self._api.run_step_job(kind, record.job, arguments)
        self._properties[name] = description
        record.metadata = _job_metadata(kind, description)
        status = description.get(f"{kind}JobStatus")
        if status == "Stopped" and self._stop_requested.is_set():
            raise _Stopped
        if status != "Completed":
            raise StepFailed(name, str(description.get("FailureReason", f"{kind} job {status}")))
        if self._cache and policy:
            self._cache.store(self.pipeline_name, key, self.arn, description, policy, datetime.now(UTC))
        return []

    def _lambda(self, step: dict[str, Any], event: dict[str, Any], record: StepRecord) -> list[dict[str, Any]]:
        arn, name = str(step.get("FunctionArn", "")), step["Name"]
        label = job_name(self.execution_id, name, record.attempts)
        outputs = self._lambdas.invoke(name, arn, event, step.get("OutputParameters", []),
                                       lambda line: self._on_log(label, line))  # fmt: skip
        self._properties[name] = {"OutputParameters": outputs}
        record.metadata = {"Lambda": {"Arn": arn, "OutputParameters": [
            {"Name": key, "Value": as_text(value)} for key, value in outputs.items()
        ]}}  # fmt: skip
        return []

    def _callback(self, step: dict[str, Any], arguments: dict[str, Any], record: StepRecord) -> list[dict[str, Any]]:
        queue = str(step.get("SqsQueueUrl", ""))
        token = self._callbacks.open(self.arn, step["Name"], queue, arguments)
        record.metadata = {"Callback": {"CallbackToken": token, "SqsQueueUrl": queue}}  # listed while it waits
        outputs = self._callbacks.wait(token, step.get("OutputParameters", []), self._stop_requested)
        self._properties[step["Name"]] = {"OutputParameters": outputs}
        record.metadata["Callback"]["OutputParameters"] = [{"Name": k, "Value": as_text(v)} for k, v in outputs.items()]
        return []

    def _tuning(self, step: dict[str, Any], arguments: dict[str, Any], record: StepRecord) -> list[dict[str, Any]]:
        name = step["Name"]
        suffix = f"-{record.attempts}" if record.attempts > 1 else ""
        # At most 32 characters; lowercase, so that the name in its (lowercased) ARN describes it too.
        tuning_job = f"{self.execution_id}-{re.sub('[^a-z0-9-]', '', name.lower())}"[: 32 - len(suffix)] + suffix
        record.job = tuning_job
        properties = self._api.run_tuning(tuning_job, arguments)
        self._properties[name] = properties
        record.metadata = {"TuningJob": {"Arn": properties["HyperParameterTuningJobArn"]}}
        status = properties.get("HyperParameterTuningJobStatus")
        if status != "Completed":
            raise StepFailed(name, str(properties.get("FailureReason", f"tuning job {status}")))
        return []

    def _quality_check(self, step: dict[str, Any], arguments: dict[str, Any], record: StepRecord) -> list[Any]:
        name = step["Name"]
        settings = resolve({key: step.get(key) for key in QUALITY_CHECK_SETTINGS}, self.context())
        policy = CachePolicy.of(step) if self._cache is not None else None
        key = self._cache.key(self.pipeline_name, step, {**arguments, **settings}) if self._cache and policy else ""
        if self._cache and policy and self._use_cache:
            hit = self._cache.find(self.pipeline_name, key, policy, datetime.now(UTC))
            if hit is not None:  # the earlier check's baseline and report are back in S3; its outcome stands
                self._properties[name] = dict(hit.description["QualityCheckProperties"])
                record.metadata = {"QualityCheck": dict(hit.description["QualityCheck"])}
                record.cache_hit = hit.source_execution_arn
                return []
        record.job = job_name(self.execution_id, name, record.attempts)
        try:
            outcome = run_quality_check(step, settings, arguments, record.job, self._api)
        except UserError:
            if self._stop_requested.is_set():  # its job stopped by StopPipelineExecution: the step is Stopped
                raise _Stopped from None
            raise
        self._properties[name] = outcome.properties
        record.metadata = {"QualityCheck": outcome.metadata}  # listed on a failed check too: its report
        if outcome.failure:
            raise StepFailed(name, outcome.failure)
        if self._cache and policy:
            entry = {**outcome.job, "QualityCheck": outcome.metadata, "QualityCheckProperties": outcome.properties}
            self._cache.store(self.pipeline_name, key, self.arn, entry, policy, datetime.now(UTC))
        return []

    def _condition(self, step: dict[str, Any], record: StepRecord) -> list[dict[str, Any]]:
        arguments = step["Arguments"]
        context = self.context()
        outcome = all(condition_holds(c, context) for c in arguments.get("Conditions", []))
        self._properties[step["Name"]] = {"Outcome": outcome}
        compared = [
            {"Type": c["Type"], "Left": resolve(c["LeftValue"], context), "Right": resolve(c["RightValue"], context)}
            for c in arguments.get("Conditions", [])
            if "LeftValue" in c
        ]
        record.metadata = {"Condition": {"Outcome": str(outcome).lower(), "Evaluated": compared}}
        return list(arguments.get("IfSteps", []) if outcome else arguments.get("ElseSteps", []))


def execution_id() -> str:
    """As the service makes them: 12 lowercase letters and digits."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(12))


def _written_order(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every step in dependency order, each Condition's branches right after it."""
    found = []
    for step in order(steps):
        found.append(step)
        if step.get("Type") == "Condition":
            found += _written_order(step["Arguments"].get("IfSteps", []) + step["Arguments"].get("ElseSteps", []))
    return found


def _job_metadata(kind: str, description: Mapping[str, Any]) -> dict[str, Any]:
    arn = description.get(f"{kind}JobArn", "")
    return {f"{kind}Job": {"Arn": arn}}


def _parameters(definition: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    declared = {p["Name"]: p for p in definition.get("Parameters", [])}
    unknown = set(given) - set(declared)
    if unknown:
        raise UserError(
            f"unknown pipeline parameter(s): {', '.join(sorted(unknown))}",
            fix=f"declared parameters: {', '.join(declared) or 'none'}",
        )
    values = {}
    for name, parameter in declared.items():
        value = given.get(name, parameter.get("DefaultValue"))
        if value is None:
            raise UserError(f"pipeline parameter {name!r} has no default and no value", fix=f"pass {name}=...")
        values[name] = _coerce(name, parameter.get("Type", "String"), value)
    return values


def _coerce(name: str, kind: str, value: Any) -> Any:
    try:
        if kind == "Integer":
            return int(value)
        if kind == "Float":
            return float(value)
        if kind == "Boolean":
            return value if isinstance(value, bool) else str(value).lower() == "true"
    except (TypeError, ValueError):
        raise UserError(f"pipeline parameter {name}={value!r} is not a valid {kind}") from None
    return str(value) if not isinstance(value, str) else value
