"""Independent steps run at the same time, up to the pipeline's ParallelismConfiguration and the local limit; the
first failure stops steps not yet started while running ones finish; the summary order never varies."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from support import UnusedStepApi

from harness.emulator.executor import PipelineRun, validate
from harness.emulator.pipeline_options import PipelineOptions
from harness.emulator.scheduler import local_parallel_limit, parallel_limit
from harness.errors import UserError


def _job(name: str, after: tuple[str, ...] = ()) -> dict[str, Any]:
    step: dict[str, Any] = {"Name": name, "Type": "Processing", "Arguments": {}}
    if after:
        step["DependsOn"] = list(after)
    return step


class TimedApi(UnusedStepApi):
    """Each job takes `seconds` (a failing one fails at once); records how many ran at the same time."""

    def __init__(self, seconds: float = 0.2, failing: frozenset[str] = frozenset()) -> None:
        self.seconds = seconds
        self.failing = failing
        self.running = 0
        self.most = 0
        self.started: list[str] = []
        self._lock = threading.Lock()

    def run_step_job(self, step_type: str, job_name: str, request: dict[str, Any]) -> dict[str, Any]:
        step = job_name.rsplit("-", 1)[-1]
        with self._lock:
            self.started.append(step)
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            if step in self.failing:
                return {"ProcessingJobStatus": "Failed", "FailureReason": f"{step} broke"}
            time.sleep(self.seconds)
            return {"ProcessingJobStatus": "Completed", "ProcessingJobArn": f"arn:{job_name}"}
        finally:
            with self._lock:
                self.running -= 1


FOUR_BRANCHES = {"Steps": [_job(n) for n in ("A", "B", "C", "D")] + [_job("Join", ("A", "B", "C", "D"))]}


def test_independent_branches_run_at_the_same_time_and_their_join_waits_for_all() -> None:
    api = TimedApi(seconds=0.3)
    began = time.monotonic()
    run = PipelineRun(FOUR_BRANCHES, "p", {}, api, lambda r: None, options=PipelineOptions(max_parallel=4)).run()
    took = time.monotonic() - began
    assert run.status == "Succeeded"
    assert api.most == 4 and api.started[-1] == "Join"
    assert took < 0.3 * 5 * 0.8  # well under the sum of the five jobs (only a lower bound is robust)


@pytest.mark.parametrize(("service", "local", "most"), [(None, 2, 2), ({"MaxParallelExecutionSteps": 1}, 4, 1)])
def test_the_pipelines_parallelism_and_the_local_limit_both_cap_it(
    service: dict[str, int] | None, local: int, most: int
) -> None:
    api = TimedApi(seconds=0.05)
    run = PipelineRun(
        FOUR_BRANCHES, "p", {}, api, lambda r: None, parallelism=service, options=PipelineOptions(max_parallel=local)
    ).run()
    assert run.status == "Succeeded" and api.most == most


def test_after_the_first_failure_no_step_starts_and_running_ones_finish() -> None:
    definition = {"Steps": [_job("Slow"), _job("Breaks"), _job("Later", ("Breaks",)), _job("Waiting")]}
    api = TimedApi(seconds=0.3, failing=frozenset({"Breaks"}))
    run = PipelineRun(definition, "p", {}, api, lambda r: None, options=PipelineOptions(max_parallel=2)).run()
    assert run.status == "Failed" and run.failure_reason == "Step failure: Breaks: Breaks broke"
    statuses = {s.name: s.status for s in run.steps}
    assert statuses == {"Slow": "Succeeded", "Breaks": "Failed"}  # Waiting had no free slot; Later depends on it


def test_the_summary_order_is_the_definitions_whatever_finished_first() -> None:
    definition = {"Steps": [_job("Long"), _job("Short"), _job("AfterLong", ("Long",)), _job("AfterShort", ("Short",))]}

    class Uneven(TimedApi):
        """Long ends only once AfterShort has started: Short's branch is first, however loaded the machine is."""

        def __init__(self) -> None:
            super().__init__(seconds=0.0)
            self.after_short_started = threading.Event()

        def run_step_job(self, step_type: str, job_name: str, request: dict[str, Any]) -> dict[str, Any]:
            if job_name.endswith("-AfterShort"):
                self.after_short_started.set()
            if job_name.endswith("-Long"):
                assert self.after_short_started.wait(30)
            return super().run_step_job(step_type, job_name, request)

    run = PipelineRun(definition, "p", {}, Uneven(), lambda r: None, options=PipelineOptions(max_parallel=4)).run()
    assert [s.name for s in run.steps][:2] in (["Long", "Short"], ["Short", "Long"])
    assert [s.name for s in run.steps][2] == "AfterShort"  # it started first: Short ended first
    assert [s.name for s in run.steps_in_order] == ["Long", "Short", "AfterLong", "AfterShort"]  # as written


def test_a_reference_to_a_step_the_pipeline_does_not_have_is_refused_before_anything_runs() -> None:
    with pytest.raises(UserError, match="step 'Train' depends on 'Prepare', which the pipeline does not have"):
        validate({"Steps": [_job("Train", ("Prepare",))]})
    with pytest.raises(UserError, match="dependency cycle: A -> B -> A"):
        validate({"Steps": [_job("A", ("B",)), _job("B", ("A",))]})


def test_the_execution_id_has_the_services_form() -> None:
    run = PipelineRun({"Steps": []}, "p", {}, TimedApi(), lambda r: None)
    assert len(run.execution_id) == 12 and run.execution_id.isalnum() and run.execution_id == run.execution_id.lower()
    assert run.arn.endswith(f":pipeline/p/execution/{run.execution_id}")


def test_the_local_limit_comes_from_cores_and_memory_and_must_be_positive() -> None:
    assert local_parallel_limit(cores=2, memory_bytes=24 << 30) == 4
    assert local_parallel_limit(cores=8, memory_bytes=3 << 30) == 3
    assert local_parallel_limit(cores=1, memory_bytes=1 << 20) == 1
    with pytest.raises(UserError, match="--max-parallel must be at least 1"):
        parallel_limit(None, 0)


def test_a_jobs_step_is_read_back_from_its_name_whatever_letters_the_execution_id_has() -> None:
    from harness.emulator.job_names import job_name, step_of_job

    assert step_of_job(job_name("zq9x0a1b2c3y", "Train", attempt=2)) == "Train-2"
    assert step_of_job("my-own-job") == "my-own-job"
