"""`sagemaker-harness up` / `down` / `status` / `env`: the local AWS endpoint as a background server, so
commands run one after another (a pipeline script, then a deploy script) share its S3, registry and endpoints.

The server is this package's `serve` command in its own session; its state file
(`<state>/endpoint/endpoint.json`: pid, URLs) is how the other commands find it,
and its log (`<state>/endpoint/server.log`) holds every container's output.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.emulator.environment import EnvironmentOptions, LocalEnvironment
from harness.emulator.pipeline_options import PipelineOptions
from harness.emulator.platform import command_environment
from harness.engine.docker import Engine
from harness.errors import InfrastructureError, UserError
from harness.progress import Progress
from harness.projectconfig import ProjectConfig
from harness.run_command import build_project_images, command_files, seed, write_command_files
from harness.statefiles import write_atomically

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ServerFiles:
    folder: Path

    @property
    def state(self) -> Path:
        return self.folder / "endpoint.json"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    def read(self) -> dict[str, Any] | None:
        """The running server's state, or None (no state file, or its process is gone)."""
        if not self.state.is_file():
            return None
        try:
            state = json.loads(self.state.read_text())
            pid = int(state["pid"])
        except (ValueError, KeyError, TypeError):
            self.state.unlink(missing_ok=True)  # a half-written or hand-edited file: the server cannot be found by it
            return None
        if not _alive(pid):
            self.state.unlink(missing_ok=True)
            return None
        return dict(state)


def files_for(state_dir: Path) -> ServerFiles:
    return ServerFiles(state_dir / "endpoint")


def serve(state_dir: Path, project: ProjectConfig, port: int, engine: Engine, progress: Progress) -> int:
    """The background server's body: open the environment, publish its URLs, wait for SIGTERM, close it."""
    files = files_for(state_dir)
    files.folder.mkdir(parents=True, exist_ok=True)
    build_project_images(project.images, engine, progress, build=True)
    options = EnvironmentOptions(
        scope_name="up", images=project.aliases(), port=port, sdk_session=False, wheelhouse=project.wheelhouse,
        pipelines=PipelineOptions(max_parallel=project.max_parallel, faults=project.faults, lambdas=project.lambdas),
    )  # fmt: skip
    with LocalEnvironment.open(state_dir, engine, progress.log, progress.step, options) as env:
        seed(env.s3, project.data, progress)
        write_command_files(files.folder, os.environ)
        state = {"pid": os.getpid(), "url": env.endpoint_url, "container_url": env.s3.server.container_url,
                 "started": time.time()}  # fmt: skip
        write_atomically(files.state, json.dumps(state))
        progress.line(f"harness: local AWS endpoint {env.endpoint_url} is up (pid {os.getpid()})")
        try:
            signal.sigwait({signal.SIGTERM, signal.SIGINT})
        finally:
            files.state.unlink(missing_ok=True)
            progress.line("harness: stopping the local AWS endpoint")
    return 0


def up(state_dir: Path, port: int, cwd: Path) -> dict[str, Any]:
    """Starts the server in the background (or finds it running); its state once it answers."""
    files = files_for(state_dir)
    running = files.read()
    if running is not None:
        return running
    files.folder.mkdir(parents=True, exist_ok=True)
    with files.log.open("ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "serve", "--port", str(port), "--state-dir", str(state_dir)],
            cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        state = files.read()
        if state is not None:
            return state
        if child.poll() is not None:
            raise InfrastructureError(
                f"the local AWS endpoint did not start (exit code {child.returncode})",
                fix=f"read its log: {files.log}",
                details=_tail(files.log),
            )
        time.sleep(0.1)
    child.terminate()
    raise InfrastructureError(f"the local AWS endpoint did not start within {START_TIMEOUT_S:.0f} s",
                              fix=f"read its log: {files.log}", details=_tail(files.log))  # fmt: skip


def down(state_dir: Path) -> bool:
    """Stops the background server (it removes its containers first); False if none was running."""
    files = files_for(state_dir)
    state = files.read()
    if state is None:
        return False
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        raise InfrastructureError(
            f"the local AWS endpoint (pid {pid}) did not stop within {STOP_TIMEOUT_S:.0f} s",
            fix=f"kill it (`kill -9 {pid}`), then remove its containers: "
            "`docker rm -f $(docker ps -aq --filter label=com.sagemaker-local-harness.owner)`",
        )
    files.state.unlink(missing_ok=True)
    return True


def export_lines(state_dir: Path) -> list[str]:
    """`export` lines that point a shell at the running server."""
    files = files_for(state_dir)
    state = files.read()
    if state is None:
        raise UserError("the local AWS endpoint is not running", fix="start it: `sagemaker-harness up`")
    environment = command_environment({}, str(state["url"]), *command_files(files.folder))
    lines = ["unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_DEFAULT_PROFILE"]
    return lines + [f"export {k}={_quoted(v)}" for k, v in sorted(environment.items())]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not running
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return True


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
