"""Step-caching benchmark: this repository's pipeline re-run unchanged, its pipeline part with every job step cached.

Run from the repository root:  .tox/tests/bin/python bench/caching.py [--repeat N]
(default 3; about 30 s; needs the three images up to date: harness images build)

It re-executes itself in the sanitized environment `harness run-local` uses. With a fresh state folder it runs
`run_local()` (no deploy) once cold, which runs Preprocess, DataQualityCheck, Train and Evaluate and keeps them
in the step cache (jobs/pipeline.py gives them `CacheConfig(enable_caching=True, expire_after="P30D")`), then
N times unchanged against the same state folder, and once more with `use_cache=False` (every step runs) as the
baseline in the same process. Each time it records the pipeline part: `Pipeline.start()` to its return (the
session door runs the execution to its end). Goal: the cached re-run's median <= 1.5 s. Writes
bench/results/caching.json; exit status 3 when the goal fails. Its state folder is a temporary one, removed
after; no container is left behind.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

GOAL_S = 1.5
CACHED_STEPS = ("Preprocess", "DataQualityCheck", "Train", "Evaluate")  # the definition's order
RESULTS = ROOT / "bench" / "results" / "caching.json"


def main() -> int:
    from harness.engine.sandbox import is_sanitized, sanitized

    if not is_sanitized(os.environ):
        os.execve(sys.executable, [sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]], sanitized(os.environ))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from benchkit import patched, write_results
    from sagemaker.workflow.pipeline import Pipeline

    from harness.engine.docker import Engine
    from harness.progress import Progress
    from harness.project.config import Settings
    from harness.project.run_local import RunOptions, run_local

    engine = Engine.connect()
    starts: list[float] = []
    original_start = Pipeline.start

    def timed_start(pipeline: Any, *a: Any, **k: Any) -> Any:
        began = time.perf_counter()
        try:
            return original_start(pipeline, *a, **k)
        finally:
            starts.append(time.perf_counter() - began)

    def once(settings: Settings, use_cache: bool) -> tuple[float, list[str]]:
        record = run_local(settings, engine, Progress(show_logs=False), RunOptions(deploy=False, use_cache=use_cache))
        cached = [step["name"] for step in record["steps"] if step.get("cache_hit")]
        return starts[-1], cached

    with tempfile.TemporaryDirectory(prefix="harness-bench-caching-") as scratch, \
            patched(Pipeline, "start", timed_start):  # fmt: skip
        settings = replace(Settings.from_env(), state_dir=Path(scratch) / "state")
        cold, cold_cached = once(settings, use_cache=True)
        print(f"[bench] cold: pipeline part {cold:.2f} s (cached steps: {cold_cached or 'none'})", flush=True)
        warm: list[float] = []
        for repeat in range(args.repeat):
            seconds, cached = once(settings, use_cache=True)
            warm.append(seconds)
            print(f"[bench] re-run {repeat + 1}/{args.repeat}: pipeline part {seconds:.2f} s, cached: {cached}",
                  flush=True)  # fmt: skip
            if cached != list(CACHED_STEPS):
                raise SystemExit(f"[bench] expected {', '.join(CACHED_STEPS)} cached, got {cached}")
        uncached, _ = once(settings, use_cache=False)
        print(f"[bench] --no-cache: pipeline part {uncached:.2f} s", flush=True)
    median = statistics.median(warm)
    passed = median <= GOAL_S
    print(f"cached re-run, pipeline part: {median:.2f} s median (runs {', '.join(f'{w:.2f}' for w in warm)}); "
          f"every step run: {uncached:.2f} s ({median / uncached:.2f}x); cold first run {cold:.2f} s")  # fmt: skip
    print(f"[{'PASS' if passed else 'FAIL'}] cached re-run <= {GOAL_S} s; 1-min load average {os.getloadavg()[0]:.1f}")
    write_results(RESULTS, {
        "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "load_average_1m": os.getloadavg()[0],
        "cold_s": cold, "cached_runs_s": warm, "cached_median_s": median, "no_cache_s": uncached,
        "goal_s": GOAL_S, "passed": passed,
    })  # fmt: skip
    return 0 if passed else 3


if __name__ == "__main__":
    sys.exit(main())
