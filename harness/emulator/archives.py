"""model.tar.gz in and out: SageMaker's model packaging, done safely."""

from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath


class UnsafeArchive(ValueError):
    """An archive that is empty or holds links, devices or paths escaping its folder."""


def safe_extract(archive: Path, into: Path) -> Path:
    """Extract a (gzipped) tar, refusing anything but plain files and folders inside `into`.

    Written out rather than `extractall(filter="data")`, which Python 3.11.2
    (Debian bookworm's) does not have.
    """
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        if not members:
            raise UnsafeArchive(f"{archive.name} is empty")
        for member in members:
            path = PurePosixPath(member.name)
            if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
                raise UnsafeArchive(f"{archive.name} holds an unsafe entry {member.name!r}")
        tar.extractall(into, members=members)
    return into


def pack(folder: Path, archive: Path) -> Path:
    """Everything in `folder` at the archive's root, as SageMaker packs /opt/ml/model."""
    with tarfile.open(archive, "w:gz") as tar:
        for item in sorted(folder.iterdir()) if folder.is_dir() else []:
            tar.add(item, arcname=item.name)
    return archive
