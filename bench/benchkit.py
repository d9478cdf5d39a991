"""What the benchmarks share: the bare `docker run` they measure against, how they write their results, a
patch for timing wrappers, and the tracer that times the harness's own calls."""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

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


@dataclass(frozen=True)
class Span:
    label: str
    start: float  # seconds since the tracer started
    seconds: float
    thread: str

    @property
    def end(self) -> float:
        return self.start + self.seconds


class Tracer:
    """Times every call (any thread) to chosen functions by wrapping them inside a `with` block; the originals
    are restored on exit. `targets`: (owner, attribute, label)."""

    def __init__(self, targets: Sequence[tuple[Any, str, str]]) -> None:
        self._targets = targets
        self._restore: list[tuple[Any, str, Any]] = []
        self._origin = time.perf_counter()
        self._lock = threading.Lock()
        self.spans: list[Span] = []

    def __enter__(self) -> Self:
        self._origin = time.perf_counter()
        for owner, name, label in self._targets:
            self.wrap(owner, name, label)
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._restore):
            setattr(owner, name, original)
        self._restore.clear()

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name, None)
        if original is None:  # the harness changed: say which target to update
            raise RuntimeError(
                f"cannot time {getattr(owner, '__name__', owner)}.{name}: it no longer exists "
                "(update the benchmark's targets)"
            )

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.record(label, started, time.perf_counter())

        self.replace(owner, name, timed)

    def replace(self, owner: Any, name: str, replacement: Any) -> None:
        """`owner.name` is `replacement` until the block ends."""
        self._restore.append((owner, name, getattr(owner, name)))
        setattr(owner, name, replacement)

    def record(self, label: str, started: float, ended: float) -> None:
        """A span from two `time.perf_counter()` readings."""
        span = Span(label, started - self._origin, ended - started, threading.current_thread().name)
        with self._lock:
            self.spans.append(span)

    def main_spans(self) -> list[Span]:
        return sorted((s for s in self.spans if s.thread == "MainThread"), key=lambda s: s.start)

    def within(self, started: float, ended: float) -> dict[str, float]:
        """Seconds per label of the spans inside two `time.perf_counter()` readings."""
        low, high = started - self._origin, ended - self._origin
        parts: dict[str, float] = {}
        with self._lock:
            for span in self.spans:
                if span.start >= low and span.end <= high:
                    parts[span.label] = parts.get(span.label, 0.0) + span.seconds
        return parts
