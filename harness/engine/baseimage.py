"""Choosing the base image: the public one where a registry answers, an
offline Debian bookworm image built from Debian's packages where none does.

Order (with HARNESS_BASE_IMAGE unset or `auto`):
  1. python:3.11-slim already present locally;
  2. python:3.11-slim pulled from the registry;
  3. harness-base:bookworm-offline, built once with debootstrap and imported.
An explicit HARNESS_BASE_IMAGE is used as given.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from harness.engine.docker import Engine
from harness.engine.system import host_facts, install_debian_packages
from harness.errors import InfrastructureError, UserError

PUBLIC_BASE_IMAGE = "python:3.11-slim"
OFFLINE_BASE_IMAGE = "harness-base:bookworm-offline"
AUTO = "auto"  # the choice above; anything else names an image

SUITE = "bookworm"  # Debian 12: its python3 is CPython 3.11, which the lock targets
DEFAULT_MIRROR = "http://deb.debian.org/debian"
PACKAGES = "python3,python3-venv,python3-pip,ca-certificates"
# Trimmed from the root file system before import: nothing at run time needs them.
_PRUNE = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale")


def resolve_base_image(choice: str, rootfs_dir: Path, engine: Engine, on_line: Callable[[str], None]) -> str:
    """The base image for `choice` (AUTO or an image), building the offline one in `rootfs_dir` if need be."""
    if choice != AUTO:
        if engine.image(choice) is None and not engine.try_pull(choice):
            raise UserError(
                f"HARNESS_BASE_IMAGE={choice} is neither present locally nor pullable",
                fix="pull or build that image first, or unset HARNESS_BASE_IMAGE to let the harness choose",
            )
        return choice
    if engine.image(PUBLIC_BASE_IMAGE) is not None:
        return PUBLIC_BASE_IMAGE
    on_line(f"trying to pull {PUBLIC_BASE_IMAGE}")
    if engine.try_pull(PUBLIC_BASE_IMAGE):
        return PUBLIC_BASE_IMAGE
    if engine.image(OFFLINE_BASE_IMAGE) is None:
        on_line(f"no registry reachable: building the offline base image {OFFLINE_BASE_IMAGE} from Debian packages")
        build_offline_base(rootfs_dir, engine, on_line)
    return OFFLINE_BASE_IMAGE


def build_offline_base(work: Path, engine: Engine, on_line: Callable[[str], None], mirror: str = DEFAULT_MIRROR) -> str:
    """debootstrap a minimal bookworm with Python in `work` (removed after), then `docker import` it."""
    _ensure_debootstrap()
    rootfs, archive = work / SUITE, work / f"{SUITE}.tar"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        _run(["debootstrap", "--variant=minbase", f"--include={PACKAGES}", SUITE, str(rootfs), mirror], on_line)
        for relative in _PRUNE:
            shutil.rmtree(rootfs / relative, ignore_errors=True)
        _run(["tar", "-C", str(rootfs), "-cf", str(archive), "."], on_line)
        repository, tag = OFFLINE_BASE_IMAGE.split(":")
        image_id = engine.import_rootfs(archive, repository, tag)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    on_line(f"imported {OFFLINE_BASE_IMAGE} ({image_id[:19]})")
    return image_id


def _ensure_debootstrap() -> None:
    if shutil.which("debootstrap"):
        return
    facts = host_facts()
    if not (facts.is_root and facts.is_debian):
        raise InfrastructureError(
            "no registry is reachable and debootstrap is not installed, so no base image can be made",
            fix="install debootstrap (`sudo apt-get install debootstrap`) and re-run, "
            f"or make {PUBLIC_BASE_IMAGE} available locally (`docker load` it from another machine)",
        )
    install_debian_packages(["debootstrap"])


def _run(command: list[str], on_line: Callable[[str], None]) -> None:
    on_line("$ " + " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise InfrastructureError(
            f"`{command[0]}` failed (exit {result.returncode}) while building the offline base image",
            fix="check that the Debian mirror is reachable and that there is free disk space",
            details=(result.stdout + result.stderr)[-3000:],
        )
