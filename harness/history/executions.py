"""`harness run -- COMMAND`: a run record, logs and report for every pipeline execution the command started,
as run-local writes for its own (kind `run`: no images, code hashes or endpoint check of the project's)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.emulator.environment import LocalEnvironment
from harness.emulator.executor import PipelineRun
from harness.history import runs as history
from harness.history import store
from harness.history.job_logs import JobLogs, adopt
from harness.history.runs import RemoveContainer
from harness.history.step_facts import egress_entry, step_entries


def record_executions(
    state_dir: Path, env: LocalEnvironment, executions: Sequence[PipelineRun], logs: JobLogs,
    remove_container: RemoveContainer,
) -> list[dict[str, Any]]:  # fmt: skip
    """One finished record per execution; each execution's job logs move into its own run folder."""
    records = []
    for run in executions:
        run_id = store.new_run_id()
        files = store.files_of(state_dir, run_id)
        jobs = {step.job: logs.path(step.job) for step in run.steps_in_order if step.job and logs.has(step.job)}
        record = _record(run, run_id)
        record["steps"] = step_entries(env, run, adopt(files, jobs))
        record["egress"] = egress_entry(env)
        record["path"] = str(history.finish(state_dir, record, remove_container, latest=False))
        records.append(record)
    return records


def _record(run: PipelineRun, run_id: str) -> dict[str, Any]:
    ended = max((s.ended for s in run.steps_in_order if s.ended), default=None) or datetime.now(UTC)
    return {
        "record_version": store.RECORD_VERSION,
        "run_id": run_id,
        "kind": "run",
        "status": run.status,
        "code": {},
        "started": run.started.isoformat(),
        "ended": ended.isoformat(),
        "seconds": round((ended - run.started).total_seconds(), 2),
        "pipeline": {
            "name": run.pipeline_name,
            "definition": json.dumps(run.definition),
            "parameters": dict(run.parameters),
        },
        "execution": {"arn": run.arn, "status": run.status, "failure_reason": run.failure_reason},
    }
