"""Make this machine able to run the project: a Docker daemon that answers.

A no-op where Docker already works (a laptop with Docker Desktop, a CI runner
with a daemon). On Debian 12/13 as root it installs Debian's engine and starts
`dockerd` in the background; elsewhere it stops with what to install.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from harness.engine.docker import Engine
from harness.engine.system import host_facts, install_debian_packages
from harness.errors import InfrastructureError

DOCKERD_LOG = Path("/var/log/harness-dockerd.log")
START_TIMEOUT_S = 90.0


def ensure_docker(on_line: Callable[[str], None]) -> Engine:
    try:
        return Engine.connect(timeout_s=10)
    except InfrastructureError as first_error:
        unreachable = first_error
    facts = host_facts()
    if not facts.can_provision():
        raise InfrastructureError(
            "no Docker daemon answers and this machine cannot be provisioned automatically "
            f"({'not root' if not facts.is_root else 'not Debian'})",
            fix="install Docker Engine or Docker Desktop and start it, then re-run; "
            "on Debian as root the harness installs `docker.io` itself",
            details=unreachable.details,
        )
    if shutil.which("dockerd") is None:
        on_line(f"installing Debian's Docker engine (Debian {facts.debian_version})")
        install_debian_packages(["docker.io"])
    _start_dockerd(on_line)
    return Engine.connect(timeout_s=120)


def _start_dockerd(on_line: Callable[[str], None]) -> None:
    on_line(f"starting dockerd in the background (log: {DOCKERD_LOG})")
    DOCKERD_LOG.parent.mkdir(parents=True, exist_ok=True)
    with DOCKERD_LOG.open("ab") as log:
        process = subprocess.Popen(
            ["dockerd"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise InfrastructureError(
                f"dockerd exited with code {process.returncode} right after starting",
                fix=f"read {DOCKERD_LOG}; another daemon may hold /var/run/docker.pid",
                details=_tail(DOCKERD_LOG),
            )
        try:
            Engine.connect(timeout_s=5)
        except InfrastructureError:
            time.sleep(0.5)
            continue
        on_line("dockerd is up")
        return
    raise InfrastructureError(
        f"dockerd did not answer within {START_TIMEOUT_S:.0f} s", fix=f"read {DOCKERD_LOG}", details=_tail(DOCKERD_LOG)
    )


def _tail(path: Path, lines: int = 30) -> str:
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def ensure_test_registry(on_line: Callable[[str], None]) -> None:
    """Debian's docker-registry: the real registry the promotion tests push to."""
    _ensure_packages(("docker-registry",), ("docker-registry",), on_line,
                     need="the promotion tests need a container registry binary (docker-registry)",
                     fix="install Debian's docker-registry package, or the CNCF distribution registry",
                     purpose="the registry the promotion tests push to")  # fmt: skip


def ensure_test_browser(on_line: Callable[[str], None]) -> None:
    """Debian's Chromium and its chromedriver: the real browser the HTML report's tests load the report in."""
    _ensure_packages(("chromium", "chromedriver"), ("chromium", "chromium-driver"), on_line,
                     need="the report's browser tests need Chromium and its chromedriver",
                     fix="install Debian's chromium and chromium-driver packages (or Chromium and a matching "
                         "chromedriver)",
                     purpose="the browser the report's tests load the report in")  # fmt: skip


def _ensure_packages(commands: tuple[str, ...], packages: tuple[str, ...], on_line: Callable[[str], None], *,
                     need: str, fix: str, purpose: str) -> None:  # fmt: skip
    """Install Debian's `packages` unless every one of `commands` is there; refused where we cannot provision."""
    if all(_installed(command) for command in commands):
        return
    if not host_facts().can_provision():
        raise InfrastructureError(need, fix=fix)
    on_line(f"installing Debian's {' and '.join(packages)} ({purpose})")
    install_debian_packages(list(packages))


def _installed(command: str) -> bool:
    return shutil.which(command) is not None or Path("/usr/bin", command).is_file()
