"""The closing summary of a local run, from its run record."""

from __future__ import annotations

from typing import Any

from harness.progress import Progress


def _key_outputs(step: dict[str, Any]) -> str:
    metadata = step.get("metadata", {})
    if "Condition" in metadata:
        evaluated = metadata["Condition"].get("Evaluated", [])
        shown = ", ".join(f"{e['Left']} {e['Type']} {e['Right']}" for e in evaluated)
        return f"outcome {metadata['Condition']['Outcome']} ({shown})"
    if "RegisterModel" in metadata:
        return str(metadata["RegisterModel"]["Arn"])
    if "Model" in metadata:
        return str(metadata["Model"]["Arn"])
    if "QualityCheck" in metadata:
        check = metadata["QualityCheck"]
        done = "baseline calculated" + (", registered" if check.get("RegisterNewBaseline") else "")
        return done + (
            "" if check.get("SkipCheck") else f"; checked against {check['BaselineUsedForDriftCheckConstraints']}"
        )
    if step.get("cache_hit"):
        return f"the outputs of execution {str(step['cache_hit']).rsplit('/', 1)[-1]}, no container"
    artifacts = step.get("job", {}).get("artifacts", {})
    return ", ".join(_artifact(name, objects) for name, objects in artifacts.items())


def _artifact(name: str, objects: dict[str, str]) -> str:
    if len(objects) == 1:
        return f"{name}: {next(iter(objects)).rsplit('/', 1)[-1]}"
    return f"{name}: {len(objects)} objects"


def _status(step: dict[str, Any]) -> str:
    """The step's status, marked when it reused an earlier run (CacheConfig) or needed retries."""
    if step.get("cache_hit"):
        return f"{step['status']} (cached)"
    if step.get("attempts", 1) > 1:
        return f"{step['status']} (attempt {step['attempts']})"
    return str(step["status"])


def _natural(violation: tuple[str, str]) -> tuple[str, int, str]:
    """_c2 before _c10."""
    kind, feature = violation
    digits = feature.lstrip("_c")
    return kind, int(digits) if digits.isdigit() else -1, feature


def _execution(execution: dict[str, Any]) -> str:
    count = execution.get("ViolationCount", 0)
    return f"{execution['MonitoringExecutionStatus']} with {count} violation{'s' if count != 1 else ''}"


def print_summary(progress: Progress, record: dict[str, Any]) -> None:
    rows = [
        (s["name"], s["type"], _status(s), f"{s['seconds']:.1f}s", _key_outputs(s)) for s in record.get("steps", [])
    ]
    progress.line("")
    progress.table(("step", "type", "status", "duration", "key outputs"), rows)
    endpoint = record.get("endpoint")
    if endpoint:
        progress.line(
            f"\nendpoint: package v{endpoint['package_version']}, first prediction "
            f"{endpoint['seconds_to_first_prediction']:.2f}s after CreateEndpoint, "
            f"{endpoint['predictions_checked']} predictions equal the evaluate step's, "
            f"{endpoint['captured_records']} data-capture records, deleted"
        )
    monitoring = (endpoint or {}).get("monitoring")
    if monitoring:
        clean, drifted = monitoring["clean"], monitoring.get("drifted") or {}
        line = f"Model Monitor ({monitoring['baseline_step']}'s baseline): the run's requests {_execution(clean)}"
        if drifted:
            found = {(v["constraint_check_type"], v["feature_name"]) for v in drifted["violations"]}
            checks = [f"{kind} on {feature}" for kind, feature in sorted(found, key=_natural)]
            line += f"; {drifted['requests']} drifted requests {_execution(drifted)}"
            line += f" ({', '.join(checks[:4])}{', ...' if len(checks) > 4 else ''})" if checks else ""
        progress.line(line)
    progress.line(f"run {record['run_id']}: {record['status']} in {record['seconds']:.1f}s; record {record['path']}")
    if record.get("report"):
        progress.line(f"report: {record['report']} (`harness report --open`; `harness runs` lists the runs)")
