"""Building and inspecting the project's three images.

All three come from one multi-target Dockerfile (containers/Dockerfile) and one
lock, built in one context so the dependency stage is built once and shared.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from harness.engine.baseimage import resolve_base_image
from harness.engine.docker import ContainerSpec, Engine, ImageInfo, Scope
from harness.engine.wheels import ensure_wheelhouse, link_or_copy, lock_digest
from harness.errors import ContractViolation, UserError
from harness.lines import prefixed
from harness.project.config import Settings
from harness.statefiles import corrupt

LOCK_LABEL = "com.sagemaker-local-harness.lock-sha256"
SOURCE_LABEL = "com.sagemaker-local-harness.source-sha256"
BASE_LABEL = "com.sagemaker-local-harness.base-image"
# The one list of libraries whose versions must match between training and inference images
# (`harness doctor`, `harness check --pair`): a pickled model loads only under the versions it was trained with.
PARITY_LIBRARIES = ("scikit-learn", "numpy", "scipy", "pandas", "joblib", "threadpoolctl")
# Runs inside an image: prints {distribution: version} for the names in argv.
_VERSION_PROBE = (
    "import json, sys\n"
    "from importlib import metadata\n"
    "def version(name):\n"
    "    try:\n"
    "        return metadata.version(name)\n"
    "    except metadata.PackageNotFoundError:\n"
    "        return None\n"
    "print(json.dumps({n: version(n) for n in sys.argv[1:]}))\n"
)


class ImageKind(StrEnum):
    PROCESSING = "processing"
    TRAINING = "training"
    INFERENCE = "inference"


@dataclass(frozen=True)
class BuiltImage:
    kind: ImageKind
    tag: str
    info: ImageInfo
    seconds: float


def source_files(settings: Settings) -> list[Path]:
    """Everything that goes into the images besides the base and the wheels."""
    return sorted(
        [
            settings.containers_dir / "Dockerfile",
            settings.lock_file,
            *settings.jobs_dir.glob("*.py"),
            *(settings.containers_dir / "inference").glob("*.py"),
        ]
    )


def source_digest(settings: Settings) -> str:
    digest = hashlib.sha256()
    for path in source_files(settings):
        digest.update(path.relative_to(settings.project_root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def assemble_context(settings: Settings, wheelhouse: Path, into: Path) -> Path:
    """Dockerfile, lock, wheels (hard links when possible) and the programs."""
    shutil.copy2(settings.containers_dir / "Dockerfile", into / "Dockerfile")
    shutil.copy2(settings.lock_file, into / "requirements.lock")
    (into / "wheels").mkdir()
    for wheel in wheelhouse.glob("*.whl"):
        link_or_copy(wheel, into / "wheels" / wheel.name)
    (into / "jobs").mkdir()
    for script in settings.jobs_dir.glob("*.py"):
        shutil.copy2(script, into / "jobs" / script.name)
    shutil.copytree(
        settings.containers_dir / "inference", into / "inference", ignore=shutil.ignore_patterns("__pycache__")
    )
    return into


def build_images(
    settings: Settings,
    engine: Engine,
    kinds: Iterable[ImageKind],
    on_line: Callable[[str], None],
    on_target: Callable[[str, str, float | None], None] | None = None,
) -> list[BuiltImage]:
    """Builds each target in turn; `on_target` hears of each: (tag, "building", None) before, then
    (tag, "built", seconds), or (tag, "failed", seconds) when its build raised (the error propagates)."""
    if not settings.lock_file.is_file():
        raise UserError(f"{settings.lock_file} is missing", fix="restore containers/requirements.lock from git")
    base = resolve_base_image(settings.base_image, settings.rootfs_cache_dir, engine, on_line)
    on_line(f"base image: {base}")
    wheelhouse = ensure_wheelhouse(settings.wheels_cache_dir, settings.lock_file, engine.architecture(), on_line)
    build_args = {"BASE_IMAGE": base}
    labels = {LOCK_LABEL: lock_digest(settings.lock_file), SOURCE_LABEL: source_digest(settings), BASE_LABEL: base}
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    built = []
    with tempfile.TemporaryDirectory(prefix="build-context-", dir=settings.state_dir) as scratch:
        context = assemble_context(settings, wheelhouse, Path(scratch))
        for kind in kinds:
            tag = settings.image_name(kind.value)
            if on_target is not None:
                on_target(tag, "building", None)
            started = time.monotonic()
            try:
                info = engine.build(context, tag, kind.value, build_args, labels, prefixed(on_line, f"[{kind.value}] "))
            except BaseException:
                if on_target is not None:
                    on_target(tag, "failed", time.monotonic() - started)
                raise
            seconds = time.monotonic() - started
            built.append(BuiltImage(kind, tag, info, seconds))
            if on_target is not None:
                on_target(tag, "built", seconds)
    return built


def library_versions(scope: Scope, image: str, names: Iterable[str] = PARITY_LIBRARIES) -> dict[str, str | None]:
    """Installed versions of `names` inside `image` (None where absent)."""
    spec = ContainerSpec(
        image=image, entrypoint=("python3", "-c", _VERSION_PROBE), command=tuple(names), network_disabled=True
    )
    code, output = scope.run_to_exit(spec, timeout_s=120)
    if code != 0:
        raise ContractViolation(f"{image} cannot report its library versions (python3 exited {code})", details=output)
    return dict(json.loads(output.strip().splitlines()[-1]))


def version_differences(left: dict[str, str | None], right: dict[str, str | None]) -> list[str]:
    return [
        f"{name}: {left.get(name)} vs {right.get(name)}"
        for name in sorted(set(left) | set(right))
        if left.get(name) != right.get(name)
    ]


def stale_images(settings: Settings, engine: Engine) -> list[ImageKind]:
    """The images that are missing or were built from other sources than the current ones."""
    current = source_digest(settings)
    stale = []
    for kind in ImageKind:
        info = engine.image(settings.image_name(kind.value))
        if info is None or info.labels.get(SOURCE_LABEL) != current:
            stale.append(kind)
    return stale


def cached_library_versions(scope: Scope, image: str, cache_file: Path) -> dict[str, str | None]:
    """library_versions, remembered per image ID (an image's content never changes)."""
    return cached_library_versions_of(scope, [image], cache_file)[0]


def cached_library_versions_of(scope: Scope, images: Sequence[str], cache_file: Path) -> list[dict[str, str | None]]:
    """cached_library_versions of several images; those not in the cache are probed at the same time."""
    ids = [_image_id(scope.engine, image) for image in images]
    # A cache that does not read back is rebuilt: what it held is recomputed, nothing is lost.
    cache = {} if corrupt(cache_file) or not cache_file.is_file() else json.loads(cache_file.read_text())
    missing = {
        image_id: image
        for image_id, image in zip(ids, images, strict=True)
        if not isinstance(cache.get(image_id), dict)
    }
    if missing:
        with ThreadPoolExecutor(len(missing)) as pool:
            probed = pool.map(lambda image: library_versions(scope, image), missing.values())
            cache.update(zip(missing, probed, strict=True))
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(cache, indent=2))
    return [dict(cache[image_id]) for image_id in ids]


def _image_id(engine: Engine, image: str) -> str:
    info = engine.image(image)
    if info is None:
        raise UserError(f"image {image} does not exist", fix="run `harness images build`")
    return info.id
