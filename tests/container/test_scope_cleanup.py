"""The engine adapter reaps what it started, even when the caller is interrupted."""

import pytest
from support import session_scope

from harness.engine.docker import SCOPE_LABEL, ContainerSpec, Engine, Scope
from harness.errors import InfrastructureError
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


def test_a_container_started_as_its_scope_closes_is_removed_by_its_starter(engine: Engine, images: dict) -> None:
    """Ctrl-C as a job starts: close() may list the scope before the job's container exists; the job's start
    then removes it and fails at once instead of leaving it running until the job's own end."""
    spec = ContainerSpec(image=images[ImageKind.PROCESSING], entrypoint=("sleep", "300"), network_disabled=True)
    scope = Scope(engine, "closing")
    real_start = engine.start

    def start_then_close(*arguments: object) -> object:
        container = real_start(*arguments)  # type: ignore[arg-type]
        scope.close()  # closed while the creation was under way: the listing happened before it returned
        return container

    engine.start = start_then_close  # type: ignore[method-assign]
    try:
        with pytest.raises(InfrastructureError, match="shutting down"):
            scope.start(spec)
    finally:
        engine.start = real_start  # type: ignore[method-assign]
    assert engine.containers({SCOPE_LABEL: scope.id}) == []
    with pytest.raises(InfrastructureError, match="shutting down"):
        scope.create(spec)
