"""Step retry policies (`StepRetryPolicy`, `SageMakerJobStepRetryPolicy`) as the service applies them, and the
local faults that let a team see its policies work.

From AWS's documentation of retry policies (pipelines-retry-policy): a policy names exception types, waits
IntervalSeconds before the first retry and BackoffRate times longer before each further one, and stops after
MaxAttempts retries or once ExpireAfterMin minutes have passed since the step's first attempt (the SDK's
`to_request` gives exactly one of the two). The first policy naming a failure's type applies; any other failure
fails the step at once, as before. The SDK's limits: MaxAttempts 1-20, ExpireAfterMin 0-14400, IntervalSeconds
and BackoffRate not negative.

Which local failures are which type: a job that fails for the harness's own infrastructure (the Docker daemon
stopped answering) is `SageMaker.JOB_INTERNAL_ERROR` (`Step.SERVICE_FAULT` on a Model or RegisterModel step);
an AWS-shaped error is typed by its code. A user's container that exits non-zero is an AlgorithmError, which no
policy retries, as in the service. Capacity, quota and throttling never happen locally on their own, so
`[tool.harness.faults]` (harness.emulator.pipelines_api.PipelineOptions.faults) makes a step's first attempts
fail with one of them, in the service's words: not an AWS feature, and said so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from harness.errors import InfrastructureError, UserError

STEP_TYPES = ("Processing", "Training", "Transform", "Model", "RegisterModel", "Tuning", "AutoML")
JOB_STEP_TYPES = ("Processing", "Training", "Transform", "Tuning", "AutoML")
STEP_EXCEPTIONS = ("Step.SERVICE_FAULT", "Step.THROTTLING")
JOB_EXCEPTIONS = ("SageMaker.JOB_INTERNAL_ERROR", "SageMaker.CAPACITY_ERROR", "SageMaker.RESOURCE_LIMIT")
MAX_ATTEMPTS_CAP, MAX_EXPIRE_AFTER_MIN = 20, 14400

# How the service words each failure (a job's FailureReason, or the error a Create call answers).
FAULT_REASONS = {
    "SageMaker.JOB_INTERNAL_ERROR": "InternalServerError: We encountered an internal error. Please try again.",
    "SageMaker.CAPACITY_ERROR": "CapacityError: Unable to provision requested ML compute capacity. "
    "Please retry using a different ML instance type.",
    "SageMaker.RESOURCE_LIMIT": "ResourceLimitExceeded: The account-level service limit for this instance type "
    "is exceeded. Please use AWS Service Quotas to request an increase for this quota.",
    "Step.SERVICE_FAULT": "InternalFailure: An internal error occurred. Please try again.",
    "Step.THROTTLING": "ThrottlingException: Rate exceeded",
}
_BY_ERROR_CODE = {
    "ResourceLimitExceeded": "SageMaker.RESOURCE_LIMIT",
    "ThrottlingException": "Step.THROTTLING",
    "Throttling": "Step.THROTTLING",
    "InternalFailure": "Step.SERVICE_FAULT",
    "InternalServerError": "Step.SERVICE_FAULT",
    "ServiceUnavailable": "Step.SERVICE_FAULT",
}
_BY_REASON_PREFIX = {"InternalServerError": "SageMaker.JOB_INTERNAL_ERROR", "CapacityError": "SageMaker.CAPACITY_ERROR"}


@dataclass(frozen=True)
class RetryPolicy:
    exception_types: frozenset[str]
    interval_s: float = 1.0
    backoff_rate: float = 2.0
    max_attempts: int | None = None  # retries after the first attempt
    expire_after_min: float | None = None

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before `attempt` (2 is the first retry)."""
        return float(self.interval_s * self.backoff_rate ** max(0, attempt - 2))

    def allows(self, attempt: int, elapsed_s: float) -> bool:
        """Whether `attempt` (2 is the first retry) may start, `elapsed_s` after the first attempt began."""
        if self.max_attempts is not None:
            return attempt - 1 <= self.max_attempts
        return elapsed_s + self.delay_before(attempt) <= float(self.expire_after_min or 0) * 60


