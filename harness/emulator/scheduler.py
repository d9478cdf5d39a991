"""When each pipeline step may start: the DAG of DependsOn, property references and Condition branches, run
concurrently up to a limit.

A step starts once every step it depends on has succeeded (a step of a Condition branch also waits for its
Condition); steps that may start, start in the definition's dependency order, so a run's order is the same
every time. After the first failure no further step starts, as in the service: those already running finish,
then the first failure is raised. A step whose dependency never ran (a branch that was not taken) does not run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from harness.emulator.expressions import references
from harness.errors import UserError
from harness.signals import SIGNAL_CHECK_S

Step = dict[str, Any]
# Runs one step to its end; returns the steps of the branch it chose (a Condition), or none.
RunStep = Callable[[Step], list[Step]]

MEMORY_PER_STEP_BYTES = 1 << 30  # one concurrent step per GiB of memory, at most
STEPS_PER_CORE = 2  # a job container spends much of its life starting and waiting on I/O


def local_parallel_limit(cores: int | None = None, memory_bytes: int | None = None) -> int:
    """How many steps this machine runs at once by default: two per core, one per GiB of memory."""
    cores = cores or os.cpu_count() or 1
    if memory_bytes is None:
        try:
            memory_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            memory_bytes = MEMORY_PER_STEP_BYTES * cores * STEPS_PER_CORE
    return max(1, min(cores * STEPS_PER_CORE, memory_bytes // MEMORY_PER_STEP_BYTES))


def parallel_limit(service: Any, local: int | None) -> int:
    """The pipeline's ParallelismConfiguration.MaxParallelExecutionSteps (if any) within the local limit
    (`--max-parallel`, else local_parallel_limit())."""
    here = local if local is not None else local_parallel_limit()
    if here < 1:
        raise UserError(f"--max-parallel must be at least 1, not {here}", fix="pass --max-parallel 1 or more")
    configured = (service or {}).get("MaxParallelExecutionSteps")
    return min(here, int(configured)) if configured else here


def dependencies(step: Step) -> set[str]:
    """The steps a step waits for: DependsOn and every step its arguments reference."""
    return set(step.get("DependsOn", [])) | references(step.get("Arguments", {}))


def order(steps: list[Step]) -> list[Step]:
    """Topological order by DependsOn and references, keeping the written order otherwise."""
    by_name = {s["Name"]: s for s in steps}
    done: list[str] = []

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in done or name not in by_name:
            return
        if name in trail:
            raise UserError(f"the pipeline has a dependency cycle: {' -> '.join((*trail, name))}")
        for dependency in sorted(dependencies(by_name[name])):
            visit(dependency, (*trail, name))
        done.append(name)

    for step in steps:
        visit(step["Name"], ())
    return [by_name[n] for n in done]


def run_dag(steps: list[Step], run_step: RunStep, limit: int, may_start: Callable[[], bool]) -> None:
    """Runs `steps` and the branches they choose, at most `limit` at a time, while `may_start()` holds."""
    pending: list[tuple[Step, set[str]]] = [(s, dependencies(s)) for s in order(steps)]
    succeeded: set[str] = set()
    running: dict[Future[list[Step]], Step] = {}
    failure: BaseException | None = None
    pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="pipeline-step")
    try:
        while True:
            if failure is None and may_start():
                for entry in [e for e in pending if e[1] <= succeeded]:
                    if len(running) >= limit:
                        break
                    pending.remove(entry)
                    running[pool.submit(run_step, entry[0])] = entry[0]
            if not running:
                break
            # In slices: in the main thread (run-local) a signal taken by another thread runs its handler only
            # once this wait returns (harness.signals).
            done, _ = wait(running, timeout=SIGNAL_CHECK_S, return_when=FIRST_COMPLETED)
            for future in _in_submission_order(done, running):
                step = running.pop(future)
                error = future.exception()
                if error is not None:
                    failure = failure or error
                    continue
                succeeded.add(step["Name"])
                pending += [(s, dependencies(s) | {step["Name"]}) for s in order(future.result())]
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)  # Ctrl-C: the environment's close stops their containers
        raise
    pool.shutdown(wait=True)
    if failure is not None:
        raise failure


def _in_submission_order(done: Iterable[Future[list[Step]]], running: dict[Future[list[Step]], Step]) -> list[Any]:
    """Futures that ended together, in the order they started: which failure is 'first' does not vary."""
    finished = set(done)
    return [f for f in running if f in finished]
