"""Line sinks: the callables that receive build and container output one line at a time."""

from __future__ import annotations

from collections.abc import Callable

LineSink = Callable[[str], None]


def prefixed(on_line: LineSink, prefix: str) -> LineSink:
    """`on_line` with every line prefixed (a build's target, a job's host)."""
    return lambda line: on_line(prefix + line)
