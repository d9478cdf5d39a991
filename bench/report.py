"""Run-report benchmark: how long `report.html` takes to draw and how big it is, for a record shaped like this
repository's pipeline's (8 steps, short logs), for a large one (100 steps in a chain with branches, 2,000 log
lines each, 20 metrics each) and for long logs (4 steps of 50,000 lines: the page shows each step's last
REPORT_LOG_LINES), against writing the same record as JSON in the same process (the record the run
writes anyway) as the baseline.

Run from the repository root:  .tox/tests/bin/python bench/report.py [--repeat N]   (default 5; a few seconds)
Writes bench/results/report.json. No goal of its own: the report must stay light beside the run it reports.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results" / "report.json"


def record(steps: int, log_lines: int, metrics: int) -> tuple[dict[str, Any], dict[str, str]]:
    """A run record of `steps` processing steps, each depending on the one before and every fifth on two."""
    definition, entries, logs = [], [], {}
    for index in range(steps):
        name = f"Step{index:03d}"
        depends = [f"Step{index - 1:03d}"] if index else []
        if index >= 2 and index % 5 == 0:
            depends.append(f"Step{index - 2:03d}")
        definition.append({"Name": name, "Type": "Processing", "DependsOn": depends, "Arguments": {}})
        objects = [{"key": f"out/{name}/part-{k}.csv", "bytes": 1000 * k, "sha256": "ab" * 32} for k in range(3)]
        entries.append({
            "name": name, "type": "Processing", "status": "Succeeded", "seconds": 1.5, "metadata": {},
            "started": "2026-12-01T10:00:00+00:00",
            "job": {"name": f"pipelines-x-{name}", "image": "harness-processing:local",
                    "image_id": "sha256:" + "c" * 64, "exit_codes": [0], "artifacts": {},
                    "inputs": [{"name": "in", "uri": f"s3://b/in/{name}"}],
                    "outputs": [{"name": "out", "uri": f"s3://b/out/{name}", "objects": objects}]},
            "log": {"path": f"logs/pipelines-x-{name}.log", "lines": log_lines},
            "metrics": {"evaluation.json": {f"metrics.m{k}.value": k / 7 for k in range(metrics)}},
        })  # fmt: skip
        logs[name] = "".join(f"{name} line {n}: loss={n / 3:.4f} <ok> & done\n" for n in range(log_lines))
    return {
        "record_version": 2, "run_id": "20261201T100000Z-bench0", "kind": "run-local", "status": "Succeeded",
        "code": {}, "seconds": 12.3, "started": "2026-12-01T10:00:00+00:00",
        "pipeline": {"name": "bench", "definition": json.dumps({"Version": "2020-12-01", "Steps": definition}),
                     "parameters": {"A": "1"}},
        "execution": {"arn": "arn:aws:sagemaker:us-east-1:000000000000:pipeline/bench/execution/x", "status":
                      "Succeeded", "failure_reason": ""},
        "steps": entries, "egress": {"allowed": "loopback", "refused": []},
    }, logs  # fmt: skip


def measure(repeat: int, steps: int, log_lines: int, metrics: int) -> dict[str, Any]:
    from harness.history.report import render_report

    run, logs = record(steps, log_lines, metrics)
    renders, dumps, size = [], [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        page = render_report(run, run, logs)
        renders.append(time.perf_counter() - started)
        started = time.perf_counter()
        text = json.dumps(run, indent=2, sort_keys=True) + "".join(logs.values())  # the record and logs, written
        dumps.append(time.perf_counter() - started)
        size = len(page.encode())
    render, dump = statistics.median(renders), statistics.median(dumps)
    return {"steps": steps, "log_lines_per_step": log_lines, "render_s": round(render, 4),
            "record_and_logs_json_s": round(dump, 4), "ratio": round(render / dump, 2) if dump else None,
            "report_bytes": size, "record_and_logs_bytes": len(text.encode())}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results = [measure(args.repeat, 8, 20, 6), measure(args.repeat, 100, 2000, 20), measure(args.repeat, 4, 50_000, 5)]
    for result in results:
        print(f"{result['steps']:>4} steps x {result['log_lines_per_step']:>5} log lines: render "
              f"{result['render_s'] * 1000:8.1f} ms vs the record and logs as JSON "
              f"{result['record_and_logs_json_s'] * 1000:7.1f} ms ({result['ratio']}x); report "
              f"{result['report_bytes'] / 1e3:8.1f} kB vs {result['record_and_logs_bytes'] / 1e3:8.1f} kB")  # fmt: skip
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"repeat": args.repeat, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
