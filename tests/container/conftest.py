"""Container tests run real images in a real Docker daemon.

A missing daemon is an error, never a skip: provisioning (`harness provision`,
run by tox before the tests) must have made one answer.
"""

from __future__ import annotations

import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.config import Settings
from harness.docker import OWNER, OWNER_LABEL, Engine, Scope
from harness.images import ImageKind, build_images
from support import training_root, training_spec


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine.connect()


# Every scope of this test session is named after it, so the leftover check
# ignores containers that other harness users on the machine own.
SESSION = f"tests{uuid.uuid4().hex[:8]}"


def session_scope(engine: Engine) -> Scope:
    return Scope(engine, SESSION)


@pytest.fixture(scope="session", autouse=True)
def no_container_left_behind(engine: Engine) -> Iterator[None]:
    """Pass or fail, the suite must leave none of its containers behind."""
    yield
    ours = [c for c in engine.containers({OWNER_LABEL: OWNER}) if c.scope.startswith(SESSION)]
    assert not ours, f"containers left behind: {[c.short_id for c in ours]}"


@pytest.fixture(scope="session")
def images(settings: Settings, engine: Engine) -> dict[ImageKind, str]:
    """The images as the current sources build them (a cached build takes seconds)."""
    built = build_images(settings, engine, list(ImageKind), lambda line: None)
    return {image.kind: image.tag for image in built}


@pytest.fixture()
def scope(engine: Engine) -> Iterator[Scope]:
    with session_scope(engine) as test_scope:
        yield test_scope


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, fixtures_dir: Path, engine: Engine,
            images: dict[ImageKind, str]) -> Path:
    """A finished training job's /opt/ml, with model.tar.gz packed as SageMaker packs it."""
    root = training_root(tmp_path_factory.mktemp("trained"), fixtures_dir)
    with session_scope(engine) as train_scope:
        code, logs = train_scope.run_to_exit(training_spec(images[ImageKind.TRAINING], root), timeout_s=300)
    assert code == 0, logs
    with tarfile.open(root / "model.tar.gz", "w:gz") as tar:
        for item in sorted((root / "model").iterdir()):
            tar.add(item, arcname=item.name)
    return root


