"""`harness doctor`: what is missing to run the project, with the fix for each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from pathlib import Path

from harness.emulator.registry import ModelRegistry
from harness.engine.baseimage import AUTO, OFFLINE_BASE_IMAGE, PUBLIC_BASE_IMAGE
from harness.engine.docker import Engine, ImageInfo, Scope
from harness.errors import CorruptState, HarnessError, InfrastructureError
from harness.images.recipes import Recipe
from harness.images.standins import RECIPE_LABEL, local_standins, recipe_digest
from harness.project.config import Settings
from harness.project.images import ImageKind, library_versions, stale_images, version_differences
from harness.project.record import read_record, record_files
from harness.statefiles import corrupt, move_aside


class Status(StrEnum):
    OK = "ok"
    MISSING = "missing"
    FAILED = "failed"


@dataclass(frozen=True)
class Finding:
    name: str
    status: Status
    detail: str
    fix: str = ""


def state_checks(settings: Settings) -> dict[Path, Callable[[], object]]:
    """Each JSON file the harness reads back, with the reader that reads it (so "valid" means what it means there)."""
    registry = ModelRegistry(settings.state_dir / "registry.json")
    cache = settings.state_dir / "image-versions.json"
    checks: dict[Path, Callable[[], object]] = {registry.state_file.path: registry.check}
    checks[cache] = partial(_check_cache, cache)
    checks.update({state.path: partial(read_record, state) for state in record_files(settings)})
    return checks


def _check_cache(path: Path) -> None:
    """The version cache's reader rebuilds what does not read back, but a folder in its place still stops a run."""
    problem = corrupt(path)
    if problem:
        raise CorruptState(path, "image version cache", problem)


def _broken(settings: Settings) -> dict[Path, str]:
    broken = {}
    for path, check in state_checks(settings).items():
        try:
            check()
        except CorruptState as error:
            broken[path] = error.reason
    return broken


def _state(settings: Settings, fix: bool) -> Finding:
    broken = _broken(settings)
    if not broken:
        return Finding("state files", Status.OK, f"everything under {settings.state_dir} reads back")
    if fix:
        moved = [f"{path.name} -> {move_aside(path).name}" for path in broken]
        return Finding("state files", Status.OK, "moved corrupt files aside: " + ", ".join(moved))
    return Finding(
        "state files",
        Status.FAILED,
        "; ".join(f"{path}: {problem}" for path, problem in broken.items()),
        "run `sagemaker-harness doctor --fix` (moves them aside) or delete them",
    )


def diagnose(settings: Settings, fix: bool = False) -> list[Finding]:
    state = _state(settings, fix)
    try:
        engine = Engine.connect(timeout_s=10)
    except InfrastructureError as error:
        return [state, Finding("docker daemon", Status.MISSING, error.problem, error.fix)]
    findings = [state, Finding("docker daemon", Status.OK, f"server {engine.info().get('ServerVersion', '?')}")]
    findings.append(_base_image(settings, engine))
    images = [_image(settings, engine, kind) for kind in ImageKind]
    findings.extend(images)
    if all(f.status is not Status.MISSING for f in images):
        findings.append(_parity(settings, engine))
    findings.extend(_stand_in(recipe, info) for recipe, info in local_standins(engine))
    return findings


def _stand_in(recipe: Recipe, info: ImageInfo | None) -> Finding:
    """A stand-in for AWS's image: built on first use; what differs from AWS's image, always."""
    name = f"stand-in {recipe.framework} {recipe.version}"
    differences = "; ".join(str(d) for d in recipe.differences)
    if info is None:
        return Finding(name, Status.OK, f"not built yet (built on first use); differs from AWS's: {differences}")
    current = info.labels.get(RECIPE_LABEL) == recipe_digest(recipe)
    state = f"{recipe.local_name} {info.id[:19]} {info.size_bytes / 1e6:.0f} MB" + (
        "" if current else ", rebuilt on next use"
    )
    return Finding(name, Status.OK, f"{state}; differs from AWS's: {differences}")


def _base_image(settings: Settings, engine: Engine) -> Finding:
    candidates = [settings.base_image] if settings.base_image != AUTO else [PUBLIC_BASE_IMAGE, OFFLINE_BASE_IMAGE]
    for name in candidates:
        if engine.image(name) is not None:
            return Finding("base image", Status.OK, name)
    return Finding(
        "base image",
        Status.MISSING,
        f"none of {', '.join(candidates)} is present",
        "run `harness images build`: it pulls the public base or builds the offline one",
    )


def _image(settings: Settings, engine: Engine, kind: ImageKind) -> Finding:
    tag = settings.image_name(kind.value)
    info = engine.image(tag)
    if info is None:
        return Finding(f"image {kind.value}", Status.MISSING, f"{tag} not built", "run `harness images build`")
    if kind in stale_images(settings, engine):
        return Finding(
            f"image {kind.value}",
            Status.FAILED,
            f"{tag} is out of date with containers/ and jobs/",
            "run `harness images build`",
        )
    return Finding(f"image {kind.value}", Status.OK, f"{tag} {info.id[:19]} {info.size_bytes / 1e6:.0f} MB")


def _parity(settings: Settings, engine: Engine) -> Finding:
    try:
        with Scope(engine, "doctor") as scope:
            training = library_versions(scope, settings.image_name(ImageKind.TRAINING.value))
            inference = library_versions(scope, settings.image_name(ImageKind.INFERENCE.value))
    except HarnessError as error:
        return Finding("version parity", Status.FAILED, error.problem, "run `harness images build`")
    differences = version_differences(training, inference)
    if differences:
        return Finding(
            "version parity",
            Status.FAILED,
            "training vs inference: " + "; ".join(differences),
            "rebuild both images from the one lock: `harness images build`",
        )
    shown = ", ".join(f"{k} {v}" for k, v in sorted(training.items()))
    return Finding("version parity", Status.OK, f"training = inference ({shown})")
