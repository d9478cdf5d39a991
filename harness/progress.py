"""Live progress on the terminal: step status lines, prefixed container logs,
and the final summary table.

Two modes, chosen once per Progress:

- plain (not a terminal, `TERM=dumb`, `NO_COLOR` or `HARNESS_PLAIN_PROGRESS` set): one line per event, the
  format tests and CI logs read;
- live (a terminal): a table of the steps at the bottom of the output, redrawn in place (cursor up, clear line)
  on every step event and by a ticker thread while a step executes or an image builds; every other line is
  written above it. `close()` (or leaving a `with Progress() as progress:` block) leaves the table's final
  state on screen and goes on in plain mode below it.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from harness.emulator.job_names import step_of_job

if TYPE_CHECKING:
    from harness.emulator.executor import StepRecord

_MARKS = {"Executing": "▶", "Succeeded": "✔", "Failed": "✖"}
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
PLAIN_ENV = "HARNESS_PLAIN_PROGRESS"  # set (non-empty): plain lines even on a terminal
TICK_S = 0.125  # the ticker's interval: 8 frames a second
_UNFINISHED = "•"  # an executing step's or a build's mark when close() freezes it
_UP = "\x1b[{}A"  # cursor up N lines
_CLEAR_LINE = "\x1b[2K"
_CLEAR_BELOW = "\x1b[J"  # clear from the cursor to the end of the screen

TerminalSize = Callable[[], tuple[int, int]]  # (columns, lines)


def live_terminal(stream: TextIO, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether `stream` gets the live table: a terminal, not a dumb one, and neither NO_COLOR nor
    HARNESS_PLAIN_PROGRESS set."""
    if environ.get("TERM") == "dumb" or environ.get("NO_COLOR") or environ.get(PLAIN_ENV):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def terminal_size_of(stream: TextIO) -> TerminalSize:
    """The size of the terminal `stream` writes to, asked afresh on every call (the window can be resized)."""

    def size() -> tuple[int, int]:
        try:
            columns, lines = os.get_terminal_size(stream.fileno())
        except (AttributeError, ValueError, OSError):  # no file descriptor, or not a terminal's
            columns, lines = shutil.get_terminal_size()
        return (columns or 80, lines or 24)  # some pseudo-terminals report 0 x 0

    return size


def step_note(record: StepRecord) -> str:
    """What a step's line says after its timing: the cache hit, the retry, or the failure reason."""
    if record.cache_hit:
        return f"cached: the outputs of execution {record.cache_hit.rsplit('/', 1)[-1]}, no container"
    if record.retried and record.status == "Executing":
        return f"attempt {record.attempts}, after: {record.retried[-1]}"
    return record.failure_reason


def step_line(record: StepRecord) -> str:
    """A step event's plain line."""
    mark = _MARKS.get(record.status, "•")
    timing = "" if record.status == "Executing" else f"  {record.seconds:6.1f}s"
    note = step_note(record)
    reason = f"  {note}" if note else ""
    return f"{mark} {record.name:<28} {record.step_type:<14} {record.status:<10}{timing}{reason}"


@dataclass(frozen=True)
class _Row:
    """A step as its last event left it (copied then: the record changes under the executor's threads)."""

    record: StepRecord  # held so that the id() keying the row is not reused
    status: str
    note: str
    started: float  # time.time() of the step's start
    seconds: float | None  # None while it executes


