"""The engine adapter reaps what it started, even when the caller is interrupted."""

import pytest
from support import session_scope

from harness.docker import SCOPE_LABEL, ContainerSpec, Engine
from harness.images import ImageKind


def test_interrupted_scope_removes_its_running_containers(engine: Engine, images: dict) -> None:
    spec = ContainerSpec(image=images[ImageKind.PROCESSING], entrypoint=("sleep", "300"), network_disabled=True)
    with pytest.raises(KeyboardInterrupt):
        with session_scope(engine) as scope:
            started = [scope.start(spec), scope.start(spec)]
            assert all(c.status() == "running" for c in started)
            assert {c.scope for c in started} == {scope.id}
            raise KeyboardInterrupt
    assert engine.containers({SCOPE_LABEL: scope.id}) == []
