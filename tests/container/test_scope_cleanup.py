"""The engine adapter reaps what it started, even when the caller is interrupted."""

import pytest
from support import session_scope

from harness.engine.docker import SCOPE_LABEL, ContainerSpec, Engine
from harness.project.images import ImageKind


def test_interrupted_scope_removes_its_running_containers(engine: Engine, images: dict) -> None:
    spec = ContainerSpec(image=images[ImageKind.PROCESSING], entrypoint=("sleep", "300"), network_disabled=True)
    seen: dict[str, str] = {}

    def start_two_then_interrupt() -> None:
        with session_scope(engine) as scope:
            seen["scope"] = scope.id
            started = [scope.start(spec), scope.start(spec)]
            assert all(c.status() == "running" for c in started)
            assert {c.scope for c in started} == {scope.id}
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        start_two_then_interrupt()
    assert engine.containers({SCOPE_LABEL: seen["scope"]}) == []
