"""What the benchmarks share: the bare `docker run` they measure against, how they write their results, and
a patch for timing wrappers."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from harness.engine.docker import ContainerSpec, Scope


def docker_run(scope: Scope, spec: ContainerSpec, timeout_s: float) -> dict[str, float]:
    """`docker run --rm` through the harness's own Docker adapter: create, start, wait, remove (seconds of each,
    and `job_s` in all). Raises with the log tail when the command fails."""
    marks = [time.perf_counter()]
    container = scope.create(spec)
    marks.append(time.perf_counter())
    try:
        container.start()
        marks.append(time.perf_counter())
        code = container.wait(timeout_s)
        marks.append(time.perf_counter())
        if code != 0:
            command = spec.entrypoint or spec.command
            raise RuntimeError(f"the bare run of {spec.image} {command} exited {code}:\n{container.logs_tail()}")
    finally:
        container.remove()
    marks.append(time.perf_counter())
    parts = {
        f"{op}_s": round(b - a, 3)
        for op, a, b in zip(("create", "start", "wait", "remove"), marks[:-1], marks[1:], strict=True)
    }
    return {"job_s": round(marks[-1] - marks[0], 3), **parts}


def write_results(path: Path, document: Mapping[str, Any]) -> None:
    """Via a temporary file, so an interrupted run never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.tmp")
    partial.write_text(json.dumps(document, indent=2, default=str) + "\n")
    partial.replace(path)


@contextlib.contextmanager
def patched(owner: Any, name: str, replacement: Any) -> Iterator[None]:
    """`owner.name` is `replacement` inside the block (timing wrappers, a refused call), restored after."""
    original = getattr(owner, name)
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        setattr(owner, name, original)
