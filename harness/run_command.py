"""`sagemaker-harness run -- COMMAND`: any command, its cloud code unchanged, against the local AWS endpoint.

The harness builds the images the project maps, binds the endpoint's port,
and starts the command at once with AWS_ENDPOINT_URL, the region, dummy
credentials, instance metadata off and the SDK's telemetry off. While the
command starts (a script's `import sagemaker` takes seconds), the harness
opens its local environment (endpoint, S3, SageMaker, containers) and seeds
the data the project names; the command's requests wait until that is done.
Container logs stream to stderr as they come; each pipeline execution's
steps are summarised at the end; the harness exits with the command's own
exit code and leaves nothing behind, on Ctrl-C and SIGTERM too.

The environment's modules are imported only once the command runs: their
import is part of what overlaps the command's start.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from harness.emulator.platform import command_environment
from harness.emulator.server import Listener
from harness.emulator.step_cache import cache_limit
from harness.engine.docker import Engine
from harness.errors import UserError
from harness.history import store
from harness.lines import prefixed
from harness.progress import Progress
from harness.projectconfig import DataSeed, ImageSource, ProjectConfig
from harness.signals import wait_for_child

if TYPE_CHECKING:
    from harness.emulator.environment import LocalEnvironment
    from harness.emulator.executor import PipelineRun, StepRecord
    from harness.emulator.storage import EmbeddedS3
    from harness.history.job_logs import JobLogs

STOP_GRACE_S = 10.0  # after Ctrl-C, SIGTERM or a failure to open, how long the command may take to exit
USER_SDK_CONFIG = Path("~/.config/sagemaker/config.yaml")


class CommandNotFound(UserError):
    exit_code = 127  # what a shell answers for a command it cannot find


@dataclass(frozen=True)
class RunRequest:
    command: Sequence[str]
    cwd: Path
    state_dir: Path
    project: ProjectConfig = field(default_factory=ProjectConfig)
    data: tuple[DataSeed, ...] = ()  # --data, beside the configuration's
    port: int = 0
    asynchronous: bool = False
    build: bool = True
    max_parallel: int | None = None  # --max-parallel, over the configuration's max-parallel
    use_cache: bool = True  # --no-cache: every step runs
    keep_on_failure: bool = False  # a failed step's containers and work folder stay, for `harness debug`


def run_command(request: RunRequest, engine: Engine, progress: Progress) -> int:
    if not request.command:
        raise UserError("no command to run", fix="name it after `--`: sagemaker-harness run -- python pipeline.py")
    store.limits()  # a bad HARNESS_HISTORY_RUNS or _MB is refused before the command, not after it
    cache_limit()  # and a bad HARNESS_STEP_CACHE_MB
    build_project_images(request.project.images, engine, progress, request.build)
    listener = Listener.bind(engine.bridge_gateway(), request.port)  # a port in use fails here, before the command
    try:
        with tempfile.TemporaryDirectory(prefix="harness-cmd-") as scratch:
            environment = _command_environment(os.environ, listener.url, Path(scratch))
            child = _start(request.command, request.cwd, environment)
            try:
                code = _beside(child, request, listener, engine, progress)
            except BaseException:
                _stop(child)  # the environment did not open, or Ctrl-C / SIGTERM: the command ends too
                raise
    finally:
        listener.close()
    progress.line(f"harness: {_shown(request.command)} exited with {code}")
    return code


def _beside(child: subprocess.Popen[Any], request: RunRequest, listener: Listener, engine: Engine,
            progress: Progress) -> int:  # fmt: skip
    """Open the environment while the command starts, seed it, let the command's requests through, wait for it;
    then a record and report for every execution it started."""
    from harness.emulator.environment import EnvironmentOptions, LocalEnvironment
    from harness.emulator.kept_jobs import kept_folder
    from harness.emulator.pipeline_options import PipelineOptions
    from harness.history.job_logs import JobLogs, tee

    options = EnvironmentOptions(
        scope_name="cmd",
        images=request.project.aliases(),
        asynchronous=request.asynchronous,
        sdk_session=False,  # the command imports the SDK itself; the harness need not
        on_notice=progress.line,
        wheelhouse=request.project.wheelhouse,
        pipelines=PipelineOptions(
            request.max_parallel or request.project.max_parallel,
            request.use_cache,
            request.project.faults,
            request.project.lambdas,
        ),
        keep_failed_in=kept_folder(request.state_dir) if request.keep_on_failure else None,
        listener=listener,
        hold_clients=True,
    )
    job_logs = JobLogs(store.files_of(request.state_dir, f".jobs-{os.getpid()}"))  # moved into each run's folder
    try:
        with LocalEnvironment.open(request.state_dir, engine, tee(progress.log, job_logs.write), progress.step,
                                   options) as env:  # fmt: skip
            seed(env.s3, (*request.project.data, *request.data), progress)
            timing = "return at once (--async)" if request.asynchronous else "return once the work ended " \
                "(--async: at once)"  # fmt: skip
            progress.line(
                f"harness: local AWS endpoint {env.endpoint_url} (containers: {env.s3.server.container_url}); "
                f"Create*/Start* calls {timing}"
            )
            env.routes.ready.set()  # the command's requests, waiting meanwhile, are answered from now on
            code = _wait(child)
            _after(env, request.state_dir, job_logs, progress)
    finally:
        job_logs.close()
        shutil.rmtree(store.files_of(request.state_dir, f".jobs-{os.getpid()}").folder, ignore_errors=True)
    return code


def _after(env: LocalEnvironment, state_dir: Path, job_logs: JobLogs, progress: Progress) -> None:
    from harness.history.executions import record_executions

    records = record_executions(state_dir, env, env.control.pipelines.runs, job_logs,
                                env.scope.engine.remove_container)  # fmt: skip
    summarise(progress, env.control.pipelines.runs, records)
    _drop_unrecorded_kept_jobs(env, records, progress)
    for use in env.stand_ins.used.values():
        progress.line(f"harness: {use.uri} ran on the stand-in {use.recipe.local_name}, not AWS's image")


def _drop_unrecorded_kept_jobs(env: LocalEnvironment, records: Sequence[dict[str, Any]], progress: Progress) -> None:
    """--keep-on-failure keeps pipeline steps' jobs, which `harness debug RUN STEP` finds through their run's
    record; a failed job the command started itself has no run to prune it with, so it is not kept."""
    from harness.history.runs import remove_kept_folder

    recorded = {str(folder) for record in records for folder in store.kept_folders(record)}
    for job, folder in env.runner.kept.items():
        if str(folder) not in recorded:
            remove_kept_folder(folder, env.scope.engine.remove_container)
            progress.line(f"harness: job {job} failed outside a pipeline: --keep-on-failure keeps pipeline steps "
                          "only (`harness debug RUN STEP`); its container is removed")  # fmt: skip


def build_project_images(images: Sequence[ImageSource], engine: Engine, progress: Progress, build: bool) -> None:
    """Build every image the configuration builds, under its URI's name (Docker's cache makes a rebuild of an
    unchanged context take about a second); `build=False` builds only the absent ones."""
    for image in images:
        if image.context is None or (not build and engine.image(image.uri) is not None):
            continue
        progress.line(f"harness: building {image.uri} from {image.context / image.dockerfile}")
        engine.build(
            image.context, image.uri, image.target, image.build_args, {}, prefixed(progress.line, "    [build] "),
            image.dockerfile,
        )  # fmt: skip


def seed(s3: EmbeddedS3, seeds: Sequence[DataSeed], progress: Progress) -> None:
    for item in seeds:
        s3.ensure_bucket(item.uri.bucket)
        if item.path.is_dir():
            count = len(s3.put_tree(item.path, item.uri))
        else:
            key = item.uri.join(item.path.name) if item.uri.key.endswith("/") or not item.uri.key else item.uri
            s3.put_file(item.path, key)
            count = 1
        progress.line(f"harness: seeded {item.uri} from {item.path} ({count} object{'s' * (count != 1)})")


def _command_environment(inherited: Mapping[str, str], endpoint_url: str, scratch: Path) -> dict[str, str]:
    return command_environment(inherited, endpoint_url, *write_command_files(scratch, inherited))


def command_files(folder: Path) -> tuple[Path, Path]:
    """Where a command's environment points: the empty file that stands for the AWS config and credentials files
    (no profile there can name other endpoints or credentials), and the SageMaker SDK's config override."""
    return folder / "empty", folder / "sagemaker-config.yaml"


