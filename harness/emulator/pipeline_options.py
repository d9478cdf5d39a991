"""How this machine runs pipeline executions beyond what a pipeline asks for, and the local services its steps
use: chosen by the caller (CLI flags, `[tool.harness]`), built once per environment."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from harness.emulator.callbacks import Callbacks
from harness.emulator.lambda_step import LambdaFunctions, LambdaHandler
from harness.emulator.retries import InjectedFault
from harness.emulator.step_cache import StepCache


@dataclass(frozen=True)
class PipelineOptions:
    max_parallel: int | None = None  # steps at once at most (--max-parallel); None: scheduler.local_parallel_limit()
    use_cache: bool = True  # False (--no-cache): every step runs; what runs is still kept for later runs
    # [tool.harness.faults]: a step's first attempts fail as the service fails them (to try retry policies)
    faults: Mapping[str, InjectedFault] = field(default_factory=dict)
    # [tool.harness.lambda]: a Lambda function's ARN or name -> the local handler a LambdaStep runs
    lambdas: Mapping[str, LambdaHandler] = field(default_factory=dict)


@dataclass(frozen=True)
class StepServices:
    """What steps reach beyond the SageMaker API: the step cache, the Lambda handlers, the callbacks waiting, where
    the output of what runs on the host (a Lambda handler) goes, as (job, line) like a container's log, and where
    the harness's notices go."""

    cache: StepCache | None = None
    lambdas: LambdaFunctions = field(default_factory=lambda: LambdaFunctions({}, lambda: ""))
    on_log: Callable[[str, str], None] = lambda job, line: None
    on_notice: Callable[[str], None] = lambda text: None  # what runs otherwise than in AWS, said as it happens
    callbacks: Callbacks = field(default_factory=lambda: Callbacks(_no_queue, lambda text: None))


def _no_queue(queue_url: str, body: str) -> None:
    raise LookupError(queue_url)
