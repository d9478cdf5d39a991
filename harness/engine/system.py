"""Facts about the host and the Debian package installs that provisioning needs."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.errors import InfrastructureError


@dataclass(frozen=True)
class HostFacts:
    is_root: bool
    debian_version: str | None  # contents of /etc/debian_version, or None

    @property
    def is_debian(self) -> bool:
        return self.debian_version is not None

    def can_provision(self) -> bool:
        return self.is_root and self.is_debian and shutil.which("apt-get") is not None


def host_facts() -> HostFacts:
    version_file = Path("/etc/debian_version")
    version = version_file.read_text().strip() if version_file.is_file() else None
    return HostFacts(is_root=os.geteuid() == 0, debian_version=version)


def install_debian_packages(packages: list[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *packages]):
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise InfrastructureError(
                f"`{' '.join(command)}` failed (exit {result.returncode})",
                fix=f"install {' '.join(packages)} by hand and re-run",
                details=result.stderr[-3000:],
            )
