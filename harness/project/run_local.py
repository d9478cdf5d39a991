"""`harness run-local`: the project's pipeline, end to end, offline.

Build what is stale, check library parity between the training and inference
images, run the pipeline through the local session, deploy the latest approved
model package, check the endpoint against the evaluate step, delete it, write
the run record and print the summary.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from botocore.exceptions import ClientError

from harness.emulator.environment import EnvironmentOptions, LocalEnvironment
from harness.emulator.executor import PipelineRun
from harness.emulator.expressions import walk
from harness.emulator.kept_jobs import kept_folder
from harness.emulator.pipeline_options import PipelineOptions
from harness.emulator.sdk_session import default_boto_session
from harness.emulator.storage import S3Uri, sha256_file
from harness.engine.docker import Engine, Scope
from harness.errors import ContractViolation, InfrastructureError, JobFailed, UserError
from harness.history import runs as history
from harness.history.job_logs import JobLogs, tee
from harness.history.step_facts import egress_entry, step_entries
from harness.history.store import RECORD_VERSION, new_run_id
from harness.images.standins import is_standin
from harness.progress import Progress
from harness.project.config import Settings
from harness.project.deploy_check import (
    Deployment,
    captured_records,
    check_against_evaluation,
    delete_deployment,
    deploy_latest_approved,
    invoke,
)
from harness.project.images import (
    build_images,
    cached_library_versions_of,
    stale_images,
    version_differences,
)
from harness.project.monitor_check import monitoring_pass
from harness.project.record import code_hashes, sha256_text
from harness.project.run_local_config import RunLocalConfig, load_run_local


@dataclass(frozen=True)
class RunOptions:
    parameters: dict[str, str] = field(default_factory=dict)
    deploy: bool = True
    use_cache: bool = True  # --no-cache: every step runs
    keep_on_failure: bool = False  # a failed step's containers and work folder stay, for `harness debug`


def load_pipeline_module(settings: Settings) -> ModuleType:
    path = load_run_local(settings.project_root).pipeline
    spec = importlib.util.spec_from_file_location("harness_user_pipeline", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise UserError(
            f"{path} not found",
            fix="[tool.harness.run-local] pipeline names the file that defines build_pipeline() and PipelineSettings",
        )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses in the module look themselves up there
    spec.loader.exec_module(module)
    return module


def prepare_images(settings: Settings, config: RunLocalConfig, engine: Engine, progress: Progress) -> dict[str, str]:
    """PipelineSettings field -> local image, for every configured image; stale targets are built first."""
    if not config.images:
        raise UserError(
            "[tool.harness.run-local.images] names no images for the pipeline",
            fix='add one line per PipelineSettings image field, e.g. training_image = { target = "training" }',
        )
    wanted = {image.target for image in config.images if image.target is not None}
    stale = [kind for kind in stale_images(settings, engine) if kind in wanted]
    if stale:
        progress.line(f"building {', '.join(k.value for k in stale)} (missing or out of date)")
        build_images(settings, engine, stale, lambda line: None, on_target=progress.target)
    for image in config.images:
        if image.local and engine.image(image.local) is None:
            raise UserError(
                f"[tool.harness.run-local.images] {image.field} names {image.local}, which does not exist locally",
                fix=f'build or pull {image.local}, or name a target: {image.field} = {{ target = "training" }}',
            )
    return {image.field: settings.image_name(image.target.value) if image.target else image.local
            for image in config.images}  # fmt: skip


def _image_entry(engine: Engine, tag: str) -> dict[str, Any]:
    info = engine.image(tag)
    if info is None:  # prepare_images() just built it: only a concurrent `docker rmi` gets here
        raise InfrastructureError(
            f"image {tag} disappeared during the run", fix="re-run; do not remove images meanwhile"
        )
    return {"tag": tag, "id": info.id, "stand_in": is_standin(info)}


def check_parity(
    settings: Settings, engine: Engine, images: dict[str, str], fields: tuple[str, ...]
) -> dict[str, str | None]:
    """The library versions of the parity images (the first's), refused when any two differ."""
    if not fields:
        return {}
    cache = settings.state_dir / "image-versions.json"
    with Scope(engine, "parity") as scope:
        versions = cached_library_versions_of(scope, [images[name] for name in fields], cache)
    for name, other in zip(fields[1:], versions[1:], strict=True):
        differences = version_differences(versions[0], other)
        if differences:
            raise ContractViolation(
                f"the {fields[0]} and {name} images carry different library versions: " + "; ".join(differences),
                fix="build both from one lock: `harness images build`",
            )
    return versions[0]


def run_local(settings: Settings, engine: Engine, progress: Progress, options: RunOptions) -> dict[str, Any]:
    record: dict[str, Any] = {
        "record_version": RECORD_VERSION,
        "run_id": new_run_id(),
        "started": datetime.now(UTC).isoformat(),
        "status": "Failed",
        "code": code_hashes(settings),
        "kind": "run-local",
    }
    started = time.monotonic()
    files = history.begin(settings.state_dir, record)
    logs = JobLogs(files)
    try:
        config = load_run_local(settings.project_root)
        images = prepare_images(settings, config, engine, progress)
        record["images"] = {k: _image_entry(engine, tag) for k, tag in images.items()}
        record["libraries"] = check_parity(settings, engine, images, config.parity)
        module = load_pipeline_module(settings)
        environment = EnvironmentOptions(
            pipelines=PipelineOptions(use_cache=options.use_cache),
            keep_failed_in=kept_folder(settings.state_dir) if options.keep_on_failure else None,
        )
        with (
            LocalEnvironment.open(settings.state_dir, engine, tee(progress.log, logs.write), progress.step,
                                  environment) as env,
            default_boto_session(env.s3.boto_session),
        ):  # fmt: skip
            try:
                _run_pipeline(settings, config, env, module, images, options, record, logs, progress)
            finally:
                record["egress"] = egress_entry(env)
    finally:
        logs.close()
        record["ended"] = datetime.now(UTC).isoformat()
        record["seconds"] = round(time.monotonic() - started, 2)
        record["path"] = str(history.finish(settings.state_dir, record, engine.remove_container))
    return record


def _run_pipeline(
    settings: Settings,
    config: RunLocalConfig,
    env: LocalEnvironment,
    module: ModuleType,
    images: dict[str, str],
    options: RunOptions,
    record: dict[str, Any],
    logs: JobLogs,
    progress: Progress,
) -> None:
    pipeline_settings = module.PipelineSettings(bucket=env.bucket, **images)
    # What the run puts in S3 itself; promotion uploads the same bytes to the cloud bucket.
    record["seeded"] = []
    for path, key in config.data.items():
        uri = S3Uri(env.bucket, key)
        env.s3.put_file(path, uri)
        record["seeded"].append(
            {"path": path.relative_to(settings.project_root).as_posix(), "uri": str(uri), "sha256": sha256_file(path)}
        )
    record["bucket"] = env.bucket
    record["role"] = pipeline_settings.role
    pipeline = module.build_pipeline(env.session, pipeline_settings)
    definition = pipeline.definition()
    parameters = {**config.parameters, **options.parameters}
    record["pipeline"] = {
        "name": pipeline.name,
        "definition_sha256": sha256_text(definition),
        "definition": definition,
        "parameters": parameters,
    }
    pipeline.upsert(role_arn=pipeline_settings.role)
    progress.line(f"pipeline {pipeline.name}: {len(definition)} bytes of definition, parameters {parameters}")
    pipeline.start(parameters=parameters)
    run = env.client.executions[-1]
    if run.status == "Stopped":
        # The SDK's telemetry wrapper around Pipeline.start() returns from a `finally`
        # block, which swallows KeyboardInterrupt: raise it again so the run stops.
        raise KeyboardInterrupt
    record["execution"] = {"arn": run.arn, "status": run.status, "failure_reason": run.failure_reason}
    record["steps"] = step_entries(env, run, logs)
    if run.status != "Succeeded":
        raise JobFailed(f"pipeline execution failed: {run.failure_reason}", fix=_failure_fix(record))
    if options.deploy:
        record["endpoint"] = _deploy_and_check(config, env, run, pipeline_settings, progress)
    record["status"] = "Succeeded"


def _failure_fix(record: dict[str, Any]) -> str:
    """Where to look: the failed step's log and the report; its container, when it was kept."""
    run_id = record["run_id"]
    failed = [s for s in record.get("steps", []) if s["status"] == "Failed"]
    step = failed[0]["name"] if failed else "STEP"
    fix = (f"later steps did not run and nothing was registered after the failing step; its log: "
           f"`harness logs {run_id} {step}`, the run: `harness report {run_id}`")  # fmt: skip
    if failed and failed[0].get("kept"):
        return fix + f"; a shell in its container, as it was: `harness debug {run_id} {step}`"
    return fix + "; re-run with --keep-on-failure to get into the failed step's container (`harness debug`)"


def _step_output(run_properties: dict[str, Any], output_name: str, file_name: str) -> S3Uri:
    output = walk(run_properties, f"ProcessingOutputConfig.Outputs['{output_name}'].S3Output.S3Uri", output_name)
    return S3Uri.parse(output).join(file_name)


def _deploy_and_check(
    config: RunLocalConfig, env: LocalEnvironment, run: PipelineRun, pipeline_settings: Any, progress: Progress
) -> dict[str, Any]:
    try:
        return _deploy_and_invoke(config, env, run, pipeline_settings, progress)
    except ClientError as error:  # the local API answered as AWS would: the endpoint or its container failed
        details = error.response.get("Error", {})
        message = str(details.get("Message", error))
        raise JobFailed(
            f"the endpoint check failed: {error.operation_name}: {details.get('Code', '?')}: {message.splitlines()[0]}",
            fix="the inference container's log is below; `harness check IMAGE --kind inference --model ...` "
            "names the contract it breaks",
            details="\n".join(message.splitlines()[1:]),
        ) from error


def _deploy_and_invoke(
    config: RunLocalConfig, env: LocalEnvironment, run: PipelineRun, pipeline_settings: Any, progress: Progress
) -> dict[str, Any]:
    payloads = sorted(config.payloads.iterdir()) if config.payloads and config.payloads.is_dir() else []
    if not payloads:
        raise UserError(
            f"no payloads to send to the endpoint in {config.payloads}",
            fix="[tool.harness.run-local] payloads names a folder of .csv/.json requests; or run with --no-deploy",
        )
    first = _payload(payloads[0])
    window_start = datetime.now(UTC).replace(microsecond=0)  # every request of this deployment is captured after
    progress.line("deploying the latest approved model package (CreateModel, CreateEndpointConfig, CreateEndpoint)")
    deployment = deploy_latest_approved(
        env, pipeline_settings.model_package_group, pipeline_settings.role, pipeline_settings.instance_type, first
    )
    try:
        progress.line(
            f"endpoint {deployment.endpoint} (package v{deployment.package_version}) answered its first "
            f"prediction {deployment.seconds_to_first_prediction:.2f}s after CreateEndpoint"
        )
        for path in payloads:
            body, content_type = _payload(path)
            answer = invoke(env, deployment.endpoint, body, content_type)
            progress.line(f"    {path.name}: {answer.decode()[:80].strip()!r}")
        checked = _check_predictions(config, env, run, deployment)
        if checked:
            progress.line(f"endpoint predictions equal the evaluate step's on all {checked} test rows")
        monitoring = _monitor(config, env, run, deployment, pipeline_settings.role, window_start, progress)
    finally:
        delete_deployment(env, deployment)
    captured = captured_records(env, deployment)
    # The first prediction, each payload, the check, the drifted requests.
    invocations = 1 + len(payloads) + (1 if checked else 0) + int(monitoring.get("drifted", {}).get("requests", 0))
    entry = _deployment_entry(deployment, invocations, len(captured), checked)
    if monitoring:
        entry["monitoring"] = monitoring
    return entry


def _monitor(config: RunLocalConfig, env: LocalEnvironment, run: PipelineRun, deployment: Deployment, role: str,
             window_start: datetime, progress: Progress) -> dict[str, Any]:  # fmt: skip
    """Model Monitor on the endpoint with the pipeline's data baseline (nothing when none is configured)."""
    if config.monitor_baseline is None:
        return {}
    drifted = sorted(config.drifted_payloads.glob("*.csv")) if config.drifted_payloads else []
    progress.line(f"Model Monitor: a data-quality schedule on {deployment.endpoint} with {config.monitor_baseline}'s "
                  "baseline")  # fmt: skip
    return monitoring_pass(env, deployment.endpoint, role, config.monitor_baseline, run.properties(), drifted,
                           window_start, progress.line, config.monitor_preprocessor)  # fmt: skip


def _check_predictions(config: RunLocalConfig, env: LocalEnvironment, run: PipelineRun, deployment: Deployment) -> int:
    """The endpoint's answers on the configured input rows equal the configured step's predictions (0: no check)."""
    if config.check_inputs is None or config.check_predictions is None:
        return 0
    properties = run.properties()
    inputs, predictions = config.check_inputs, config.check_predictions
    for step in (inputs.step, predictions.step):
        if step not in properties:
            raise UserError(f"[tool.harness.run-local] names step {step!r}, which this execution did not run",
                            fix=f"steps run: {', '.join(properties)}")  # fmt: skip
    return check_against_evaluation(
        env,
        deployment.endpoint,
        env.s3.get_bytes(_step_output(properties[inputs.step], inputs.output, inputs.file)),
        env.s3.get_bytes(_step_output(properties[predictions.step], predictions.output, predictions.file)),
    )


def _deployment_entry(deployment: Deployment, invocations: int, captured: int, checked: int) -> dict[str, Any]:
    if captured != invocations:
        raise JobFailed(
            f"data capture wrote {captured} records for {invocations} invocations",
            fix="check the endpoint config's DataCaptureConfig",
        )
    return {
        "name": deployment.endpoint,
        "package_arn": deployment.package_arn,
        "package_version": deployment.package_version,
        "seconds_to_first_prediction": round(deployment.seconds_to_first_prediction, 3),
        "predictions_checked": checked,
        "capture_uri": deployment.capture_uri,
        "captured_records": captured,
    }


def _payload(path: Path) -> tuple[bytes, str]:
    return path.read_bytes(), "text/csv" if path.suffix == ".csv" else "application/json"
