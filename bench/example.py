"""Example-project benchmark: an example project through `sagemaker-harness run` against its bare containers.

Run from the repository root:  .tox/tests/bin/python bench/example.py [--repeat N] [--example NAME]
(default 3 repeats of examples/house-prices; ~1 min a repeat)

--example house-prices (the default): `python pipeline.py`, its job steps PrepareFeatures, FitRegressor, ScoreModel on
  the two images its pyproject builds ([tool.harness.images]); results in bench/results/example.json.
--example diabetes-xgboost: `python run_pipeline.py --approve` (no deploy), its job steps PreprocessDiabetesData,
  TrainDiabetesModel, EvaluateDiabetesModel on AWS's scikit-learn and XGBoost images (the harness's stand-ins; no
  [tool.harness.images]); results in bench/results/example-diabetes-xgboost.json.
Below, `python pipeline.py` and the three job steps stand for the chosen example's command and steps; each
example's data comes from its pyproject's [tool.harness] data.

1. Untimed, once: `sagemaker-harness run --quiet -- python pipeline.py` from the example's folder, which builds the
   example's images from its pyproject's [tool.harness.images] (an unchanged context is Docker's cache), or the
   stand-ins of AWS's images its jobs name when they are absent or stale, and warms the page cache.
2. Untimed, discovery: the same script against a LocalEnvironment opened in this process as `run` opens it (the
   project's image map, its seeded data, the command's environment), under a wrapper that runs the script as
   `python SCRIPT ARGS` would (as __main__, its arguments in sys.argv, its folder first on sys.path) and times its
   phases (its SDK import, its body, its `if __name__ == "__main__"` block, session, get_pipeline() wherever the
   script's namespace has one, definition(), upsert(), start(), the SDK's config validations, its interpreter's
   exit). Every job container the harness creates is recorded: its spec (image, entrypoint,
   command, environment, hostname) and a copy of its mounted host folders as staged (inputs in place), i.e. the
   exact commands, environments and inputs. Then the script once more with the SDK validating each distinct
   config once (harness.emulator.sdk_session.validate_config_once, in the wrapper only): what that SDK
   behaviour costs it. And a
   fresh interpreter replaying `run`'s own start and end step by step (its imports, Docker, the project file, the
   image checks, the environment's open, the seeding, the close).
3. N repeats, back to back:
   harness: `sagemaker-harness run --no-build --quiet -- python pipeline.py` from the example's folder as a user
     types it: a subprocess from a cold interpreter, timed to its exit, each output line timestamped (the harness's
     start until its command starts, seen as its child process; its environment's opening, which overlaps the
     command's start, until its endpoint line; the command; the harness's end), peak VmHWM of the harness. Its
     own state folder (HARNESS_STATE_DIR) and TMPDIR under this benchmark's scratch folder: nothing is written in
     examples/, and every container it mounts a folder into can be found and removed after a Ctrl-C. A timed run
     in which the harness rebuilt a stand-in (its recipe changed since the untimed run) is an error.
   bare: each job container (PrepareFeatures, FitRegressor, ScoreModel) from its recorded spec with `docker run
     --rm` semantics (create, start, wait, remove through the harness's Docker adapter), on a fresh copy of its
     staged folders at the same /opt/ml paths. The prepare step downloads the raw CSV from S3 with its own boto3:
     the AWS endpoint in every bare container's environment is replaced with a moto server this benchmark starts
     on the Docker bridge, seeded with the same CSV at the same URI. Nothing in the scripts is adapted.
   SDK import: a fresh `python -c "import sagemaker"` (the script's own unavoidable cost), in the offline
     environment of bench/command.py.
The floor is the sum of the three bare runs and the SDK import. Goal: the harness's median <= 1.3x the floor's.
Writes the example's results file. Every container, server and folder it creates is removed on success, on error
and on Ctrl-C or SIGTERM. Exit status: 0 when the goal passes, 3 when it fails, 1 on an error, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from benchkit import docker_run, patched, write_results

from harness.emulator.job_names import step_of_job
from harness.engine.docker import Container, ContainerSpec, Engine, Mount, Scope
from harness.engine.sandbox import sanitized

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Example:
    """An example project: its folder, the command a user runs in it, its pipeline's job steps, its results file."""

    name: str
    command: tuple[str, ...]  # after `sagemaker-harness run --`: python SCRIPT ARGS...
    job_steps: tuple[str, ...]
    results_file: Path

    @property
    def folder(self) -> Path:
        return ROOT / "examples" / self.name

    @property
    def command_text(self) -> str:
        return " ".join(self.command)


