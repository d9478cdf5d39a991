"""Parallel-steps benchmark: a DAG of independent branches against its critical path, in the same process.

Run from the repository root:  .tox/tests/bin/python bench/parallel.py [--repeat N] [--branches K] [--sleep S]
(default 3 repeats, 4 branches, 1.0 s jobs; about 1 minute; needs `harness-processing:local`: harness images build)

One local environment (the SDK's session door, real containers) runs two pipelines, alternately, N times each:
  fan-out:  K independent branches, each two chained light processing jobs (`time.sleep(S)`), then a join step;
  critical: one branch of the same two jobs, then the same join: the fan-out's critical path.
Each execution is timed from `pipeline.start()` to its return (the session door runs it to its end). The steps
run at the harness's default local limit (2 a core, 1 a GiB of memory) unless --max-parallel is given.
Goal: the fan-out's median <= 1.2x the critical path's median. Writes bench/results/parallel.json; exit status 3
when the goal fails. Every container, network and folder is removed on success, failure and Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from benchkit import write_results  # noqa: E402

from harness.emulator.environment import EnvironmentOptions, LocalEnvironment  # noqa: E402
from harness.emulator.pipeline_options import PipelineOptions  # noqa: E402
from harness.emulator.scheduler import local_parallel_limit  # noqa: E402
from harness.engine.docker import Engine  # noqa: E402

ROLE = "arn:aws:iam::000000000000:role/bench"
IMAGE = "harness-processing:local"
GOAL = 1.2
RESULTS = ROOT / "bench" / "results" / "parallel.json"


def _pipeline(env: LocalEnvironment, name: str, branches: int, code: Path):  # type: ignore[no-untyped-def]
    from sagemaker.processing import ScriptProcessor
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import ProcessingStep

    processor = ScriptProcessor(image_uri=IMAGE, command=["python3"], role=ROLE, instance_count=1,
                                instance_type="ml.m5.large", sagemaker_session=env.session)  # fmt: skip

    def step(step_name: str, after: list[ProcessingStep]) -> ProcessingStep:
        return ProcessingStep(step_name, step_args=processor.run(code=str(code)), depends_on=after or None)

    steps: list[ProcessingStep] = []
    ends = []
    for branch in range(branches):
        first = step(f"Prepare{branch}", [])
        second = step(f"Fit{branch}", [first])
        steps += [first, second]
        ends.append(second)
    steps.append(step("Join", ends))
    return Pipeline(name=name, steps=steps, sagemaker_session=env.session)


def _timed(pipeline) -> float:  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    execution = pipeline.start()
    took = time.perf_counter() - began
    status = execution.describe()["PipelineExecutionStatus"]
    if status != "Succeeded":
        raise SystemExit(f"[bench] {pipeline.name}: execution {status}: {execution.describe().get('FailureReason')}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--branches", type=int, default=4)
    parser.add_argument("--sleep", type=float, default=1.0, help="each job's own work, seconds")
    parser.add_argument("--max-parallel", type=int, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("sagemaker").setLevel(logging.ERROR)  # its config and telemetry notices, once per step
    engine = Engine.connect()
    if engine.image(IMAGE) is None:
        raise SystemExit(f"[bench] {IMAGE} is missing: run `.tox/tests/bin/harness images build` first")
    limit = args.max_parallel or local_parallel_limit()
    times: dict[str, list[float]] = {"fan-out": [], "critical": []}
    with tempfile.TemporaryDirectory(prefix="harness-bench-parallel-") as scratch:
        code = Path(scratch) / "light.py"
        code.write_text(f"import time\ntime.sleep({args.sleep})\n")
        options = EnvironmentOptions(scope_name="bench-parallel", pipelines=PipelineOptions(args.max_parallel))
        with LocalEnvironment.open(Path(scratch) / "state", engine, lambda job, line: None, lambda r: None,
                                   options) as env:  # fmt: skip
            pipelines = {
                "fan-out": _pipeline(env, "bench-fan-out", args.branches, code),
                "critical": _pipeline(env, "bench-critical-path", 1, code),
            }
            for pipeline in pipelines.values():
                pipeline.upsert(role_arn=ROLE)
            _timed(pipelines["critical"])  # untimed warm-up: the page cache, the image's layers
            for repeat in range(args.repeat):
                for label, pipeline in pipelines.items():
                    times[label].append(_timed(pipeline))
                print(f"[bench] run {repeat + 1}/{args.repeat}: fan-out {times['fan-out'][-1]:.2f} s, "
                      f"critical path {times['critical'][-1]:.2f} s", flush=True)  # fmt: skip
    fan_out, critical = statistics.median(times["fan-out"]), statistics.median(times["critical"])
    ratio = fan_out / critical
    passed = ratio <= GOAL
    load = os.getloadavg()[0]
    print(f"median of {args.repeat} run(s), seconds; {os.cpu_count()} CPUs, local limit {limit} steps at once, "
          f"1-min load average {load:.1f}")  # fmt: skip
    print(f"fan-out ({args.branches} branches x 2 jobs + join, {2 * args.branches + 1} jobs): {fan_out:.2f}")
    print(f"critical path (1 branch x 2 jobs + join, 3 jobs): {critical:.2f}")
    print(f"ratio: {ratio:.2f}x  [{'PASS' if passed else 'FAIL'}] fan-out <= {GOAL}x its critical path")
    write_results(RESULTS, {
        "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpus": os.cpu_count(), "load_average_1m": load,
        "branches": args.branches, "job_sleep_s": args.sleep, "parallel_limit": limit, "runs": times,
        "median_s": {"fan_out": fan_out, "critical_path": critical}, "ratio": ratio, "goal": GOAL, "passed": passed,
    })  # fmt: skip
    return 0 if passed else 3


if __name__ == "__main__":
    sys.exit(main())
