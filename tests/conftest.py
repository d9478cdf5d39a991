"""Shared test set-up.

The job scripts and the inference server are plain scripts (they run flat
inside their images), so their folders go on sys.path. Container and e2e
tests run real images in a real Docker daemon: a missing daemon is an error,
never a skip (`harness provision`, run by tox first, makes one answer).
"""

from __future__ import annotations

import contextlib
import sys
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from docker.errors import ImageNotFound
from support import SESSION, session_scope, training_root, training_spec

from harness.emulator.environment import EnvironmentOptions, LocalEnvironment
from harness.engine.docker import OWNER, OWNER_LABEL, Engine, Scope
from harness.project.config import Settings
from harness.project.images import ImageKind, build_images

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT / "jobs", ROOT / "containers" / "inference"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

FIXTURES = ROOT / "fixtures"
BROKEN = FIXTURES / "broken-images"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests under tests/unit are `unit`, under tests/container `container`."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "unit" in parts:
            item.add_marker(pytest.mark.unit)
        elif "container" in parts:
            item.add_marker(pytest.mark.container)
        elif "e2e" in parts:
            item.add_marker(pytest.mark.e2e)
        elif "aws" in parts:
            item.add_marker(pytest.mark.aws)


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine.connect()


@pytest.fixture(scope="session", autouse=True)
def no_container_left_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    """Pass or fail, the suite must leave none of its containers or networks behind."""
    yield
    if not any(
        item.get_closest_marker("container") or item.get_closest_marker("e2e") for item in request.session.items
    ):
        return  # a unit-only run needs no Docker
    engine = Engine.connect()
    ours = [c.short_id for c in engine.containers({OWNER_LABEL: OWNER}) if c.scope.startswith(SESSION)]
    networks = [n for n in engine.networks({OWNER_LABEL: OWNER}) if n.startswith(SESSION)]
    assert not ours and not networks, f"left behind: containers {ours}, networks {networks}"


@pytest.fixture(scope="session")
def images(settings: Settings, engine: Engine) -> dict[ImageKind, str]:
    """The images as the current sources build them (a cached build takes seconds)."""
    built = build_images(settings, engine, list(ImageKind), lambda line: None)
    return {image.kind: image.tag for image in built}


class FixtureImages:
    """Images built from fixtures/broken-images/<name> (or fixtures/byoc), once per session each."""

    def __init__(self, engine: Engine, images: dict[ImageKind, str]) -> None:
        self._engine = engine
        self._images = images
        self._lock = threading.Lock()  # checks run in threads; one build per name
        self._tags: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        with self._lock:
            if name not in self._tags:
                self._tags[name] = self._build(name)
            return self._tags[name]

    def _build(self, name: str) -> str:
        """FROM the project's image of the kind the folder name starts with (byoc: training), so offline."""
        byoc = name == "byoc"
        context = FIXTURES / name if byoc else BROKEN / name
        base = self._images[ImageKind.TRAINING if byoc else ImageKind(name.split("-", 1)[0])]
        tag = f"harness-test-{name}:{SESSION}"
        self._engine.client.images.build(
            path=str(context), tag=tag, buildargs={"BASE": base}, rm=True, forcerm=True, labels={OWNER_LABEL: OWNER}
        )
        return tag

    def remove_all(self) -> None:
        for tag in self._tags.values():
            with contextlib.suppress(ImageNotFound):
                self._engine.client.images.remove(tag, force=True)


@pytest.fixture(scope="session")
def broken_image(engine: Engine, images: dict[ImageKind, str]) -> Iterator[Callable[[str], str]]:
    """broken_image("inference-wrong-port") -> its tag; each image built once, all removed when the session ends."""
    built = FixtureImages(engine, images)
    try:
        yield built
    finally:
        built.remove_all()


@pytest.fixture
def scope(engine: Engine) -> Iterator[Scope]:
    with session_scope(engine) as test_scope:
        yield test_scope


@pytest.fixture(scope="session")
def trained(
    tmp_path_factory: pytest.TempPathFactory, fixtures_dir: Path, engine: Engine, images: dict[ImageKind, str]
) -> Path:
    """A finished training job's /opt/ml, with model.tar.gz packed as SageMaker packs it."""
    root = training_root(tmp_path_factory.mktemp("trained"), fixtures_dir)
    with session_scope(engine) as train_scope:
        code, logs = train_scope.run_to_exit(training_spec(images[ImageKind.TRAINING], root), timeout_s=300)
    assert code == 0, logs
    with tarfile.open(root / "model.tar.gz", "w:gz") as tar:
        for item in sorted((root / "model").iterdir()):
            tar.add(item, arcname=item.name)
    return root


@pytest.fixture
def local_env(engine: Engine, images: dict[ImageKind, str], tmp_path: Path) -> Iterator[LocalEnvironment]:
    """A local SageMaker (S3, API, session) with its own state folder."""
    settings = replace(Settings.from_env(), state_dir=tmp_path / "state")
    with LocalEnvironment.open(
        settings.state_dir, engine, lambda job, line: None, lambda record: None, EnvironmentOptions(scope_name=SESSION)
    ) as env:
        yield env


AWS_CLI_VERSION = "1.46.3"  # the AWS CLI v1 pins its own botocore, so it lives in a venv of its own


@pytest.fixture(scope="session")
def aws_cli(settings: Settings) -> Path:
    """The AWS CLI (v1, from PyPI), installed once under the state folder, outside the image lock."""
    import os
    import subprocess
    import venv

    home = settings.state_dir / "tools" / f"awscli-{AWS_CLI_VERSION}"
    executable = home / "bin" / "aws"
    if not executable.exists():
        venv.create(home, with_pip=True)
        environment = {k: v for k, v in os.environ.items() if k != "PIP_CONSTRAINT"}
        pip = [str(home / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, f"awscli=={AWS_CLI_VERSION}"], env=environment, check=True, timeout=600)
    return executable
