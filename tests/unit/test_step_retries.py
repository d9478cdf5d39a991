"""Retry policies as the service applies them: which failures they retry, how long they wait, when they stop, and
the policies it refuses when the pipeline is created; [tool.harness.faults] makes the failures happen locally."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from support import UnusedStepApi

from harness.emulator.executor import PipelineRun, validate
from harness.emulator.pipeline_options import PipelineOptions
from harness.emulator.retries import FAULT_REASONS, InjectedFault, RetryPolicy, retry_policies
from harness.errors import InfrastructureError, UserError
from harness.projectconfig import load_project


def _step(policies: list[dict[str, Any]], kind: str = "Processing", name: str = "Prep") -> dict[str, Any]:
    return {"Name": name, "Type": kind, "Arguments": {}, "RetryPolicies": policies}


def _policy(types: list[str], **fields: Any) -> dict[str, Any]:
    return {"ExceptionType": types, "IntervalSeconds": 0, "BackoffRate": 2.0, **fields}


class JobApi(UnusedStepApi):
    """Each job: the next of `outcomes` ("ok", a FailureReason, or an exception to raise); records job names."""

    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.jobs: list[str] = []

    def run_step_job(self, step_type: str, job_name: str, request: dict[str, Any]) -> dict[str, Any]:
        self.jobs.append(job_name)
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome == "ok":
            return {"ProcessingJobStatus": "Completed", "ProcessingJobArn": f"arn:{job_name}"}
        return {"ProcessingJobStatus": "Failed", "FailureReason": outcome}


def _run(step: dict[str, Any], api: JobApi, faults: dict[str, InjectedFault] | None = None) -> PipelineRun:
    options = PipelineOptions(faults=faults or {})
    return PipelineRun({"Steps": [step]}, "p", {}, api, lambda r: None, options=options).run()


def test_an_injected_capacity_error_is_retried_until_the_step_succeeds() -> None:
    step = _step([_policy(["SageMaker.CAPACITY_ERROR"], MaxAttempts=3)])
    api = JobApi()
    run = _run(step, api, {"Prep": InjectedFault("SageMaker.CAPACITY_ERROR", attempts=2)})
    record = run.steps[0]
    assert run.status == "Succeeded" and record.attempts == 3
    assert record.retried == [FAULT_REASONS["SageMaker.CAPACITY_ERROR"]] * 2
    assert api.jobs == [f"pipelines-{run.execution_id}-Prep-3"]  # the faults started no job; each attempt its own
    assert record.as_api()["AttemptCount"] == 3


def test_max_attempts_counts_retries_and_then_the_step_fails_with_the_last_reason() -> None:
    step = _step([_policy(["SageMaker.JOB_INTERNAL_ERROR"], MaxAttempts=1)])
    internal = FAULT_REASONS["SageMaker.JOB_INTERNAL_ERROR"]
    run = _run(step, JobApi(internal, internal, "ok"))
    assert run.status == "Failed" and run.steps[0].attempts == 2
    assert run.failure_reason == f"Step failure: Prep: {internal}"


def test_a_failure_no_policy_names_is_not_retried() -> None:
    algorithm = "AlgorithmError: See job logs for more information, exit code: 1"
    step = _step([_policy(["SageMaker.JOB_INTERNAL_ERROR", "SageMaker.CAPACITY_ERROR"], MaxAttempts=5)])
    api = JobApi(algorithm, "ok")
    run = _run(step, api)
    assert run.status == "Failed" and run.steps[0].attempts == 1 and len(api.jobs) == 1


def test_a_docker_failure_during_a_job_is_an_internal_error_a_policy_can_retry() -> None:
    step = _step([_policy(["SageMaker.JOB_INTERNAL_ERROR"], MaxAttempts=2)])
    run = _run(step, JobApi(InfrastructureError("the Docker daemon stopped answering"), "ok"))
    assert run.status == "Succeeded" and run.steps[0].attempts == 2


def test_the_interval_grows_by_the_backoff_rate() -> None:
    step = _step([_policy(["SageMaker.CAPACITY_ERROR"], MaxAttempts=3, IntervalSeconds=0.1, BackoffRate=2.0)])
    began = time.monotonic()
    run = _run(step, JobApi(), {"Prep": InjectedFault("SageMaker.CAPACITY_ERROR", attempts=3)})
    assert run.status == "Succeeded" and time.monotonic() - began >= 0.1 + 0.2 + 0.4
    policy = RetryPolicy(frozenset({"x"}), interval_s=10, backoff_rate=3, expire_after_min=1)
    assert [policy.delay_before(n) for n in (2, 3, 4)] == [10, 30, 90]
    assert policy.allows(2, elapsed_s=40) and policy.allows(3, elapsed_s=20) and not policy.allows(3, elapsed_s=31)


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (_step([_policy([], MaxAttempts=1)]), "ExceptionType is empty"),
        (_step([_policy(["Step.OOPS"], MaxAttempts=1)]), "ExceptionType ['Step.OOPS']"),
        (_step([_policy(["Step.THROTTLING"])]), "give exactly one of MaxAttempts and ExpireAfterMin"),
        (_step([_policy(["Step.THROTTLING"], MaxAttempts=2, ExpireAfterMin=5)]), "give exactly one of"),
        (_step([_policy(["Step.THROTTLING"], MaxAttempts=21)]), "MaxAttempts 21 is not in 1-20"),
        (_step([_policy(["Step.THROTTLING"], ExpireAfterMin=14401)]), "ExpireAfterMin 14401 is not in 0-14400"),
        (_step([_policy(["Step.THROTTLING"], MaxAttempts=1, IntervalSeconds=-1)]), "IntervalSeconds -1 is negative"),
        (_step([_policy(["SageMaker.CAPACITY_ERROR"], MaxAttempts=1)], kind="Model"), "['SageMaker.CAPACITY_ERROR']"),
        (_step([_policy(["Step.THROTTLING"], MaxAttempts=1)], kind="Fail"), "a Fail step takes no retry policy"),
    ],
)
def test_a_policy_the_service_would_reject_is_refused_at_creation(step: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError) as refused:
        validate({"Steps": [step]})
    assert "step 'Prep'" in str(refused.value) and message in str(refused.value)


def test_the_sdks_policies_read_as_written() -> None:
    from sagemaker.workflow.retry import (
        SageMakerJobExceptionTypeEnum,
        SageMakerJobStepRetryPolicy,
        StepExceptionTypeEnum,
        StepRetryPolicy,
    )

    policies = [
        StepRetryPolicy([StepExceptionTypeEnum.THROTTLING], interval_seconds=10, expire_after_mins=5).to_request(),
        SageMakerJobStepRetryPolicy(
            failure_reason_types=[SageMakerJobExceptionTypeEnum.CAPACITY_ERROR], max_attempts=3
        ).to_request(),
    ]
    read = retry_policies(_step(policies, kind="Training"))
    assert read == (
        RetryPolicy(frozenset({"Step.THROTTLING"}), 10.0, 2.0, None, 5),
        RetryPolicy(frozenset({"SageMaker.CAPACITY_ERROR"}), 1.0, 2.0, 3, None),
    )


def test_faults_in_the_project_configuration_are_checked(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.harness.faults]\nTrain = { exception = "SageMaker.CAPACITY_ERROR", attempts = 2 }\n'
    )
    assert load_project(tmp_path).faults == {"Train": InjectedFault("SageMaker.CAPACITY_ERROR", 2)}
    (tmp_path / "pyproject.toml").write_text('[tool.harness.faults]\nTrain = { exception = "Boom" }\n')
    with pytest.raises(UserError, match=r"faults\.Train\.exception = 'Boom' is not a retry exception type"):
        load_project(tmp_path)