class Progress:
    def __init__(
        self,
        stream: TextIO | None = None,
        show_logs: bool = True,
        *,
        live: bool | None = None,
        terminal_size: TerminalSize | None = None,
        tick_s: float = TICK_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`live`: the live table or plain lines (None: live_terminal(stream) decides); `terminal_size`: the
        (columns, lines) of the live table's terminal (None: asked of the stream's terminal); `tick_s`: the
        ticker's interval; `clock`: the wall clock (seconds) the live elapsed times are read from."""
        self._stream = sys.stdout if stream is None else stream
        self._show_logs = show_logs
        self._lock = threading.Lock()  # log lines arrive from one thread per container, ticks from the ticker
        self._live = live_terminal(self._stream) if live is None else live
        self._size = terminal_size or terminal_size_of(self._stream)
        self._tick_s = tick_s
        self._clock = clock
        self._rows: dict[int, _Row] = {}  # id(record) -> row, in the order the steps started
        self._builds: dict[str, float] = {}  # image tag -> clock() at its start
        self._drawn = 0  # lines of the live table on screen, the cursor at the start of the line below them
        self._frame = 0  # the spinner's
        self._closed = False
        self._stopped = threading.Event()  # close() wakes the ticker with it
        self._ticker: threading.Thread | None = None

    @property
    def live(self) -> bool:
        """Whether the live table is on (False in plain mode, and after close())."""
        return self._live

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def line(self, text: str) -> None:
        with self._lock:
            self._emit([text])

    def step(self, record: StepRecord) -> None:
        with self._lock:
            if not self._live:
                self._emit([step_line(record)])
                return
            ended = record.status != "Executing"
            self._rows[id(record)] = _Row(
                record, record.status, step_note(record), record.started.timestamp(), record.seconds if ended else None
            )
            self._emit([])
            self._start_ticker()

    def log(self, job: str, text: str) -> None:
        if self._show_logs:
            self.line(f"    [{step_of_job(job)}] {text}")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """The summary table, below the live table (which stays on screen as it stands; later steps start a
        new one)."""
        self.settle()
        widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
        self.line("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
        self.line("  ".join("-" * w for w in widths))
        for row in rows:
            self.line("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())

    def building(self, tag: str) -> None:
        """An image build starts: a live line with a spinner and its elapsed time, or a plain line."""
        with self._lock:
            if not self._live:
                self._emit([f"building {tag}"])
                return
            self._builds[tag] = self._clock()
            self._emit([])
            self._start_ticker()

    def built(self, tag: str, seconds: float | None = None) -> None:
        """An image build ended: its live line becomes a line above the table (or a plain line)."""
        with self._lock:
            started = self._builds.pop(tag, None)
            if seconds is None:
                seconds = 0.0 if started is None else self._clock() - started
            self._emit([f"✔ built {tag} in {seconds:.1f}s" if self._live else f"built {tag} in {seconds:.1f}s"])

    def build_failed(self, tag: str, seconds: float | None = None) -> None:
        with self._lock:
            started = self._builds.pop(tag, None)
            if seconds is None:
                seconds = 0.0 if started is None else self._clock() - started
            text = f"build of {tag} failed after {seconds:.1f}s"
            self._emit([f"✖ {text}" if self._live else text])

    def target(self, tag: str, event: str, seconds: float | None) -> None:
        """build_images' on_target: (tag, "building", None), (tag, "built", seconds), (tag, "failed", seconds)."""
        if event == "building":
            self.building(tag)
        elif event == "built":
            self.built(tag, seconds)
        elif event == "failed":
            self.build_failed(tag, seconds)
        else:
            raise ValueError(f"unknown image build event {event!r} for {tag}")

    def settle(self) -> None:
        """Leave the live table on screen as it stands, all its rows, and start afresh below it: later steps get a
        table of their own. Builds still running stay live."""
        with self._lock:
            if self._live and self._rows:
                self._settle()

    def close(self) -> None:
        """Stop the live table: its final state stays on screen, the cursor below it; the ticker ends and writes
        nothing more. Later calls print plain lines. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._live:
                self._settle(closing=True)
                self._live = False
            self._stopped.set()
            ticker = self._ticker
        if ticker is not None and ticker is not threading.current_thread():
            ticker.join(timeout=1.0)

    # Everything below runs with the lock held.

    def _settle(self, closing: bool = False) -> None:
        """The steps' rows become lines that stay (a step still executing marked •); closing, the builds too."""
        now = self._clock()
        lines = [self._row_line(row, now, final=True) for row in self._rows.values()]
        self._rows.clear()
        if closing:
            lines += [self._build_line(tag, started, now, final=True) for tag, started in self._builds.items()]
            self._builds.clear()
        width = self._size()[0] - 1
        self._emit([_fit(text, width) for text in lines])

    def _emit(self, above: Sequence[str]) -> None:
        """Write `above` (lines that stay), then the live table in its current state, in place of the one on
        screen; in plain mode `above` only."""
        if not self._live:
            self._write("".join(text + "\n" for text in above))
            return
        table = self._render()
        if not self._drawn and not table:  # nothing to redraw: the lines as they are
            self._write("".join(text + "\n" for text in above))
            return
        parts = [_UP.format(self._drawn) + "\r"] if self._drawn else []
        parts += [_CLEAR_LINE + text + "\n" for text in (*above, *table)]
        parts.append(_CLEAR_BELOW)  # what is left of a longer table before
        self._drawn = len(table)
        self._write("".join(parts))

    def _write(self, text: str) -> None:
        if text:
            self._stream.write(text)
            self._stream.flush()

    def _render(self) -> list[str]:
        """The live table's lines: the steps, then the builds; no wider than the terminal and never taller
        (the last lines, under "… N more")."""
        columns, height = self._size()
        now = self._clock()
        lines = [self._row_line(row, now) for row in self._rows.values()]
        lines += [self._build_line(tag, started, now) for tag, started in self._builds.items()]
        room = max(height - 1, 1)  # the cursor's line below the table: cursor-up does not go above the screen
        if len(lines) > room:
            hidden = len(lines) - (room - 1)
            lines = [f"… {hidden} more", *lines[hidden:]] if room > 1 else [f"… {len(lines)} more"]
        return [_fit(text, columns - 1) for text in lines]

    def _spinner(self, final: bool) -> str:
        return _UNFINISHED if final else SPINNER[self._frame % len(SPINNER)]

    def _row_line(self, row: _Row, now: float, final: bool = False) -> str:
        executing = row.seconds is None
        mark = self._spinner(final) if executing else _MARKS.get(row.status, "•")
        seconds = max(now - row.started, 0.0) if row.seconds is None else row.seconds
        note = f"  {row.note}" if row.note else ""
        # an ended step's row is its plain line; an executing one's has its elapsed time too
        return f"{mark} {row.record.name:<28} {row.record.step_type:<14} {row.status:<10}  {seconds:6.1f}s{note}"

    def _build_line(self, tag: str, started: float, now: float, final: bool = False) -> str:
        return f"{self._spinner(final)} building {tag}  {max(now - started, 0.0):.1f}s"

    def _animated(self) -> bool:
        return bool(self._builds) or any(row.seconds is None for row in self._rows.values())

    def _start_ticker(self) -> None:
        if self._ticker is None and not self._closed and self._animated():
            self._ticker = threading.Thread(target=self._tick, name="progress-ticker", daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        """The ticker: advances the spinners and the elapsed times until nothing executes, or close()."""
        while True:
            stopped = self._stopped.wait(self._tick_s)
            with self._lock:  # the decision to end and its record in one hold: an event meanwhile starts a new one
                if stopped or not self._live or not self._animated():
                    self._ticker = None
                    return
                self._frame += 1
                try:
                    self._emit([])
                except (OSError, ValueError):  # the stream went away (a closed pipe, a closed file)
                    self._ticker = None
                    return


def _fit(text: str, width: int) -> str:
    """`text` cut to `width` characters (ending with …): a wrapped line would break the cursor-up count."""
    width = max(width, 1)
    return text if len(text) <= width else text[: width - 1] + "…"
