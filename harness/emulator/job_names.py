"""The names of the jobs a pipeline execution starts, and the step a job name stands for.

Its own module, light to import: the progress lines name each log line's step before any pipeline runs.
"""

from __future__ import annotations

import re

_JOB_PREFIX = re.compile(r"^pipelines-[0-9a-z]{12}-")  # job_name's, before the step


def step_of_job(job: str) -> str:
    """A pipeline job's name less its `pipelines-<execution id>-` prefix (a retry's `-N` stays); others as they are."""
    return _JOB_PREFIX.sub("", job)


def job_name(execution_id: str, step: str, attempt: int = 1) -> str:
    """The job a pipeline step starts is named after the execution and the step (at most 63 characters); a retry's
    job after its attempt too."""
    suffix = f"-{attempt}" if attempt > 1 else ""
    return f"pipelines-{execution_id}-{step}"[: 63 - len(suffix)].strip("-") + suffix
