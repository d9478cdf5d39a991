"""Building the stand-ins (once per recipe content), tagging AWS's URIs onto them, and saying so.

A stand-in is built from its recipe's lock with wheels downloaded on the host (or built there, for packages
PyPI ships only as source), so the build needs no network; it is tagged `harness-standin/<repo>:<version>`
and under every AWS URI a job names, and labelled as a stand-in with its differences from AWS's image.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.engine.baseimage import AUTO, resolve_base_image
from harness.engine.docker import Engine, ImageInfo
from harness.engine.wheels import ensure_wheelhouse, link_or_copy
from harness.errors import InfrastructureError, UserError
from harness.images.aws import AwsImage, parse_aws_image
from harness.images.recipes import HERE, RECIPES, Recipe, recipe_for

STANDIN_LABEL = "com.sagemaker-local-harness.stand-in"  # "<framework> <version>"
RECIPE_LABEL = "com.sagemaker-local-harness.stand-in-sha256"  # what it was built from
DIFFERENCES_LABEL = "com.sagemaker-local-harness.stand-in-differences"  # JSON list of lines
RUNTIME = HERE / "runtime"


def cache_dir(environ: dict[str, str] | None = None) -> Path:
    """Wheels and the offline base's work folder: one per user, shared by every project."""
    env = os.environ if environ is None else environ
    base = env.get("HARNESS_CACHE_DIR") or os.path.join(env.get("XDG_CACHE_HOME") or "~/.cache", "sagemaker-harness")
    return Path(base).expanduser()


def is_standin(info: ImageInfo) -> bool:
    return STANDIN_LABEL in info.labels


def recipe_digest(recipe: Recipe) -> str:
    digest = hashlib.sha256()
    for path in _recipe_files(recipe):
        digest.update(path.relative_to(HERE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _recipe_files(recipe: Recipe) -> list[Path]:
    runtime = [p for p in RUNTIME.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return sorted([recipe.dockerfile, recipe.lock, *runtime])


@dataclass(frozen=True)
class StandInUse:
    uri: str
    recipe: Recipe


class StandIns:
    """Resolves AWS's framework image URIs to stand-ins, building each at most once per process."""

    def __init__(self, engine: Engine, on_notice: Callable[[str], None], cache: Path | None = None,
                 base_image: str = AUTO) -> None:  # fmt: skip
        self._engine = engine
        self._notice = on_notice
        self._cache = cache or cache_dir()
        self._base_image = base_image
        self._lock = threading.Lock()
        self._fresh: set[str] = set()  # recipes checked or built in this process
        self.used: dict[str, StandInUse] = {}  # URI -> what stood for it

    def resolve(self, uri: str) -> str | None:
        """`uri` once a stand-in answers to it; None when it is not AWS's framework image or when AWS's real
        image is present locally (pulled while online), which is then used as it is."""
        image = parse_aws_image(uri)
        if image is None:
            return None
        present = self._engine.image(uri)
        if present is not None and not is_standin(present):
            return None
        recipe = recipe_for(image)  # a UserError naming the versions when there is none
        with self._lock:
            built = self._ensure(recipe)
            if present is None or present.id != built.id:
                self._engine.tag(built.id, *_repository_and_tag(uri))
            if uri not in self.used:
                self.used[uri] = StandInUse(uri, recipe)
                self._announce(image, recipe)
        return uri

    def _ensure(self, recipe: Recipe) -> ImageInfo:
        info = self._engine.image(recipe.local_name)
        digest = recipe_digest(recipe)
        if info is not None and info.labels.get(RECIPE_LABEL) == digest:
            return info
        try:
            return build_standin(self._engine, recipe, self._cache, self._base_image, self._notice)
        except InfrastructureError as error:  # no PyPI, no compiler, a failed build: the job that needs it fails
            raise UserError(
                f"the stand-in for AWS's {recipe.framework} {recipe.version} image could not be built: {error.problem}",
                fix=error.fix or "read the error above, then run again (the harness retries the build)",
                details=error.details,
            ) from error

    def _announce(self, image: AwsImage, recipe: Recipe) -> None:
        self._notice(
            f"harness: {image.uri} is AWS's {image.framework} {image.version} image: a local stand-in runs in its "
            f"place ({recipe.local_name}); it differs in: " + "; ".join(str(d) for d in recipe.differences)
        )


def _repository_and_tag(uri: str) -> tuple[str, str]:
    """Docker's reading of a reference: an untagged one (Model Monitor's analyzer) means `latest`."""
    repository, _, tag = uri.rpartition(":")
    return (repository, tag) if repository and "/" not in tag else (uri, "latest")


def build_standin(
    engine: Engine, recipe: Recipe, cache: Path, base_image: str, on_line: Callable[[str], None]
) -> ImageInfo:
    started = time.monotonic()
    on_line(f"harness: building the stand-in {recipe.local_name} (once; a few minutes, from PyPI wheels)")
    base = resolve_base_image(base_image, cache / "rootfs", engine, on_line)
    wheels = ensure_wheelhouse(cache / "wheels", recipe.lock, engine.architecture(), on_line, recipe.from_source)
    labels = {
        STANDIN_LABEL: f"{recipe.framework} {recipe.version}",
        RECIPE_LABEL: recipe_digest(recipe),
        DIFFERENCES_LABEL: json.dumps([str(d) for d in recipe.differences]),
    }
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="standin-context-", dir=cache) as scratch:
        context = Path(scratch)
        shutil.copy2(recipe.dockerfile, context / "Dockerfile")
        shutil.copy2(recipe.lock, context / "requirements.lock")
        (context / "wheels").mkdir()
        for wheel in wheels.glob("*.whl"):
            link_or_copy(wheel, context / "wheels" / wheel.name)
        shutil.copytree(RUNTIME, context / "runtime", ignore=shutil.ignore_patterns("__pycache__"))
        info = engine.build(
            context,
            recipe.local_name,
            "",
            {"BASE_IMAGE": base, "FRAMEWORK": recipe.framework},
            labels,
            lambda line: None,
        )
    on_line(
        f"harness: built {recipe.local_name} in {time.monotonic() - started:.0f} s ({info.size_bytes / 1e6:.0f} MB)"
    )
    return info


def local_standins(engine: Engine) -> Iterable[tuple[Recipe, ImageInfo | None]]:
    """Every recipe with its local image, if built (for `harness doctor`)."""
    for recipe in RECIPES.values():
        yield recipe, engine.image(recipe.local_name)