EXAMPLES = {
    example.name: example
    for example in (
        Example("house-prices", ("python", "pipeline.py"), ("PrepareFeatures", "FitRegressor", "ScoreModel"),
                ROOT / "bench" / "results" / "example.json"),
        Example("diabetes-xgboost", ("python", "run_pipeline.py", "--approve"),
                ("PreprocessDiabetesData", "TrainDiabetesModel", "EvaluateDiabetesModel"),
                ROOT / "bench" / "results" / "example-diabetes-xgboost.json"),
    )
}  # fmt: skip
DEFAULT_EXAMPLE = "house-prices"
GOAL_RATIO = 1.3  # harness median / floor (bare containers + SDK import)
SDK_IMPORT = "import sagemaker"
MAX_REPEAT = 10
RUN_TIMEOUT_S = 900  # one whole `sagemaker-harness run` (the untimed first one may build images)
JOB_TIMEOUT_S = 600
STOP_GRACE_S = 30  # after Ctrl-C, how long the harness may take to clean up before it is killed
SAMPLE_INTERVAL_S = 0.02
LOG_TAIL_CHARS = 4000
EXIT_GOALS_FAILED = 3
ENDPOINT_LINE = "harness: local AWS endpoint"
SUMMARY_LINE = re.compile(r"^pipeline \S+: execution \S+ \w+")
STEP_ROW = re.compile(r"^(?P<step>\S+)\s+(?P<type>\S+)\s+(?P<status>Succeeded|Failed|Stopped)\s+(?P<seconds>[\d.]+)s")
WRAPPER_DONE = "BENCH-WRAPPER-DONE"
STANDIN_BUILD_LINE = "harness: building the stand-in"

# The discovery wrapper: runs the example's script as `python SCRIPT ARGS` would (as __main__, with its arguments),
# timing its phases: its body (imports, definitions) and its `if __name__ == "__main__":` block are run one after
# the other in the same module namespace, so that a get_pipeline() the body defines or imports is timed too.
# Standard library and the SDK only, plus harness.emulator.sdk_session when asked to validate the SDK's config once.
WRAPPER = r"""
import __future__, ast, functools, json, os, sys, time, traceback, types

started = time.perf_counter()
out, script, arguments = sys.argv[1], sys.argv[2], sys.argv[3:]
spans = []


def timed_function(original, label):
    @functools.wraps(original)
    def timed(*args, **kwargs):
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spans.append([label, began - started, time.perf_counter() - began])

    return timed


def wrap(owner, name, label):
    setattr(owner, name, timed_function(getattr(owner, name), label))


def is_main_guard(node):
    if not (isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and len(node.test.ops) == 1):
        return False
    sides = (node.test.left, node.test.comparators[0])
    return isinstance(node.test.ops[0], ast.Eq) and (
        any(isinstance(side, ast.Name) and side.id == "__name__" for side in sides)
        and any(isinstance(side, ast.Constant) and side.value == "__main__" for side in sides)
    )


began = time.perf_counter()
import sagemaker  # noqa: E402
sdk_import_s = time.perf_counter() - began
if os.environ.get("BENCH_VALIDATE_CONFIG_ONCE"):
    from harness.emulator.sdk_session import validate_config_once

    validate_config_once()
import sagemaker.utils  # noqa: E402
from sagemaker.workflow.pipeline import Pipeline, _PipelineExecution  # noqa: E402
from sagemaker.workflow.pipeline_context import PipelineSession  # noqa: E402

wrap(sagemaker.utils, "validate_sagemaker_config", "config validation")
wrap(PipelineSession, "__init__", "PipelineSession()")
wrap(Pipeline, "definition", "definition() (inside upsert())")
wrap(Pipeline, "upsert", "upsert()")
wrap(Pipeline, "start", "start()")
wrap(_PipelineExecution, "wait", "wait()")
wrap(_PipelineExecution, "list_steps", "list_steps()")
wrap(_PipelineExecution, "describe", "describe()")
path = os.path.abspath(script)
with open(path, "rb") as handle:
    tree = ast.parse(handle.read(), path)
split = next((i for i, node in enumerate(tree.body) if is_main_guard(node)), len(tree.body))
flags = 0
for node in tree.body[:split]:
    if isinstance(node, ast.ImportFrom) and node.module == "__future__":
        for alias in node.names:
            flags |= getattr(__future__, alias.name).compiler_flag
body = compile(ast.Module(tree.body[:split], []), path, "exec", dont_inherit=True)
guarded = compile(ast.Module(tree.body[split:], []), path, "exec", flags=flags, dont_inherit=True)
wrapper_module = sys.modules["__main__"]  # kept alive while the script is __main__
module = types.ModuleType("__main__")
module.__file__ = path
sys.modules["__main__"] = module
sys.argv = [script, *arguments]
sys.path[0] = os.path.dirname(path)  # as `python SCRIPT` has it, instead of the wrapper's folder
namespace = module.__dict__
marks = [time.perf_counter()]
code = 0
try:
    exec(body, namespace)
    marks.append(time.perf_counter())
    if callable(namespace.get("get_pipeline")):
        namespace["get_pipeline"] = timed_function(namespace["get_pipeline"], "get_pipeline()")
    exec(guarded, namespace)
except SystemExit as stop:
    if stop.code is None or isinstance(stop.code, int):
        code = stop.code or 0
    else:
        print(stop.code, file=sys.stderr)
        code = 1
except BaseException:
    traceback.print_exc()
    code = 1
marks.extend([time.perf_counter()] * (3 - len(marks)))
script_import_s, main_s = marks[1] - marks[0], marks[2] - marks[1]
with open(out, "w") as handle:
    json.dump({"sdk_import_s": sdk_import_s, "script_import_s": script_import_s, "main_s": main_s,
               "total_s": time.perf_counter() - started, "spans": spans, "exit_code": code}, handle)
print("BENCH-WRAPPER-DONE", flush=True)
sys.exit(code)
"""