def retry_policies(step: Mapping[str, Any]) -> tuple[RetryPolicy, ...]:
    """A step's RetryPolicies; one the service would reject is refused, naming the step."""
    policies = step.get("RetryPolicies") or []
    name, kind = step.get("Name"), step.get("Type")
    if policies and kind not in STEP_TYPES:
        raise UserError(
            f"step {name!r}: a {kind} step takes no retry policy",
            fix=f"remove its retry_policies (steps that take them: {', '.join(STEP_TYPES)})",
        )
    allowed = STEP_EXCEPTIONS + (JOB_EXCEPTIONS if kind in JOB_STEP_TYPES else ())
    return tuple(_policy(str(name), policy, allowed) for policy in policies)


def _policy(step: str, policy: Mapping[str, Any], allowed: Sequence[str]) -> RetryPolicy:
    def refuse(problem: str, fix: str) -> UserError:
        return UserError(f"step {step!r}: retry policy {dict(policy)}: {problem}", fix=fix)

    types = policy.get("ExceptionType") or []
    unknown = [t for t in types if t not in allowed]
    if not types or unknown:
        raise refuse(f"ExceptionType {unknown or 'is empty'}", f"name one or more of {', '.join(allowed)}")
    attempts, expire = policy.get("MaxAttempts"), policy.get("ExpireAfterMin")
    if (attempts is None) == (expire is None):
        raise refuse("give exactly one of MaxAttempts and ExpireAfterMin", "max_attempts=3, or expire_after_mins=30")
    if attempts is not None and not (isinstance(attempts, int) and 1 <= attempts <= MAX_ATTEMPTS_CAP):
        raise refuse(f"MaxAttempts {attempts!r} is not in 1-{MAX_ATTEMPTS_CAP}", "max_attempts between 1 and 20")
    if expire is not None and not (isinstance(expire, int | float) and 0 <= expire <= MAX_EXPIRE_AFTER_MIN):
        raise refuse(f"ExpireAfterMin {expire!r} is not in 0-{MAX_EXPIRE_AFTER_MIN}", "expire_after_mins <= 14400")
    interval, backoff = policy.get("IntervalSeconds", 1), policy.get("BackoffRate", 2.0)
    for label, value in (("IntervalSeconds", interval), ("BackoffRate", backoff)):
        if not isinstance(value, int | float) or value < 0:
            raise refuse(f"{label} {value!r} is negative or not a number", f"{label} of 0 or more")
    return RetryPolicy(frozenset(types), float(interval), float(backoff), attempts, expire)


def exception_type(step_type: str, error: BaseException | None, failure_reason: str = "") -> str | None:
    """The retry exception type of a step's failure (an exception, or a failed job's FailureReason), if any."""
    if isinstance(error, ClientError):
        return _BY_ERROR_CODE.get(str(error.response.get("Error", {}).get("Code", "")))
    if isinstance(error, InfrastructureError):
        return "SageMaker.JOB_INTERNAL_ERROR" if step_type in JOB_STEP_TYPES else "Step.SERVICE_FAULT"
    prefix = failure_reason.split(":", 1)[0].strip()
    return _BY_REASON_PREFIX.get(prefix)


def matching(policies: Sequence[RetryPolicy], kind: str | None) -> RetryPolicy | None:
    return next((policy for policy in policies if kind in policy.exception_types), None)


@dataclass(frozen=True)
class InjectedFault:
    """`[tool.harness.faults] <step> = { exception = "...", attempts = N }`: the step's first N attempts fail."""

    exception: str
    attempts: int = 1

    @classmethod
    def parse(cls, where: str, step: str, value: Any) -> InjectedFault:
        if not isinstance(value, Mapping) or set(value) - {"exception", "attempts"}:
            raise UserError(f"{where}: faults.{step} must be a table with `exception` and `attempts`",
                            fix=f'{step} = {{ exception = "SageMaker.CAPACITY_ERROR", attempts = 1 }}')  # fmt: skip
        exception, attempts = value.get("exception"), value.get("attempts", 1)
        if exception not in FAULT_REASONS:
            raise UserError(f"{where}: faults.{step}.exception = {exception!r} is not a retry exception type",
                            fix=f"one of {', '.join(FAULT_REASONS)}")  # fmt: skip
        if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
            raise UserError(f"{where}: faults.{step}.attempts = {attempts!r} is not a whole number of 1 or more")
        return cls(str(exception), attempts)

    def failure(self) -> str:
        return FAULT_REASONS[self.exception]
