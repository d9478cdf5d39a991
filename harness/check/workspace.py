"""Host folders for a checked container: the model, channels and inputs laid
out where SageMaker would put them, from files or folders the user names."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from harness.emulator.archives import UnsafeArchive, safe_extract
from harness.errors import UserError

GARBAGE = b"\x00\x01not,a,valid\xff\xfe record\n" * 8  # unusable as data by any loader


def place(source: Path, folder: Path) -> None:
    """Copy a file into `folder`, or a folder's contents."""
    if not source.exists():
        raise UserError(f"{source} does not exist", fix="pass an existing file or folder")
    folder.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, folder, dirs_exist_ok=True)
    else:
        shutil.copy2(source, folder / source.name)


def model_folder(model: Path | None, into: Path) -> Path:
    """A model.tar.gz extracted (as SageMaker does before `serve`), or a folder copied."""
    into.mkdir(parents=True, exist_ok=True)
    if model is None:
        return into
    if model.is_dir():
        shutil.copytree(model, into, dirs_exist_ok=True)
        return into
    if not tarfile.is_tarfile(model):
        raise UserError(f"--model {model} is neither a folder nor a tar archive", fix="pass model.tar.gz or a folder")
    try:
        return safe_extract(model, into)
    except UnsafeArchive as error:
        raise UserError(f"--model: {error}", fix="pack only files and folders, with relative paths") from error


def corrupt(folder: Path) -> None:
    """Overwrite every file under `folder` with bytes no loader accepts."""
    for path in folder.rglob("*"):
        if path.is_file():
            path.write_bytes(GARBAGE)


# Scratch places any program may write to; nothing there is meant to outlive the job.
SCRATCH = ("/tmp", "/var/tmp", "/root/.cache")


def written_outside(paths: list[str], allowed: tuple[str, ...]) -> tuple[str, ...]:
    """The paths a container added outside `allowed` and scratch (byte-code caches aside)."""
    return tuple(p for p in paths if not p.startswith(allowed + SCRATCH) and "__pycache__" not in p)