# `sagemaker-harness run`'s own start and end, replayed step by step in a fresh interpreter (as cmd_run and
# run_command do them; the command itself is left out).
START_PROBE = r"""
import io, json, sys, tempfile, time
from pathlib import Path

marks = {}
began = time.perf_counter()
import harness.cli, harness.cli_endpoint  # noqa: E401,E402
marks["import harness.cli"] = time.perf_counter() - began
began = time.perf_counter()
from harness.engine.docker import Engine  # noqa: E402
from harness.progress import Progress  # noqa: E402
from harness.projectconfig import load_project  # noqa: E402
from harness.run_command import build_project_images, seed  # noqa: E402
marks["import harness.run_command"] = time.perf_counter() - began
began = time.perf_counter()
engine = Engine.connect()
marks["Engine.connect()"] = time.perf_counter() - began
began = time.perf_counter()
project = load_project(Path.cwd())
marks["load_project()"] = time.perf_counter() - began
progress = Progress(stream=io.StringIO(), show_logs=False)
began = time.perf_counter()
build_project_images(project.images, engine, progress, False)
marks["image checks (--no-build)"] = time.perf_counter() - began
# From here on, `run` works while its command starts.
began = time.perf_counter()
from harness.emulator.environment import EnvironmentOptions, LocalEnvironment  # noqa: E402
marks["beside the command: import harness.emulator.environment"] = time.perf_counter() - began
options = EnvironmentOptions(scope_name="bench-probe", images=project.aliases(), sdk_session=False)  # as `run`
began = time.perf_counter()
with LocalEnvironment.open(Path(tempfile.mkdtemp()), engine, progress.log, progress.step, options) as env:
    marks["beside the command: LocalEnvironment.open()"] = time.perf_counter() - began
    began = time.perf_counter()
    seed(env.s3, project.data, progress)
    marks["beside the command: seed the project's data"] = time.perf_counter() - began
    closing = time.perf_counter()
marks["LocalEnvironment close"] = time.perf_counter() - closing
json.dump(marks, open(sys.argv[1], "w"))
"""


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C


def median(values: Sequence[float]) -> float:
    return round(statistics.median(values), 3)


# --- processes: timed, lines timestamped, peak RSS sampled, stopped cleanly ------------------------------


@dataclass
class Timed:
    wall_s: float
    exit_code: int
    peak_rss_mb: float  # the process's VmHWM (not its children's)
    lines: list[tuple[float, str]] = field(default_factory=list)  # (seconds since the start, line)
    child_seen_s: float | None = None  # when the process was first seen with a child (SAMPLE_INTERVAL_S resolution)

    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def first(self, predicate: Any) -> float | None:
        return next((t for t, line in self.lines if predicate(line)), None)