def write_command_files(folder: Path, inherited: Mapping[str, str]) -> tuple[Path, Path]:
    """`command_files(folder)`, written: the SDK config is the user's own with telemetry off."""
    empty, sdk_config = command_files(folder)
    empty.write_text("")
    sdk_config.write_text(yaml.safe_dump(sdk_config_without_telemetry(inherited)))
    return empty, sdk_config


def sdk_config_without_telemetry(inherited: Mapping[str, str]) -> dict[str, Any]:
    """The user's own SageMaker SDK config (read, never written) with telemetry turned off."""
    source = Path(inherited.get("SAGEMAKER_USER_CONFIG_OVERRIDE") or USER_SDK_CONFIG).expanduser()
    config: Any = {}
    if source.is_file():
        try:
            config = yaml.safe_load(source.read_text()) or {}
        except yaml.YAMLError as error:
            raise UserError(f"the SageMaker SDK config {source} is not valid YAML: {error}", fix="fix it") from None
    if not isinstance(config, dict):
        config = {}
    config.setdefault("SchemaVersion", "1.0")
    modules = config.setdefault("SageMaker", {}).setdefault("PythonSDK", {}).setdefault("Modules", {})
    modules["TelemetryOptOut"] = True
    return dict(config)


def _start(command: Sequence[str], cwd: Path, environment: dict[str, str]) -> subprocess.Popen[Any]:
    try:
        return subprocess.Popen(list(command), cwd=cwd, env=environment)
    except FileNotFoundError:
        raise CommandNotFound(
            f"command not found: {command[0]}",
            fix="check the name and PATH (the command runs in the current folder with your PATH)",
        ) from None
    except PermissionError:
        raise CommandNotFound(f"{command[0]} is not executable", fix=f"chmod +x {command[0]}") from None


def _wait(child: subprocess.Popen[Any]) -> int:
    try:
        return wait_for_child(child)
    except KeyboardInterrupt:  # Ctrl-C reached the command too (same terminal); SIGTERM did not: pass it on
        _stop(child)
        raise


def _stop(child: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL after STOP_GRACE_S; nothing if it has ended."""
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
    try:
        child.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def summarise(progress: Progress, runs: Sequence[PipelineRun], records: Sequence[dict[str, Any]]) -> None:
    for run, record in zip(runs, records, strict=True):
        progress.line("")
        progress.line(f"pipeline {run.pipeline_name}: execution {run.execution_id} {run.status}")
        rows = [
            (step.name, step.step_type, step.status, f"{step.seconds:.1f}s", _note(step)) for step in run.steps_in_order
        ]
        if rows:
            progress.table(("step", "type", "status", "duration", "note"), rows)
        progress.line(f"run {record['run_id']}: report {record['report']}")


def _note(step: StepRecord) -> str:
    if step.cache_hit:
        return f"cached from execution {step.cache_hit.rsplit('/', 1)[-1]}"
    return step.failure_reason[:100]


def _shown(command: Sequence[str]) -> str:
    text = " ".join(command)
    return text if len(text) <= 60 else text[:57] + "..."
