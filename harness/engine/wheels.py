"""The wheelhouse: every wheel named in containers/requirements.lock, for the
Docker engine's CPU architecture and CPython 3.11, downloaded on the host.

Images then install with `pip --no-index`, so builds need no network inside
containers (no CA bundle to pass in), and are reproducible.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from harness.errors import InfrastructureError

PYTHON_VERSION = "3.11"
_COMPLETE = ".complete"
# glibc 2.17 .. 2.36 (Debian bookworm); pip picks the best wheel among these tags.
_MANYLINUX = ["manylinux2014"] + [f"manylinux_2_{minor}" for minor in range(17, 37)]


def lock_digest(lock_file: Path) -> str:
    return hashlib.sha256(lock_file.read_bytes()).hexdigest()


def platform_tags(architecture: str) -> list[str]:
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(architecture, architecture)
    return [f"{tag}_{arch}" for tag in _MANYLINUX]


def wheelhouse_dir(cache_dir: Path, lock_file: Path, architecture: str) -> Path:
    return cache_dir / f"py{PYTHON_VERSION}-{architecture}-{lock_digest(lock_file)[:16]}"


def ensure_wheelhouse(cache_dir: Path, lock_file: Path, architecture: str, on_line: Callable[[str], None]) -> Path:
    """The wheelhouse for this lock and architecture, downloading it once."""
    target = wheelhouse_dir(cache_dir, lock_file, architecture)
    if (target / _COMPLETE).exists():
        return target
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        PYTHON_VERSION,
        "--implementation",
        "cp",
        *[arg for tag in platform_tags(architecture) for arg in ("--platform", tag)],
        "--requirement",
        str(lock_file),
        "--dest",
        str(staging),
    ]
    on_line(f"downloading wheels for {architecture} into {target}")
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise InfrastructureError(
            "could not download the wheels named in containers/requirements.lock",
            fix="check that PyPI is reachable (pip's proxy and certificate settings apply) "
            "and that every pinned version has a wheel for CPython 3.11 on this architecture",
            details=result.stderr[-3000:],
        )
    (staging / _COMPLETE).write_text(lock_digest(lock_file))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target
