"""`python3 -m harness_standin.model_monitor`: one baselining or monitoring job, as the processing job runs it.

On success `/opt/ml/output/message` holds the service's exit message ("Completed: Job completed successfully
with no violations." or "CompletedWithViolations: Job completed successfully with N violations."). Bad input
writes a one-line reason to `/opt/ml/output/failure` (the harness's FailureReason; HARNESS_FAILURE_FILE moves
it, HARNESS_MESSAGE_FILE the message) and to stderr, and exits 1. (AWS's analyzer writes its reason to the
message file and exits 255.)
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from harness_standin.model_monitor import contract, data_quality, datasets, drift, model_quality
from harness_standin.model_monitor.contract import AnalyzerError, Config

log = logging.getLogger("harness_standin.model_monitor")


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stdout, format="%(asctime)s - %(name)s - %(levelname)s - %(message)s"
    )
    try:
        config = contract.from_env(os.environ)
        postprocess = None
        if config.post_analytics_processor_script:  # loaded first, so a broken script fails before the analysis
            postprocess = datasets.load_handler(
                config.post_analytics_processor_script, "postprocess_handler",
                "PostProcess Handler not implemented correctly in customer analysis script.",
            )  # fmt: skip
        found = run(config)
        if postprocess:
            log.info("Invoking the post-processing script")
            try:
                postprocess()
            except Exception as error:  # noqa: BLE001 - the user's code: any exception fails the job
                raise AnalyzerError(f"postprocess_handler raised {type(error).__name__}: {error}") from None
    except AnalyzerError as error:
        return _fail(str(error))
    except Exception as error:  # noqa: BLE001 - whatever stops the analysis must reach the failure reason
        traceback.print_exc()
        return _fail(f"{type(error).__name__}: {error}")
    message = (f"CompletedWithViolations: Job completed successfully with {found} violations." if found
               else "Completed: Job completed successfully with no violations.")  # fmt: skip
    _write(Path(os.environ.get("HARNESS_MESSAGE_FILE", "/opt/ml/output/message")), message)
    log.info(message)
    return 0


def run(config: Config) -> int:
    """Reads, analyses and writes the reports; the number of violations found."""
    spec = config.model_quality
    kind = f"model quality ({spec.problem_type})" if spec else "data quality"
    job = "monitoring" if config.monitoring else "baselining"
    context = f"endpoint {config.endpoint_name}, schedule {config.schedule_name}, metric_time {config.metric_time}"
    log.info("%s %s job (%s)", kind, job, context)
    if config.publish_cloudwatch_metrics:
        log.info("publish_cloudwatch_metrics is Enabled: CloudWatch metrics are not published locally")
    constraints: dict[str, Any] | None = None
    baseline: dict[str, Any] | None = None
    if config.baseline_constraints:
        constraints = (model_quality.load_constraints(config.baseline_constraints, spec.problem_type) if spec
                       else drift.load_constraints(config.baseline_constraints))  # fmt: skip
    if config.monitoring and config.baseline_statistics and not spec:
        baseline = drift.load_json(config.baseline_statistics, "baseline_statistics")
        if not isinstance(baseline.get("features"), list):
            raise AnalyzerError(f"baseline_statistics {config.baseline_statistics}: missing field 'features' (a list)")
    elif config.monitoring and not spec:
        log.info("No baseline_statistics: the distributions are not compared")
    names = [f["name"] for f in constraints["features"]] if constraints and not spec else []
    frame = datasets.read(config, names)
    out = config.output_path
    if frame.empty:
        if not config.monitoring:
            raise AnalyzerError(f"dataset_source {config.dataset_source} holds no records to baseline (no data files, "
                                "or files without rows)")  # fmt: skip
        log.info("The window [%s, %s) had no records: nothing to check", config.start_time, config.end_time)
        _dump(out / "statistics.json", {"version": 0.0, "dataset": {"item_count": 0}, "features": []})
        _dump(out / "constraint_violations.json", {"violations": []})
        return 0
    if spec:
        stats = model_quality.evaluate(frame, spec)
        found = model_quality.violations(stats, constraints, spec.problem_type) if constraints else []
        suggested = model_quality.suggest_constraints(stats, spec.problem_type)
    else:
        types = {f["name"]: f.get("inferred_type", "") for f in constraints["features"]} if constraints else None
        stats = data_quality.statistics(frame, types)
        found = (
            drift.violations(frame, stats, constraints, baseline, config.categorical_drift_method)
            if constraints
            else []
        )
        suggested = data_quality.suggest_constraints(stats, config.categorical_drift_method)
    _dump(out / "statistics.json", stats)
    # Written by every run: a monitoring execution's report folder in AWS holds the constraints the current data
    # suggests too, and a pipeline's QualityCheck step takes its new baseline from the same job as its check.
    _dump(out / "constraints.json", suggested)
    if constraints is not None:
        _dump(out / "constraint_violations.json", {"violations": found})
        log.info("%d violation(s)", len(found))
    return len(found)


def _strings_for_nan(value: Any) -> Any:
    """NaN as the string "NaN", as the service's JSON writer (Jackson) puts it."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict):
        return {k: _strings_for_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strings_for_nan(v) for v in value]
    return value


def _dump(path: Path, document: dict[str, Any]) -> None:
    text = json.dumps(_strings_for_nan(document), indent=2, separators=(",", " : "), allow_nan=False)
    _write(path, text + "\n")
    log.info("Wrote %s", path)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _fail(reason: str) -> int:
    line = " ".join(reason.split())
    print(line, file=sys.stderr)
    for variable, default in (("HARNESS_FAILURE_FILE", "/opt/ml/output/failure"),
                              ("HARNESS_MESSAGE_FILE", "/opt/ml/output/message")):  # fmt: skip
        try:
            _write(Path(os.environ.get(variable, default)), line + "\n")
        except OSError as error:
            print(f"cannot write {variable} ({error})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
