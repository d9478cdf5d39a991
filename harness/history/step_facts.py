"""What a run record says of each pipeline step: its job's image, inputs and outputs (each object's size and
sha256), its log file and its metrics (the property files it wrote, a training job's FinalMetricDataList).

Read while the run's environment is still open: the local S3 and the control plane go with it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from harness.emulator.environment import LocalEnvironment
from harness.emulator.executor import PipelineRun, all_steps
from harness.emulator.storage import S3Uri
from harness.history.job_logs import JobLogs

# The step types whose job is a processing, training or transform job, and how to describe it.
_JOB_KINDS = {"Processing": "Processing", "QualityCheck": "Processing", "Training": "Training",
              "Transform": "Transform"}  # fmt: skip
MAX_METRICS_PER_FILE = 200  # a property file is small JSON; a huge one is not a metrics report


def step_entries(env: LocalEnvironment, run: PipelineRun, logs: JobLogs | None) -> list[dict[str, Any]]:
    """One record entry per step the execution reached, in the order they started."""
    definitions = {s["Name"]: s for s in all_steps(list(run.definition.get("Steps", [])))}
    properties = run.properties()
    return [_entry(env, step, definitions.get(step.name, {}), properties.get(step.name, {}), logs)
            for step in run.steps_in_order]  # fmt: skip


def _entry(env: LocalEnvironment, step: Any, definition: Mapping[str, Any], properties: Mapping[str, Any],
           logs: JobLogs | None) -> dict[str, Any]:  # fmt: skip
    entry: dict[str, Any] = {
        "name": step.name,
        "type": step.step_type,
        "status": step.status,
        "started": step.started.isoformat(),
        "seconds": round(step.seconds, 2),
        "metadata": step.metadata,
    }
    if step.failure_reason:
        entry["failure_reason"] = step.failure_reason
    if step.cache_hit:
        entry["cache_hit"] = step.cache_hit  # no job ran: the source execution's outputs stand
    if step.retried:
        entry["attempts"], entry["retried_after"] = step.attempts, list(step.retried)
    job = step.job  # the job the step's last attempt ran, if it ran one
    outcome = env.client.outcomes.get(job) if job else None
    if outcome is not None:
        # Each output object listed and hashed once: `outputs` for the report, `artifacts` as promotion reads it.
        outputs = [_output(env, name, uri) for name, uri in outcome.artifacts.items()]
        entry["job"] = {
            "name": job,
            "image_id": outcome.image_id,
            "exit_codes": list(outcome.exit_codes),
            "artifacts": {o["name"]: {obj["key"]: obj["sha256"] for obj in o["objects"]} for o in outputs},
            **_described(env, step.step_type, job, outputs),
        }
    if job and logs is not None and logs.has(job):
        entry["log"] = {"path": logs.relative(job), "lines": logs.lines(job)}
    if job in env.runner.kept:
        entry["kept"] = {"folder": str(env.runner.kept[job])}
    metrics = _metrics(env, definition, properties, outcome.metrics if outcome else ())
    if metrics:
        entry["metrics"] = metrics
    return entry


def _described(env: LocalEnvironment, step_type: str, job: str, outputs: list[dict[str, Any]]) -> dict[str, Any]:
    """The job's image and inputs as DescribeXJob gives them, and its outputs object by object."""
    kind = _JOB_KINDS.get(step_type)
    if kind is None:
        return {}
    try:
        described = getattr(env.control.jobs, f"describe_{kind.lower()}_job")(**{f"{kind}JobName": job})
    except Exception:  # noqa: BLE001 (a record never fails a run: a job the control plane lost has no details)
        return {}
    return {"image": _image(kind, described), "inputs": list(_inputs(kind, described)),
            "outputs": outputs}  # fmt: skip


def _image(kind: str, described: Mapping[str, Any]) -> str:
    if kind == "Processing":
        return str(described.get("AppSpecification", {}).get("ImageUri", ""))
    if kind == "Training":
        return str(described.get("AlgorithmSpecification", {}).get("TrainingImage", ""))
    return ""  # a transform job names a model, whose image the model holds


def _inputs(kind: str, described: Mapping[str, Any]) -> Iterator[dict[str, str]]:
    if kind == "Processing":
        for item in described.get("ProcessingInputs", []):
            yield {"name": str(item.get("InputName", "")), "uri": str(item.get("S3Input", {}).get("S3Uri", ""))}
    elif kind == "Training":
        for channel in described.get("InputDataConfig", []):
            uri = channel.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri", "")
            yield {"name": str(channel.get("ChannelName", "")), "uri": str(uri)}
    else:
        uri = described.get("TransformInput", {}).get("DataSource", {}).get("S3DataSource", {}).get("S3Uri", "")
        yield {"name": "input", "uri": str(uri)}


def _output(env: LocalEnvironment, name: str, uri: str) -> dict[str, Any]:
    prefix = S3Uri.parse(uri)
    sizes = env.s3.sizes(prefix)
    objects = [{"key": key, "bytes": size, "sha256": env.s3.sha256(S3Uri(prefix.bucket, key))}
               for key, size in sorted(sizes.items())]  # fmt: skip
    return {"name": name, "uri": uri, "objects": objects}


def _metrics(env: LocalEnvironment, definition: Mapping[str, Any], properties: Mapping[str, Any],
             training_metrics: tuple[dict[str, Any], ...]) -> dict[str, dict[str, float]]:  # fmt: skip
    """Every number of every property file the step wrote, by dotted path; a training job's final metrics."""
    found: dict[str, dict[str, float]] = {}
    for property_file in definition.get("PropertyFiles", []):
        try:
            document = env.control.read_property_file(properties, property_file)
        except Exception:  # noqa: BLE001 (a failed step wrote no file: it has no metrics, the run goes on)
            continue
        numbers = dict(list(_numbers(document))[:MAX_METRICS_PER_FILE])
        if numbers:
            found[str(property_file.get("FilePath") or property_file.get("PropertyFileName"))] = numbers
    final = {str(m["MetricName"]): float(m["Value"]) for m in training_metrics if _is_number(m.get("Value"))}
    if final:
        found["FinalMetricDataList"] = final
    return found


def _numbers(document: Any, path: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(document, Mapping):
        for key, value in document.items():
            yield from _numbers(value, f"{path}.{key}" if path else str(key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from _numbers(value, f"{path}[{index}]")
    elif _is_number(document):
        yield path, float(document)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def egress_entry(env: LocalEnvironment) -> dict[str, Any]:
    """The zero-egress proof: where this process was allowed to connect, and every connection it refused."""
    return {"allowed": env.egress.allowance.describe(), "refused": [str(r) for r in env.egress.refusals]}
