"""How long a Create*/Start* call may hold its reply while the work it started runs.

By default the emulator answers Create*Job and StartPipelineExecution once the work has ended, so the SDK's
first Describe already sees the terminal state and its waiters never sleep. Over HTTP that must stay below
the client's read timeout (botocore's default is 60 s; on a timeout it sends the Create again): a call that
arrives over HTTP answers after REPLY_WITHIN_S at the latest, with the work still InProgress, as the service
answers at once, and the work goes on. In-process callers (the session door) have no deadline.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from concurrent.futures import TimeoutError as FutureTimeout
from contextvars import ContextVar

REPLY_WITHIN_S = 45.0  # HARNESS_REPLY_WITHIN_S overrides it (a client configured with a longer read timeout)


def reply_deadline_s() -> float:
    try:
        return float(os.environ.get("HARNESS_REPLY_WITHIN_S") or REPLY_WITHIN_S)
    except ValueError:
        return REPLY_WITHIN_S


_deadline: ContextVar[float | None] = ContextVar("reply_deadline", default=None)


@contextlib.contextmanager
def reply_within(seconds: float) -> Iterator[None]:
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def run_until_reply(executor: Executor, work: Callable[[], object]) -> None:
    """`work` to its end here; under a reply deadline, in `executor` and only until the deadline (the work goes
    on after it). Its exception, when it ends in time, reaches the caller either way."""
    deadline = _deadline.get()
    if deadline is None:
        work()
        return
    future = executor.submit(work)
    with contextlib.suppress(FutureTimeout):
        future.result(timeout=max(0.0, deadline - time.monotonic()))
