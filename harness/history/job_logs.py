"""Every job's container log, one file per job in the run's folder: what `harness logs RUN STEP` prints and
the run report shows. Lines are flushed as they come, so `harness logs --follow` sees a running step."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

from harness.history.store import RunFiles

LogSink = Callable[[str, str], None]  # (job name, line)


class JobLogs:
    def __init__(self, files: RunFiles) -> None:
        self._files = files
        self._open: dict[str, IO[str]] = {}
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()  # lines arrive from one thread per container
        self._closed = False

    def write(self, job: str, line: str) -> None:
        with self._lock:
            if self._closed:
                return
            handle = self._open.get(job)
            if handle is None:
                self._files.logs.mkdir(parents=True, exist_ok=True)
                handle = self._open[job] = self._files.log(job).open("a", encoding="utf-8")
            handle.write(line + "\n")
            handle.flush()
            self._counts[job] = self._counts.get(job, 0) + 1

    def has(self, job: str) -> bool:
        return job in self._counts

    def lines(self, job: str) -> int:
        return self._counts.get(job, 0)

    def relative(self, job: str) -> str:
        """The job's log file, relative to the run's folder (as the record holds it)."""
        return self._files.log(job).relative_to(self._files.folder).as_posix()

    def path(self, job: str) -> Path:
        return self._files.log(job)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for handle in self._open.values():
                handle.close()
            self._open.clear()


def tee(first: LogSink, second: LogSink) -> LogSink:
    def both(job: str, line: str) -> None:
        first(job, line)
        second(job, line)

    return both


def adopt(files: RunFiles, sources: dict[str, Path]) -> JobLogs:
    """A run's logs made of files another JobLogs wrote (moved into the run's folder), by job name."""
    logs = JobLogs(files)
    for job, source in sources.items():
        if not source.is_file():
            continue
        files.logs.mkdir(parents=True, exist_ok=True)
        target = files.log(job)
        shutil.move(str(source), str(target))
        with target.open(encoding="utf-8", errors="replace") as handle:
            logs._counts[job] = sum(1 for _ in handle)
    logs.close()
    return logs
