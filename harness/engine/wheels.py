"""The wheelhouse: every wheel named in containers/requirements.lock, for the
Docker engine's CPU architecture and CPython 3.11, downloaded on the host.

Images then install with `pip --no-index`, so builds need no network inside
containers (no CA bundle to pass in), and are reproducible.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Collection
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


def ensure_wheelhouse(
    cache_dir: Path,
    lock_file: Path,
    architecture: str,
    on_line: Callable[[str], None],
    from_source: Collection[str] = (),
) -> Path:
    """The wheelhouse for this lock and architecture, downloading it once.

    `from_source` names the lock's packages that PyPI ships only as source (AWS's `sagemaker-training` with
    its C extension): they are built into wheels by the host's own CPython, which must then be the image's
    version on the engine's architecture."""
    target = wheelhouse_dir(cache_dir, lock_file, architecture)
    if (target / _COMPLETE).exists():
        return target
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    pins = [line.split("#", 1)[0].strip() for line in lock_file.read_text().splitlines()]
    pins = [pin for pin in pins if pin]
    built = [pin for pin in pins if _name(pin) in {_name(name) for name in from_source}]
    try:
        on_line(f"downloading wheels for {architecture} into {target}")
        binary = staging / "binary.lock"
        binary.write_text("\n".join(pin for pin in pins if pin not in built) + "\n")
        _pip(
            [
                "download", "--quiet", "--no-deps", "--only-binary=:all:", "--python-version", PYTHON_VERSION,
                "--implementation", "cp", *[arg for tag in platform_tags(architecture) for arg in ("--platform", tag)],
                "--requirement", str(binary), "--dest", str(staging),
            ],
            f"could not download the wheels named in {lock_file.name}",
            "check that PyPI is reachable (pip's proxy and certificate settings apply) "
            "and that every pinned version has a wheel for CPython 3.11 on this architecture",
        )  # fmt: skip
        binary.unlink()
        for pin in built:
            for wheel in _built_from_source(cache_dir, architecture, pin, on_line):
                link_or_copy(wheel, staging / wheel.name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    (staging / _COMPLETE).write_text(lock_digest(lock_file))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def _built_from_source(cache_dir: Path, architecture: str, pin: str, on_line: Callable[[str], None]) -> list[Path]:
    """`pin`'s wheel, built from source by the host once and kept (every lock that pins it shares it)."""
    folder = cache_dir / f"from-source-py{PYTHON_VERSION}-{architecture}" / pin.replace("==", "-")
    wheels = sorted(folder.glob("*.whl"))
    if wheels:
        return wheels
    _require_matching_host(architecture, [pin])
    on_line(f"building {pin} from source on the host (PyPI has no wheel of it)")
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _pip(
            ["wheel", "--quiet", "--no-deps", "--no-binary=:all:", "--wheel-dir", str(staging), pin],
            f"could not build {pin} from source",
            "the host needs a C compiler and the Python headers (Debian: apt-get install gcc python3-dev)",
        )
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return sorted(folder.glob("*.whl"))


def _name(pin: str) -> str:
    """A requirement's project name, normalised as PyPI does (PEP 503)."""
    return re.sub(r"[-_.]+", "-", re.split(r"[=<>!~\[; ]", pin, maxsplit=1)[0]).lower()


def _require_matching_host(architecture: str, packages: list[str]) -> None:
    host = f"{sys.version_info.major}.{sys.version_info.minor}"
    same = {"amd64": "x86_64", "arm64": "aarch64"}  # Docker's names -> the kernel's
    machine = platform.machine()
    if host != PYTHON_VERSION or same.get(machine, machine) != same.get(architecture, architecture):
        raise InfrastructureError(
            f"{', '.join(packages)} must be built from source by CPython {PYTHON_VERSION} on {architecture}; "
            f"this host runs CPython {host} on {machine}",
            fix=f"run the harness under CPython {PYTHON_VERSION} on a {architecture} host",
        )


# pip settings that would change what a lock resolves to (tox sets a constraint file for its own installs);
# the index, proxy and certificate settings stay.
_RESOLUTION_SETTINGS = ("PIP_CONSTRAINT", "PIP_REQUIREMENT", "PIP_NO_BINARY", "PIP_ONLY_BINARY", "PIP_PRE")


def _pip(arguments: list[str], problem: str, fix: str) -> None:
    environment = {k: v for k, v in os.environ.items() if k not in _RESOLUTION_SETTINGS}
    result = subprocess.run([sys.executable, "-m", "pip", *arguments], capture_output=True, text=True,
                            env=environment)  # fmt: skip
    if result.returncode != 0:
        raise InfrastructureError(problem, fix=fix, details=result.stderr[-3000:])


def link_or_copy(source: Path, target: Path) -> None:
    """A wheel into a build context: a hard link when on the same file system, else a copy."""
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copy2(source, target)
