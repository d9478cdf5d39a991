"""Live progress on the terminal: step status lines, prefixed container logs,
and the final summary table."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from harness.emulator.executor import StepRecord, step_of_job

_MARKS = {"Executing": "▶", "Succeeded": "✔", "Failed": "✖"}


class Progress:
    def __init__(self, stream: TextIO | None = None, show_logs: bool = True) -> None:
        self._stream = stream or sys.stdout
        self._show_logs = show_logs
        self._lock = threading.Lock()  # log lines arrive from one thread per container

    def line(self, text: str) -> None:
        with self._lock:
            self._stream.write(text + "\n")
            self._stream.flush()

    def step(self, record: StepRecord) -> None:
        mark = _MARKS.get(record.status, "•")
        timing = "" if record.status == "Executing" else f"  {record.seconds:6.1f}s"
        reason = f"  {record.failure_reason}" if record.failure_reason else ""
        if record.retried and record.status == "Executing":
            reason = f"  attempt {record.attempts}, after: {record.retried[-1]}"
        if record.cache_hit:
            reason = f"  cached: the outputs of execution {record.cache_hit.rsplit('/', 1)[-1]}, no container"
        self.line(f"{mark} {record.name:<28} {record.step_type:<14} {record.status:<10}{timing}{reason}")

    def log(self, job: str, text: str) -> None:
        if self._show_logs:
            self.line(f"    [{step_of_job(job)}] {text}")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
        self.line("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
        self.line("  ".join("-" * w for w in widths))
        for row in rows:
            self.line("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
