"""`harness debug RUN STEP`: a new container made as the failed step's was (same image, environment,
hostname, entrypoint's context, and its kept `/opt/ml` mounted where the job had it), with a shell or a given
command, removed when it exits. Through the `docker` command line, which hands a terminal over properly.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.emulator.kept_jobs import read_kept
from harness.engine.docker import OWNER, OWNER_LABEL, SCOPE_LABEL
from harness.errors import UserError
from harness.signals import wait_for_child

# bash where the image has it, else sh: AWS's images and ours have bash, slim ones only sh.
SHELL = ("/bin/sh", "-c", "command -v bash >/dev/null 2>&1 && exec bash || exec sh")


def kept_job(step: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    """The kept job of a step, or an error saying why there is none and how to get one."""
    name = step["name"]
    folder = (step.get("kept") or {}).get("folder")
    if not folder:
        if step.get("status") == "Failed":
            raise UserError(f"run {run_id} kept nothing of step {name}",
                            fix="re-run with --keep-on-failure: a failed step's container and work folder stay "
                                "for `harness debug`")  # fmt: skip
        raise UserError(f"step {name} of run {run_id} did not fail ({step.get('status')}): only a failed step is kept",
                        fix="re-run with --keep-on-failure; a step that succeeded left its outputs in the run's "
                            "report (`harness report`)")  # fmt: skip
    kept = read_kept(Path(folder))
    if kept is None:
        raise UserError(f"the kept folder of step {name} ({folder}) is gone or unreadable",
                        fix="the run may have been pruned: re-run with --keep-on-failure")  # fmt: skip
    return kept


def docker_run_arguments(kept: Mapping[str, Any], host: str | None, command: Sequence[str], terminal: bool,
                         container_name: str) -> list[str]:  # fmt: skip
    hosts = kept.get("hosts") or {}
    chosen = host or next(iter(sorted(hosts)), "")
    if chosen not in hosts:
        raise UserError(f"job {kept.get('job')} has no host {host!r}", fix=f"hosts: {', '.join(sorted(hosts))}")
    spec = hosts[chosen]
    arguments = ["docker", "run", "--rm", "-i", *(["-t"] if terminal else []), "--name", container_name,
                 "--label", f"{OWNER_LABEL}={OWNER}", "--label", f"{SCOPE_LABEL}=debug-{container_name}"]  # fmt: skip
    if spec.get("hostname"):
        arguments += ["--hostname", spec["hostname"]]
    for variable in spec.get("environment") or []:
        arguments += ["-e", variable]
    for mount in spec.get("mounts") or []:
        arguments += ["-v", f"{mount['source']}:{mount['target']}" + (":ro" if mount.get("read_only") else "")]
    if spec.get("network_disabled"):
        arguments += ["--network", "none"]
    if spec.get("working_dir"):
        arguments += ["-w", spec["working_dir"]]
    run = list(command) or list(SHELL)
    return [*arguments, "--entrypoint", run[0], spec["image"], *run[1:]]


def banner(kept: Mapping[str, Any], host: str | None, folder: str) -> str:
    hosts = kept.get("hosts") or {}
    spec = hosts.get(host or next(iter(sorted(hosts)), ""), {})
    ran = shlex.join([*(spec.get("entrypoint") or []), *(spec.get("command") or [])])
    return (
        f"harness: a container made as job {kept.get('job')}'s was ({spec.get('hostname') or 'algo-1'}, image "
        f"{spec.get('image_name') or spec.get('image')}), its /opt/ml from {folder}/work\n"
        f"harness: the job ran `{ran}` and exited {spec.get('exit_code')}; its local AWS endpoint is gone, so S3 "
        "calls fail here; the container is removed when you leave"
    )


def run_debug(arguments: list[str], container_name: str, remove_container: Any) -> int:
    """Run `docker run ...`, then make sure the container is gone (Ctrl-C included)."""
    if shutil.which("docker") is None:
        raise UserError("`harness debug` needs the docker command line", fix="install it (Debian: docker.io)")
    child = subprocess.Popen(arguments)
    try:
        return wait_for_child(child)
    finally:
        if child.poll() is None:
            child.terminate()
            child.wait()
        remove_container(container_name)


def new_container_name(job: str) -> str:
    return f"harness-debug-{job[-40:]}-{uuid.uuid4().hex[:6]}".lower()


def has_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty() and os.environ.get("TERM") != "dumb"
