"""The pipeline's QualityCheck step: Model Monitor's baselining job plus the drift check against the previous
baseline, as AWS documents it (developer guide: "Baseline calculation, drift detection and lifecycle with
ClarifyCheck and QualityCheck steps").

    SkipCheck RegisterNewBaseline  drift check  BaselineUsedForDriftCheck*
    False     False                yes          the previous baseline (supplied, else the latest approved package's)
    False     True                 yes          the newly calculated one
    True      False                no           the previous baseline
    True      True                 no           the newly calculated one

The step always calculates a new baseline (`CalculatedBaseline*`). The job is the step's own processing
request (the SDK builds it on Model Monitor's analyzer image); for the drift check the previous baseline goes in
as the analyzer's `baseline_statistics`/`baseline_constraints` inputs, as a monitoring job gets them, and the
same job writes the new statistics and constraints beside its violations report.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from harness.emulator.arns import sagemaker_arn
from harness.errors import UserError

# CheckType -> the model package's DriftCheckBaselines member holding that kind of baseline.
DRIFT_CHECK_MEMBER = {"DATA_QUALITY": "ModelDataQuality", "MODEL_QUALITY": "ModelQuality"}
_BASELINE_ROOT = "/opt/ml/processing/baseline"
_LISTED_VIOLATIONS = 5
# The step's own members (beside Arguments), resolved before it runs: any may be a pipeline parameter.
QUALITY_CHECK_SETTINGS = ("CheckType", "SkipCheck", "RegisterNewBaseline", "FailOnViolation", "ModelPackageGroupName",
                          "SuppliedBaselineStatistics", "SuppliedBaselineConstraints")  # fmt: skip


class QualityCheckServices(Protocol):
    def run_step_job(self, step_type: str, job_name: str, request: dict[str, Any]) -> dict[str, Any]: ...
    def latest_approved_package(self, group: str) -> dict[str, Any] | None: ...
    def read_json(self, uri: str) -> Any: ...


@dataclass(frozen=True)
class Baseline:
    statistics: str  # S3 URIs
    constraints: str


@dataclass(frozen=True)
class CheckOutcome:
    properties: dict[str, Any]
    metadata: dict[str, Any]  # ListPipelineExecutionSteps' QualityCheck member
    job: dict[str, Any]  # the processing job's description (what a cache entry keeps the outputs of)
    failure: str = ""  # violations found with FailOnViolation: the step fails with this reason


def run_quality_check(
    step: Mapping[str, Any], settings: Mapping[str, Any], request: dict[str, Any], job: str,
    services: QualityCheckServices,
) -> CheckOutcome:  # fmt: skip
    """Run the check step `step` whose resolved members are `settings` and resolved Arguments `request`."""
    name, check_type = str(step["Name"]), str(settings.get("CheckType", ""))
    if check_type not in DRIFT_CHECK_MEMBER:
        raise UserError(f"step {name!r}: CheckType {check_type!r} is not one of {', '.join(DRIFT_CHECK_MEMBER)}")
    skip, register_new = _flag(settings, "SkipCheck"), _flag(settings, "RegisterNewBaseline")
    previous = _previous_baseline(name, check_type, settings, services) if not (skip and register_new) else None
    job_request = request if skip else _with_drift_check(request, previous)
    description = services.run_step_job("Processing", job, job_request)
    if description.get("ProcessingJobStatus") != "Completed":
        reason = description.get("FailureReason") or f"processing job {description.get('ProcessingJobStatus')}"
        raise UserError(f"the quality check job {job} failed: {reason}")
    results = _results_uri(name, job_request)
    calculated = Baseline(f"{results}/statistics.json", f"{results}/constraints.json")
    used = calculated if register_new else previous
    assert used is not None  # _previous_baseline refused the step when it was needed and missing
    metadata: dict[str, Any] = {
        "CheckType": check_type,
        "BaselineUsedForDriftCheckStatistics": used.statistics,
        "BaselineUsedForDriftCheckConstraints": used.constraints,
        "CalculatedBaselineStatistics": calculated.statistics,
        "CalculatedBaselineConstraints": calculated.constraints,
        "ModelPackageGroupName": settings.get("ModelPackageGroupName") or "",
        "CheckJobArn": sagemaker_arn("processing-job", job),
        "SkipCheck": skip,
        "RegisterNewBaseline": register_new,
    }
    failure = ""
    if not skip:
        report = f"{results}/constraint_violations.json"
        metadata["ViolationReport"] = report
        violations = list((services.read_json(report) or {}).get("violations", []))
        if violations and previous is not None and _flag(settings, "FailOnViolation", default=True):
            failure = _violation_reason(check_type, violations, report, previous)  # what it was checked against
    properties = {key: metadata[key] for key in (
        "CalculatedBaselineStatistics", "CalculatedBaselineConstraints",
        "BaselineUsedForDriftCheckStatistics", "BaselineUsedForDriftCheckConstraints")}  # fmt: skip
    return CheckOutcome(properties, metadata, description, failure)


def _flag(settings: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = settings.get(key, default)
    return value.lower() == "true" if isinstance(value, str) else bool(value if value is not None else default)


def _previous_baseline(
    name: str, check_type: str, settings: Mapping[str, Any], services: QualityCheckServices
) -> Baseline:
    """The supplied baseline, else the latest approved model package's drift-check baseline of this kind."""
    statistics, constraints = settings.get("SuppliedBaselineStatistics"), settings.get("SuppliedBaselineConstraints")
    group = settings.get("ModelPackageGroupName")
    if not (statistics and constraints) and group:
        package = services.latest_approved_package(str(group)) or {}
        registered = (package.get("DriftCheckBaselines") or {}).get(DRIFT_CHECK_MEMBER[check_type]) or {}
        statistics = statistics or (registered.get("Statistics") or {}).get("S3Uri")
        constraints = constraints or (registered.get("Constraints") or {}).get("S3Uri")
    if statistics and constraints:
        return Baseline(str(statistics), str(constraints))
    member = DRIFT_CHECK_MEMBER[check_type]
    where = f"model package group {group!r} has no approved package with DriftCheckBaselines.{member}" if group \
        else "no model_package_group_name names a registry to take it from"  # fmt: skip
    raise UserError(
        f"step {name!r}: the previous {check_type} baseline is needed (skip_check=False or "
        f"register_new_baseline=False) but none is available: no supplied_baseline_statistics and "
        f"supplied_baseline_constraints, and the {where}",
        fix="on a pipeline's first run set skip_check=True and register_new_baseline=True, or pass "
        "supplied_baseline_statistics and supplied_baseline_constraints",
    )