def _high_water_kb(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((line for line in text.splitlines() if line.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1])


def _has_child(pid: int) -> bool:
    try:
        return bool(Path(f"/proc/{pid}/task/{pid}/children").read_text().strip())
    except OSError:
        return False


def _stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM first (the harness cleans up on it, and passes it on to its command), then the whole group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_GRACE_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def run_timed(argv: Sequence[str], env: Mapping[str, str], cwd: Path, timeout_s: float = RUN_TIMEOUT_S) -> Timed:
    """Run to its end in its own session; stdout and stderr merged, each line timestamped as it arrives."""
    lines: list[tuple[float, str]] = []
    started = time.perf_counter()
    process = subprocess.Popen(
        list(argv),
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append((time.perf_counter() - started, line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = started + timeout_s
    peak_kb = 0
    child_seen: float | None = None
    try:
        while process.poll() is None:
            peak_kb = max(peak_kb, _high_water_kb(process.pid))
            if child_seen is None and _has_child(process.pid):
                child_seen = round(time.perf_counter() - started, 3)
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{' '.join(argv)} still running after {timeout_s:.0f} s")
            time.sleep(SAMPLE_INTERVAL_S)
        wall_s = time.perf_counter() - started
    except BaseException:
        _stop(process)
        raise
    reader.join(timeout=10)
    return Timed(round(wall_s, 3), int(process.returncode), round(peak_kb / 1024, 1), lines, child_seen)


# --- the harness side ----------------------------------------------------------------------------------


def harness_command(example: Example, build: bool) -> list[str]:
    script = Path(sys.executable).parent / "sagemaker-harness"
    door = [str(script)] if script.is_file() else [sys.executable, "-m", "harness.cli"]
    return [*door, "run", *([] if build else ["--no-build"]), "--quiet", "--", *example.command]


def user_environment(scratch: Path, state_dir: Path) -> dict[str, str]:
    """A user's shell: this environment, the interpreter's folder first on PATH (so `python` has the SDK), the
    harness's state folder and temporary files under our scratch folder."""
    environment = dict(os.environ)
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    environment["HARNESS_STATE_DIR"] = str(state_dir)
    environment["TMPDIR"] = str(scratch)
    return environment


@dataclass
class HarnessRun:
    wall_s: float
    peak_rss_mb: float
    phases: dict[str, float]  # start (until its command starts), the command, the end (summary to exit)
    steps: dict[str, float]  # the run's summary table, 0.1 s resolution


def run_harness(example: Example, scratch: Path, index: int, build: bool = False) -> HarnessRun:
    work = scratch / f"harness-{index}"
    work.mkdir()
    timed = run_timed(harness_command(example, build), user_environment(work, work / "state"), example.folder)
    if timed.exit_code != 0:
        raise RuntimeError(f"`sagemaker-harness run` exited {timed.exit_code}:\n{timed.text()[-LOG_TAIL_CHARS:]}")
    rebuilt = [line for _, line in timed.lines if line.startswith(STANDIN_BUILD_LINE)]
    if rebuilt and not build:
        raise RuntimeError(f"a stand-in was built inside a timed run (its recipe changed meanwhile?): {rebuilt}")
    up = timed.first(lambda line: line.startswith(ENDPOINT_LINE))
    summary = timed.first(lambda line: bool(SUMMARY_LINE.match(line)))
    exited = timed.first(lambda line: line.startswith("harness: ") and " exited with " in line)
    started = timed.child_seen_s  # the command (the harness's child; a build's `docker` CLI is not run under it)
    if up is None or summary is None or exited is None or started is None:
        raise RuntimeError(f"unexpected output of `sagemaker-harness run`:\n{timed.text()[-LOG_TAIL_CHARS:]}")
    steps: dict[str, float] = {}
    for moment, line in timed.lines:
        match = STEP_ROW.match(line)
        if moment >= summary and match:
            steps[match["step"]] = float(match["seconds"])
    phases = {
        "harness start, until its command starts": round(started, 3),
        "  the environment opened and seeded meanwhile (its endpoint line)": round(up, 3),
        f"the command ({example.command_text})": round(summary - started, 3),
        "harness end: summary + the environment's close": round(exited - summary, 3),
        "harness end: its interpreter's exit after its last line": round(timed.wall_s - exited, 3),
    }
    return HarnessRun(timed.wall_s, timed.peak_rss_mb, phases, steps)


# --- discovery: the script in process, its containers recorded -------------------------------------------------


@dataclass(frozen=True)
class RecordedJob:
    step: str
    spec: ContainerSpec  # as the harness created it (platform environment and local image included)
    folders: tuple[tuple[Path, Mount], ...]  # (our copy of the staged host folder, the original mount)


@dataclass
class Discovery:
    jobs: list[RecordedJob]
    container_endpoint: str  # the harness's endpoint as its containers saw it (replaced in the bare runs)
    script: dict[str, Any]  # the script's phases, as harness runs it
    script_validated_once: dict[str, Any]  # the same with the SDK's config validated once
    harness_steps: dict[str, float]
    requests: dict[str, int]


def script_environment(endpoint_url: str, scratch: Path) -> dict[str, str]:
    """The command's environment as `sagemaker-harness run` builds it (harness.run_command)."""
    import yaml

    from harness.emulator.platform import command_environment
    from harness.run_command import sdk_config_without_telemetry

    empty, config = scratch / "empty", scratch / "sagemaker-config.yaml"
    empty.write_text("")
    config.write_text(yaml.safe_dump(sdk_config_without_telemetry(os.environ)))
    environment = command_environment(os.environ, endpoint_url, empty, config)
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    return environment


def run_wrapped(example: Example, environment: Mapping[str, str], scratch: Path, name: str) -> dict[str, Any]:
    wrapper, out = scratch / "wrapper.py", scratch / f"{name}.json"
    wrapper.write_text(WRAPPER)
    argv = [sys.executable, str(wrapper), str(out), *example.command[1:]]
    timed = run_timed(argv, environment, example.folder)
    if timed.exit_code != 0 or not out.is_file():
        raise RuntimeError(f"the wrapped script exited {timed.exit_code}:\n{timed.text()[-LOG_TAIL_CHARS:]}")
    document = json.loads(out.read_text())
    done = timed.first(lambda line: line.startswith(WRAPPER_DONE))
    phases: dict[str, float] = {}
    counts: dict[str, int] = {}
    for label, _start, seconds in document["spans"]:
        phases[label] = phases.get(label, 0.0) + seconds
        counts[label] = counts.get(label, 0) + 1
    done = done if done is not None else timed.wall_s
    return {
        "wall_s": timed.wall_s,
        "interpreter_start_s": round(done - document["total_s"], 3),  # until the wrapper's first line ran
        "sdk_import_s": round(document["sdk_import_s"], 3),
        "script_import_s": round(document["script_import_s"], 3),  # its body: imports, definitions
        "main_s": round(document["main_s"], 3),  # its `if __name__ == "__main__":` block
        "exit_after_main_s": round(timed.wall_s - done, 3),  # the interpreter's teardown (the SDK's objects)
        "phases_s": {k: round(v, 3) for k, v in phases.items()},
        "calls": counts,
    }


def discover(example: Example, engine: Engine, scratch: Path) -> Discovery:
    """The script against an in-process LocalEnvironment: its job containers recorded at creation."""
    from harness.emulator.environment import EnvironmentOptions, LocalEnvironment
    from harness.emulator.jobs_api import JobsApi
    from harness.progress import Progress
    from harness.projectconfig import load_project
    from harness.run_command import seed

    project = load_project(example.folder)
    folder = scratch / "discovery"
    folder.mkdir()
    recorded: list[RecordedJob] = []
    current: list[str] = []
    original_create, original_run = Engine.create, JobsApi.run_step_job

    def run_step_job(api: JobsApi, step_type: str, job_name: str, request: dict[str, Any]) -> dict[str, Any]:
        current.append(step_of_job(job_name))
        try:
            return original_run(api, step_type, job_name, request)
        finally:
            current.pop()

    def create(engine_: Engine, spec: ContainerSpec, scope_labels: Mapping[str, str]) -> Container:
        if current and len(recorded) < len(example.job_steps):  # the first run's jobs; staging is done by now
            copies = []
            for number, mount in enumerate(spec.mounts):
                copy = folder / f"{current[-1]}-{number}"
                shutil.copytree(mount.host, copy, symlinks=True)
                copies.append((copy, mount))
            recorded.append(RecordedJob(current[-1], spec, tuple(copies)))
        return original_create(engine_, spec, scope_labels)

    options = EnvironmentOptions(scope_name="bench-example", images=project.aliases())
    progress = Progress(stream=io.StringIO(), show_logs=False)
    with (
        patched(Engine, "create", create),
        patched(JobsApi, "run_step_job", run_step_job),
        LocalEnvironment.open(folder / "state", engine, progress.log, progress.step, options) as env,
    ):
        seed(env.s3, project.data, progress)
        environment = script_environment(env.endpoint_url, folder)
        script = run_wrapped(example, environment, folder, "as-run")
        steps = {s.name: round(s.seconds, 3) for s in env.control.pipelines.runs[0].steps}
        requests: dict[str, int] = {}
        for request in env.routes.requests:  # the first run's: the second updates the pipeline it created
            requests[request] = requests.get(request, 0) + 1
        once = run_wrapped(example, {**environment, "BENCH_VALIDATE_CONFIG_ONCE": "1"}, folder, "validated-once")
        container_endpoint = env.s3.server.container_url
    found = [job.step for job in recorded]
    if found != list(example.job_steps):
        raise RuntimeError(f"expected the job containers {list(example.job_steps)}, the harness created {found}")
    return Discovery(recorded, container_endpoint, script, once, steps, requests)


def start_probe(example: Example, scratch: Path) -> dict[str, float]:
    probe, out = scratch / "start_probe.py", scratch / "start-probe.json"
    probe.write_text(START_PROBE)
    environment = user_environment(scratch, scratch / "probe")
    timed = run_timed([sys.executable, str(probe), str(out)], environment, example.folder)
    if timed.exit_code != 0 or not out.is_file():
        raise RuntimeError(f"the start probe exited {timed.exit_code}:\n{timed.text()[-LOG_TAIL_CHARS:]}")
    marks = json.loads(out.read_text())
    return {"interpreter + all": timed.wall_s, **{k: round(v, 3) for k, v in marks.items()}}


# --- the bare side ------------------------------------------------------------------------------------------


class MotoS3:
    """A plain moto server on the Docker bridge (containers reach the host there), seeded like the project."""

    def __init__(self, address: str) -> None:
        from moto.server import ThreadedMotoServer

        with socket.socket() as probe:
            probe.bind((address, 0))
            self.port = int(probe.getsockname()[1])
        self.url = f"http://{address}:{self.port}"
        self._server = ThreadedMotoServer(ip_address=address, port=self.port, verbose=False)

    def __enter__(self) -> MotoS3:
        import logging

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    def seed(self, example: Example) -> None:
        from harness.emulator.storage import boto_session
        from harness.projectconfig import load_project

        s3 = boto_session().client("s3", endpoint_url=self.url)
        for item in load_project(example.folder).data:
            with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
                s3.create_bucket(Bucket=item.uri.bucket)
            s3.upload_file(str(item.path), item.uri.bucket, item.uri.key)


def bare_spec(job: RecordedJob, root: Path, harness_endpoint: str, moto_url: str) -> ContainerSpec:
    """The recorded spec on fresh copies of its staged folders; the harness's endpoint replaced with our moto."""
    mounts = []
    for number, (copy, mount) in enumerate(job.folders):
        fresh = root / str(number)
        shutil.copytree(copy, fresh, symlinks=True)
        mounts.append(Mount(fresh, mount.container, mount.read_only))
    environment = {k: moto_url if v == harness_endpoint else v for k, v in job.spec.environment.items()}
    return dataclasses.replace(job.spec, mounts=tuple(mounts), environment=environment, labels={}, name=None)


def run_bare(
    scope: Scope, discovery: Discovery, moto: MotoS3, scratch: Path, index: int
) -> dict[str, dict[str, float]]:
    seconds = {}
    for job in discovery.jobs:
        root = scratch / f"bare-{index}" / job.step
        spec = bare_spec(job, root, discovery.container_endpoint, moto.url)
        before = {p for p in root.rglob("*") if p.is_file()}
        seconds[job.step] = docker_run(scope, spec, JOB_TIMEOUT_S)
        if not {p for p in root.rglob("*") if p.is_file()} - before:
            raise RuntimeError(f"the bare run of {job.step} wrote nothing")
    return seconds


def sdk_import(scratch: Path) -> float:
    timed = run_timed([sys.executable, "-c", SDK_IMPORT], sanitized(os.environ), scratch)
    if timed.exit_code != 0:
        raise RuntimeError(f"`{SDK_IMPORT}` failed:\n{timed.text()[-LOG_TAIL_CHARS:]}")
    return timed.wall_s


# --- leftovers ------------------------------------------------------------------------------------------------


def containers_under(engine: Engine, folder: Path) -> list[Any]:
    """Containers with a folder of ours mounted (the harness runs' and ours; their scopes are not ours to know)."""
    found = []
    for item in engine.client.containers.list(all=True, sparse=True):  # sparse: no inspect of others' containers
        sources = [m.get("Source", "") for m in item.attrs.get("Mounts", [])]
        if any(source.startswith(str(folder)) for source in sources):
            found.append(item)
    return found


def remove_leftovers(engine: Engine, folder: Path) -> list[str]:
    removed = []
    for item in containers_under(engine, folder):
        with contextlib.suppress(Exception):
            item.remove(force=True, v=True)
            removed.append(item.short_id)
    return removed


# --- report -------------------------------------------------------------------------------------------------


def summarize(example: Example, runs: Mapping[str, list[Any]]) -> dict[str, Any]:
    harness: list[HarnessRun] = runs["harness"]
    bare: list[dict[str, dict[str, float]]] = runs["bare"]
    imports: list[float] = runs["sdk_import"]
    floors = [round(sum(parts["job_s"] for parts in b.values()) + s, 3) for b, s in zip(bare, imports, strict=True)]
    harness_median, floor_median = median([h.wall_s for h in harness]), median(floors)
    return {
        "harness_s": harness_median,
        "harness_peak_rss_mb": median([h.peak_rss_mb for h in harness]),
        "floor_s": floor_median,
        "ratio": round(harness_median / floor_median, 3),
        "ratios": [round(h.wall_s / f, 3) for h, f in zip(harness, floors, strict=True)],
        "floors_s": floors,
        "harness_runs_s": [h.wall_s for h in harness],
        "bare_jobs_s": {step: median([b[step]["job_s"] for b in bare]) for step in example.job_steps},
        "harness_steps_s": {step: median([h.steps.get(step, 0.0) for h in harness]) for step in example.job_steps},
        "sdk_import_s": median(imports),
        "harness_phases_s": {key: median([h.phases[key] for h in harness]) for key in harness[0].phases},
    }


def print_report(example: Example, document: Mapping[str, Any]) -> None:
    summary, discovery, probe = document["summary"], document["discovery"], document["start_probe"]
    load = document["load_average_1min"]
    print(
        f"\nmedian of {document['repeat']} run(s), seconds; {document['cpu_count']} CPUs, 1-min load average "
        f"{min(load):.1f}-{max(load):.1f} during the runs"
        + (": busy, figures are noisier" if max(load) > (document["cpu_count"] or 1) else "")
    )
    print(
        f"`sagemaker-harness run --no-build --quiet -- {example.command_text}`: {summary['harness_s']:.2f} s "
        f"(runs {', '.join(f'{v:.2f}' for v in summary['harness_runs_s'])}; harness process peak RSS "
        f"{summary['harness_peak_rss_mb']:.0f} MB)"
    )
    bare = " + ".join(f"{step} {summary['bare_jobs_s'][step]:.2f}" for step in example.job_steps)
    print(f"floor: {summary['floor_s']:.2f} s = bare {bare} + `{SDK_IMPORT}` {summary['sdk_import_s']:.2f}")
    print(f"ratio: {summary['ratio']:.2f}x (per repeat: {', '.join(f'{r:.2f}x' for r in summary['ratios'])})")
    print("\nwhere the harness's time goes (median of the timed runs, from its output's timestamps):")
    for phase, value in summary["harness_phases_s"].items():
        print(f"  {phase:<58}{value:>8.2f}")
    print("  its job steps (its summary table) vs the bare runs:")
    for step in example.job_steps:
        print(
            f"    {step:<22} harness {summary['harness_steps_s'][step]:>5.1f}  "
            f"bare {summary['bare_jobs_s'][step]:>6.2f}"
        )
    print("\nthe harness's start and end, replayed step by step in a fresh interpreter (one run):")
    for phase, value in probe.items():
        print(f"  {phase:<58}{value:>8.2f}")
    for name, label in (("as_run", "as `run` runs it"), ("validated_once", "with the SDK's config validated once")):
        script = discovery[name]
        calls = script["calls"].get("config validation", 0)
        print(
            f"\nthe script, {label} (in-process environment, one run): {script['wall_s']:.2f} s: SDK import "
            f"{script['sdk_import_s']:.2f}, its body {script.get('script_import_s', 0.0):.2f}, its __main__ block "
            f"{script['main_s']:.2f}, interpreter exit after it {script['exit_after_main_s']:.2f}; SDK config "
            f"validations: {calls} calls, "
            f"{script['phases_s'].get('config validation', 0.0):.2f} s"
        )
        for phase, value in script["phases_s"].items():
            if phase != "config validation":
                print(f"  {phase:<58}{value:>8.2f}")
    print(f"\nrequests the script made to the local SageMaker: {discovery['requests']}")
    print()
    for goal, ok in document["goals"].items():
        print(f"  [{'PASS' if ok else 'FAIL'}] {goal}")


# --- main -------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each side; medians are reported")
    parser.add_argument("--example", choices=sorted(EXAMPLES), default=DEFAULT_EXAMPLE,
                        help=f"the example project under examples/ (default {DEFAULT_EXAMPLE})")  # fmt: skip
    args = parser.parse_args(argv)
    if not 1 <= args.repeat <= MAX_REPEAT:
        parser.error(f"--repeat must be in [1, {MAX_REPEAT}]")
    return args


def benchmark(example: Example, args: argparse.Namespace, engine: Engine, scratch: Path) -> dict[str, Any]:
    gateway = engine.bridge_gateway()
    if gateway is None:
        raise SystemExit("Docker has no default bridge: the bare containers could not reach the moto server")
    load = [round(os.getloadavg()[0], 2)]
    log(
        f"untimed: `sagemaker-harness run --quiet -- {example.command_text}` in examples/{example.name} "
        "(builds the example's images, or the stand-ins it uses, if needed)"
    )
    first = run_harness(example, scratch, 0, build=True)
    log(f"  {first.wall_s:.2f} s")
    log(
        "untimed: the script against an in-process environment, its job containers recorded; "
        "again with the SDK's config validated once"
    )
    discovery = discover(example, engine, scratch)
    log("untimed: `sagemaker-harness run`'s start and end, replayed in a fresh interpreter")
    probe = start_probe(example, scratch)
    runs: dict[str, list[Any]] = {"harness": [], "bare": [], "sdk_import": []}
    with MotoS3(gateway) as moto, Scope(engine, "bench-example-bare") as scope:
        moto.seed(example)
        for index in range(1, args.repeat + 1):
            load.append(round(os.getloadavg()[0], 2))
            log(f"run {index}/{args.repeat}: `sagemaker-harness run --no-build --quiet -- {example.command_text}`")
            runs["harness"].append(run_harness(example, scratch, index))
            log(f"  {runs['harness'][-1].wall_s:.2f} s; the bare runs of the three job containers")
            runs["bare"].append(run_bare(scope, discovery, moto, scratch, index))
            runs["sdk_import"].append(sdk_import(scratch))
            bare = ", ".join(f"{step} {parts['job_s']:.2f} s" for step, parts in runs["bare"][-1].items())
            log(f"  bare: {bare}; `{SDK_IMPORT}` {runs['sdk_import'][-1]:.2f} s")
        load.append(round(os.getloadavg()[0], 2))
    left = containers_under(engine, scratch)
    if left:
        raise RuntimeError(f"containers left behind: {[c.short_id for c in left]}")
    summary = summarize(example, runs)
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "example": example.name,
        "command": example.command_text,
        "cpu_count": os.cpu_count(),
        "load_average_1min": load,
        "repeat": args.repeat,
        "images": {
            job.step: {"image": job.spec.image, "id": getattr(engine.image(job.spec.image), "id", "")}
            for job in discovery.jobs
        },
        "bare_containers": {
            job.step: {
                "image": job.spec.image,
                "entrypoint": job.spec.entrypoint,
                "command": job.spec.command,
                "mounts": [m.container for _, m in job.folders],
                "environment": sorted(job.spec.environment),
            }
            for job in discovery.jobs
        },
        "method": {
            "harness": f"`{' '.join(harness_command(example, False))}` from examples/{example.name}, a subprocess "
            "from a cold "
            "interpreter timed to its exit; own HARNESS_STATE_DIR and TMPDIR per run",
            "bare": "each job container's spec as the harness created it, on a fresh copy of its staged folders at "
            "the same /opt/ml paths, create+start+wait+remove through the harness's Docker adapter; the AWS "
            "endpoint in its environment replaced with a plain moto server on the Docker bridge seeded with the "
            "same data ([tool.harness] data)",
            "floor": f"the three bare runs + `python -c {SDK_IMPORT!r}` in a fresh interpreter",
        },
        "summary": summary,
        "goals": {
            f"`sagemaker-harness run` <= {GOAL_RATIO}x the floor (bare containers + SDK import)": summary["ratio"]
            <= GOAL_RATIO
        },
        "first_run_s": first.wall_s,
        "discovery": {
            "as_run": discovery.script,
            "validated_once": discovery.script_validated_once,
            "harness_steps_s": discovery.harness_steps,
            "requests": discovery.requests,
        },
        "start_probe": probe,
        "runs": {
            "harness": [dataclasses.asdict(h) for h in runs["harness"]],
            "bare": runs["bare"],
            "sdk_import_s": runs["sdk_import"],
        },
    }


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    example = EXAMPLES[args.example]
    signal.signal(signal.SIGTERM, _interrupt)
    engine = Engine.connect()
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="bench-example-"))
    try:
        document = benchmark(example, args, engine, scratch)
    except KeyboardInterrupt:
        log("interrupted; the benchmark's containers, servers and folders were removed")
        return 130
    finally:
        removed = remove_leftovers(engine, scratch)
        if removed:
            log(f"removed containers left behind: {removed}")
        shutil.rmtree(scratch, ignore_errors=True)
    print_report(example, document)
    write_results(example.results_file, document)
    log(f"wrote {example.results_file.relative_to(ROOT)} ({time.monotonic() - started:.0f} s in all)")
    return 0 if all(document["goals"].values()) else EXIT_GOALS_FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