def _with_drift_check(request: dict[str, Any], previous: Baseline | None) -> dict[str, Any]:
    """The step's job with the previous baseline as the analyzer's baseline inputs."""
    assert previous is not None
    checked = copy.deepcopy(request)
    inputs, environment = checked.setdefault("ProcessingInputs", []), checked.setdefault("Environment", {})
    for kind, uri in (("statistics", previous.statistics), ("constraints", previous.constraints)):
        folder = f"{_BASELINE_ROOT}/{kind}"
        inputs.append({
            "InputName": f"baseline_{kind}",
            "AppManaged": False,
            "S3Input": {"S3Uri": uri, "LocalPath": folder, "S3DataType": "S3Prefix", "S3InputMode": "File",
                        "S3DataDistributionType": "FullyReplicated"},
        })  # fmt: skip
        environment[f"baseline_{kind}"] = f"{folder}/{uri.rstrip('/').rsplit('/', 1)[-1]}"
    return checked


def _results_uri(name: str, request: Mapping[str, Any]) -> str:
    outputs = (request.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    for output in outputs:
        uri = (output.get("S3Output") or {}).get("S3Uri")
        if uri:
            return str(uri).rstrip("/")
    raise UserError(f"step {name!r}: the quality check's job has no S3 output for its results")


def _violation_reason(check_type: str, violations: list[dict[str, Any]], report: str, checked: Baseline) -> str:
    listed = "; ".join(
        f"{v.get('constraint_check_type', '?')} on {v.get('feature_name') or v.get('metric_name') or '?'}"
        for v in violations[:_LISTED_VIOLATIONS]
    )
    more = f" and {len(violations) - _LISTED_VIOLATIONS} more" if len(violations) > _LISTED_VIOLATIONS else ""
    return (
        f"ClientError: {check_type} check found {len(violations)} violation(s) of the baseline constraints "
        f"{checked.constraints}: {listed}{more}. Violation report: {report}"
    )
