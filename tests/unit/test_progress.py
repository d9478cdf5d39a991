"""Progress: the plain lines (byte for byte as before the live table) and the live table on a terminal, read
back through a small terminal model of the few sequences it writes."""

from __future__ import annotations

import io
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import harness.project.images as images_module
from harness.emulator.executor import StepRecord
from harness.engine.docker import ImageInfo
from harness.progress import PLAIN_ENV, SPINNER, Progress, live_terminal, step_line
from harness.project.config import Settings
from harness.project.images import ImageKind, build_images

T0 = datetime(2024, 1, 1, tzinfo=UTC)
CACHE_ARN = "arn:aws:sagemaker:us-east-1:000000000000:pipeline/p/execution/abc123def456"


class FakeTty(io.StringIO):
    """A terminal's stream: what is written stays readable."""

    def isatty(self) -> bool:
        return True


class ClosedTty(FakeTty):
    def isatty(self) -> bool:
        raise ValueError("I/O operation on closed file")


class Clock:
    """A wall clock the test sets; starts at T0."""

    def __init__(self) -> None:
        self.now = T0.timestamp()

    def __call__(self) -> float:
        return self.now


_TOKEN = re.compile(r"\x1b\[(\d*)([AJK])|(\r)|(\n)|([^\x1b\r\n]+)")


def screen(written: str) -> list[str]:
    """The lines a terminal shows after `written` (cursor up, clear line, clear below, CR, LF; no scrolling
    limit): the last one is the cursor's."""
    lines, row, col = [""], 0, 0
    position = 0
    while position < len(written):
        match = _TOKEN.match(written, position)
        assert match, f"an unexpected sequence at {written[position : position + 10]!r}"
        position = match.end()
        number, code, cr, lf, text = match.groups()
        if code == "A":
            row, col = max(row - int(number or "1"), 0), col
        elif code == "K":
            assert number == "2"
            lines[row] = ""
        elif code == "J":
            lines[row] = lines[row][:col]
            del lines[row + 1 :]
        elif cr:
            col = 0
        elif lf:  # a terminal's output processing: CR LF
            row, col = row + 1, 0
            if row == len(lines):
                lines.append("")
        else:
            current = lines[row].ljust(col)
            lines[row] = current[:col] + text + current[col + len(text) :]
            col += len(text)
    return lines


def wait_until(condition: Callable[[], bool], timeout_s: float = 2.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.005)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def live(clock: Clock) -> Iterator[Callable[..., tuple[Progress, FakeTty]]]:
    """A live Progress on a fake terminal (80 x 24 unless told), closed after the test."""
    made: list[Progress] = []

    def make(columns: int = 80, lines: int = 24, tick_s: float = 60.0, **options: Any) -> tuple[Progress, FakeTty]:
        stream = FakeTty()
        progress = Progress(stream, terminal_size=lambda: (columns, lines), tick_s=tick_s, clock=clock, **options)
        made.append(progress)
        return progress, stream

    yield make
    for progress in made:
        progress.close()


def record(name: str, step_type: str = "Processing", started: datetime = T0) -> StepRecord:
    return StepRecord(name, step_type, started=started)


def end(step: StepRecord, status: str, seconds: float, reason: str = "") -> StepRecord:
    step.status, step.ended, step.failure_reason = status, step.started + timedelta(seconds=seconds), reason
    return step


def ticker_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "progress-ticker"]


# The plain mode: what the code printed before the live table, written out literally.

PLAIN = (
    "▶ Preprocess                   Processing     Executing \n"
    "    [Preprocess] reading s3://bucket/raw\n"
    "✔ Preprocess                   Processing     Succeeded     12.3s\n"
    "✔ Train                        Training       Succeeded      0.2s  cached: the outputs of execution "
    "abc123def456, no container\n"
    "▶ Evaluate                     Processing     Executing \n"
    "▶ Evaluate                     Processing     Executing   attempt 2, after: ClientError: ThrottlingException\n"
    "✖ Evaluate                     Processing     Failed         3.0s  AlgorithmError: exit 1\n"
    "• Register                     RegisterModel  Stopped        1.5s\n"
    "harness: done\n"
    "step        type        status\n"
    "----------  ----------  ------------------\n"
    "Preprocess  Processing  Succeeded\n"
    "Train       Training    Succeeded (cached)\n"
)


def plain_events(progress: Progress, out: io.StringIO) -> None:
    prep = record("Preprocess")
    progress.step(prep)
    progress.log("pipelines-a1b2c3d4e5f6-Preprocess", "reading s3://bucket/raw")
    progress.step(end(prep, "Succeeded", 12.34))
    train = record("Train", "Training")
    train.cache_hit = CACHE_ARN
    progress.step(end(train, "Succeeded", 0.2))
    evaluate = record("Evaluate")
    progress.step(evaluate)
    evaluate.retried.append("ClientError: ThrottlingException")
    evaluate.attempts = 2
    progress.step(evaluate)
    progress.step(end(evaluate, "Failed", 3.0, "AlgorithmError: exit 1"))
    progress.step(end(record("Register", "RegisterModel"), "Stopped", 1.5))
    progress.line("harness: done")
    progress.table(
        ("step", "type", "status"),
        [("Preprocess", "Processing", "Succeeded"), ("Train", "Training", "Succeeded (cached)")],
    )
    Progress(out, show_logs=False, live=False).log("pipelines-a1b2c3d4e5f6-Train", "hidden")


def test_plain_mode_writes_exactly_the_lines_it_always_did() -> None:
    out = io.StringIO()  # not a terminal: plain
    progress = Progress(stream=out)
    assert not progress.live
    plain_events(progress, out)
    progress.close()
    assert out.getvalue() == PLAIN


def test_plain_mode_on_a_terminal_when_asked(clock: Clock) -> None:
    out = FakeTty()
    progress = Progress(out, live=False, tick_s=0.01, clock=clock)
    plain_events(progress, out)
    progress.building("harness-training:local")
    progress.built("harness-training:local", 14.24)
    progress.target("harness-inference:local", "building", None)
    progress.target("harness-inference:local", "failed", 2.0)
    time.sleep(0.05)  # no ticker in plain mode
    progress.close()
    assert out.getvalue() == PLAIN + (
        "building harness-training:local\n"
        "built harness-training:local in 14.2s\n"
        "building harness-inference:local\n"
        "build of harness-inference:local failed after 2.0s\n"
    )
    assert not ticker_threads()


def test_the_live_table_is_for_terminals_only(monkeypatch: pytest.MonkeyPatch) -> None:
    assert live_terminal(FakeTty(), {"TERM": "xterm-256color"})
    assert live_terminal(FakeTty(), {})
    assert not live_terminal(io.StringIO(), {"TERM": "xterm"})
    assert not live_terminal(FakeTty(), {"TERM": "dumb"})
    assert not live_terminal(FakeTty(), {"NO_COLOR": "1"})
    assert not live_terminal(FakeTty(), {PLAIN_ENV: "1"})
    assert live_terminal(FakeTty(), {"NO_COLOR": ""})  # the NO_COLOR convention: set and not empty
    assert not live_terminal(ClosedTty(), {})
    for name in ("TERM", "NO_COLOR", PLAIN_ENV):
        monkeypatch.delenv(name, raising=False)
    assert Progress(FakeTty()).live and not Progress(io.StringIO()).live
    monkeypatch.setenv(PLAIN_ENV, "1")
    assert not Progress(FakeTty()).live


def test_the_step_table_is_redrawn_in_place(live: Callable[..., tuple[Progress, FakeTty]], clock: Clock) -> None:
    progress, out = live()
    prep, train = record("Preprocess"), record("Train", "Training")
    progress.step(prep)
    assert out.getvalue() == "\x1b[2K⠋ Preprocess                   Processing     Executing      0.0s\n\x1b[J"
    clock.now += 2.5
    progress.step(train)
    progress.step(end(prep, "Succeeded", 12.34))
    written = out.getvalue()
    assert written.count("\x1b[1A\r") == 1 and written.count("\x1b[2A\r") == 1  # up over the table, each time
    assert screen(written) == [
        "✔ Preprocess                   Processing     Succeeded     12.3s",
        "⠋ Train                        Training       Executing      2.5s",
        "",
    ]
    train.cache_hit = CACHE_ARN
    progress.step(end(train, "Succeeded", 0.2))
    assert screen(out.getvalue())[1] == step_line(train)[:78] + "…"  # the note cut to the width less a column
    assert step_line(train).endswith("cached: the outputs of execution abc123def456, no container")


def test_lines_and_logs_appear_above_the_table(live: Callable[..., tuple[Progress, FakeTty]]) -> None:
    progress, out = live()
    progress.line("harness: building nothing")
    assert out.getvalue() == "harness: building nothing\n"  # no table yet: the line as it is
    progress.step(record("Preprocess"))
    progress.step(record("Train", "Training"))
    progress.log("pipelines-a1b2c3d4e5f6-Preprocess", "reading s3://bucket/raw")
    progress.line("harness: a notice")
    progress.log("pipelines-a1b2c3d4e5f6-Train", "epoch 1")
    assert screen(out.getvalue()) == [
        "harness: building nothing",
        "    [Preprocess] reading s3://bucket/raw",
        "harness: a notice",
        "    [Train] epoch 1",
        "⠋ Preprocess                   Processing     Executing      0.0s",
        "⠋ Train                        Training       Executing      0.0s",
        "",
    ]


def test_log_lines_from_many_threads_stay_whole_above_the_table(
    live: Callable[..., tuple[Progress, FakeTty]],
) -> None:
    progress, out = live(tick_s=0.001)  # the ticker redraws all along
    steps = [record(f"Step{n}") for n in range(4)]
    for step in steps:
        progress.step(step)

    def container(n: int) -> None:
        for i in range(50):
            progress.log(f"pipelines-a1b2c3d4e5f6-Step{n}", f"line {i}")

    threads = [threading.Thread(target=container, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shown = screen(out.getvalue())
    assert sorted(shown[:200]) == sorted(f"    [Step{n}] line {i}" for n in range(4) for i in range(50))
    assert [line[2:12].strip() for line in shown[200:-1]] == ["Step0", "Step1", "Step2", "Step3"]
    assert shown[-1] == ""


def test_the_ticker_advances_the_spinner_and_the_elapsed_time(
    live: Callable[..., tuple[Progress, FakeTty]], clock: Clock
) -> None:
    progress, out = live(tick_s=0.01)
    step = record("Train", "Training")
    progress.step(step)
    [ticker] = ticker_threads()
    assert ticker.daemon  # never keeps the process alive
    wait_until(lambda: len(set(spinner_frames(out, "Train"))) >= 3)
    frames = spinner_frames(out, "Train")
    assert set(frames) <= set(SPINNER)
    assert frames[:3] == list(SPINNER[:3])  # in order, one a tick
    clock.now += 7.0
    wait_until(lambda: screen(out.getvalue())[0].endswith("Executing      7.0s"))
    progress.step(end(step, "Succeeded", 7.04))
    wait_until(lambda: not ticker_threads())  # nothing executes: the ticker ends
    settled = out.getvalue()
    time.sleep(0.05)
    assert out.getvalue() == settled
    assert screen(settled) == ["✔ Train                        Training       Succeeded      7.0s", ""]
    progress.step(record("Register", "RegisterModel"))  # a step starts: a ticker again
    assert len(ticker_threads()) == 1


def spinner_frames(out: FakeTty, name: str) -> list[str]:
    """The mark of each row `name` was drawn with, frame after frame."""
    return re.findall(rf"\x1b\[2K(.) {name} ", out.getvalue())


def test_the_table_never_exceeds_the_terminal(live: Callable[..., tuple[Progress, FakeTty]]) -> None:
    progress, out = live(columns=60, lines=6)
    for n in range(8):
        progress.step(end(record(f"Step{n}"), "Succeeded", n))
    progress.building("harness-training:local")
    shown = screen(out.getvalue())
    assert len(shown) - 1 == 5  # the table's lines: the terminal's height less the cursor's line
    assert shown[0] == "… 5 more"
    assert [line[2:7] for line in shown[1:4]] == ["Step5", "Step6", "Step7"]
    assert shown[4] == "⠋ building harness-training:local  0.0s"
    assert all(len(line) <= 59 for line in shown)
    assert "\x1b[6A" not in out.getvalue()  # cursor-up never further than the screen
    progress.close()  # the final table: every row, below in the scrollback
    assert [line[2:7] for line in screen(out.getvalue())[:8]] == [f"Step{n}" for n in range(8)]


def test_long_failure_reasons_are_cut_to_the_width(live: Callable[..., tuple[Progress, FakeTty]]) -> None:
    progress, out = live(columns=100)
    failed = end(record("Evaluate"), "Failed", 3.0, "AlgorithmError: " + "x" * 200)
    progress.step(failed)
    [row, cursor] = screen(out.getvalue())
    assert row == step_line(failed)[:98] + "…" and cursor == ""  # a column spare: no wrap at the last one
    assert row.startswith("✖ Evaluate                     Processing     Failed         3.0s  AlgorithmError: xxx")


def test_close_leaves_the_table_and_stops_the_ticker(
    live: Callable[..., tuple[Progress, FakeTty]], clock: Clock
) -> None:
    progress, out = live(tick_s=0.005)
    progress.step(end(record("Preprocess"), "Succeeded", 1.0))
    progress.step(record("Train", "Training"))
    progress.building("harness-inference:local")
    wait_until(lambda: out.getvalue().count("\x1b[J") > 3)  # ticking
    clock.now += 4.0
    progress.close()
    assert not ticker_threads()
    closed = out.getvalue()
    assert screen(closed) == [
        "✔ Preprocess                   Processing     Succeeded      1.0s",
        "• Train                        Training       Executing      4.0s",  # frozen, not spinning
        "• building harness-inference:local  4.0s",
        "",
    ]
    time.sleep(0.05)
    progress.close()  # idempotent: nothing more
    assert out.getvalue() == closed and not progress.live
    progress.line("run r: Failed")  # after close: plain lines, below the table
    progress.step(end(record("Register", "RegisterModel"), "Stopped", 1.5))
    assert (
        out.getvalue() == closed + "run r: Failed\n• Register                     RegisterModel  Stopped        1.5s\n"
    )
    assert not ticker_threads()


def test_progress_is_a_context_manager(clock: Clock) -> None:
    out = FakeTty()
    with Progress(out, terminal_size=lambda: (80, 24), tick_s=0.005, clock=clock) as progress:
        progress.step(record("Train", "Training"))
        assert ticker_threads() and out.getvalue().startswith("\x1b[2K⠋ Train")  # live
    assert not progress.live and not ticker_threads()
    assert screen(out.getvalue()) == ["• Train                        Training       Executing      0.0s", ""]


def test_the_summary_table_prints_below_the_step_table(live: Callable[..., tuple[Progress, FakeTty]]) -> None:
    progress, out = live()
    progress.step(end(record("Preprocess"), "Succeeded", 1.0))
    progress.table(("step", "status"), [("Preprocess", "Succeeded")])
    progress.line("run r: Succeeded")
    progress.step(record("Again"))  # a later step: a table of its own, below
    assert screen(out.getvalue()) == [
        "✔ Preprocess                   Processing     Succeeded      1.0s",
        "step        status",
        "----------  ---------",
        "Preprocess  Succeeded",
        "run r: Succeeded",
        "⠋ Again                        Processing     Executing      0.0s",
        "",
    ]


def test_image_builds_show_a_live_line(live: Callable[..., tuple[Progress, FakeTty]], clock: Clock) -> None:
    progress, out = live(tick_s=0.005)
    progress.target("harness-training:local", "building", None)
    assert screen(out.getvalue()) == ["⠋ building harness-training:local  0.0s", ""]
    clock.now += 12.3
    wait_until(lambda: screen(out.getvalue())[0].endswith("local  12.3s"))
    assert screen(out.getvalue())[0][0] in SPINNER
    progress.line("[training] Step 3/9 : RUN pip install")
    progress.target("harness-training:local", "built", 14.24)
    assert screen(out.getvalue()) == [
        "[training] Step 3/9 : RUN pip install",
        "✔ built harness-training:local in 14.2s",
        "",
    ]
    wait_until(lambda: not ticker_threads())
    progress.building("harness-inference:local")
    clock.now += 1.0
    progress.build_failed("harness-inference:local")  # no seconds: the time since building()
    assert screen(out.getvalue())[-2:] == ["✖ build of harness-inference:local failed after 1.0s", ""]
    with pytest.raises(ValueError, match="unknown image build event"):
        progress.target("harness-training:local", "pushed", None)


# build_images' on_target, on a fake engine.


class FakeEngine:
    def __init__(self, fail: str = "") -> None:
        self.fail = fail
        self.built: list[str] = []

    def architecture(self) -> str:
        return "x86_64"

    def build(self, context: Path, tag: str, target: str, build_args: Any, labels: Any, on_line: Any) -> ImageInfo:
        on_line("Step 1/2 : FROM base")
        if target == self.fail:
            raise RuntimeError("the build failed")
        self.built.append(tag)
        return ImageInfo(f"sha256:{target}", (tag,), 1, dict(labels), "amd64")


@pytest.fixture
def project(project_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for folder in ("containers", "jobs"):
        shutil.copytree(project_root / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "wheels").mkdir()
    monkeypatch.setattr(images_module, "resolve_base_image", lambda *args: "python:3.11-slim")
    monkeypatch.setattr(images_module, "ensure_wheelhouse", lambda *args: tmp_path / "wheels")
    return Settings.from_env({"HARNESS_PROJECT_ROOT": str(tmp_path)})


def test_build_images_reports_each_target(project: Settings) -> None:
    events: list[tuple[str, str, float | None]] = []
    lines: list[str] = []
    engine: Any = FakeEngine()
    kinds = [ImageKind.TRAINING, ImageKind.INFERENCE]
    built = build_images(project, engine, kinds, lines.append, on_target=lambda *event: events.append(event))
    training, inference = (project.image_name(kind.value) for kind in kinds)
    assert [(tag, event) for tag, event, _ in events] == [
        (training, "building"), (training, "built"), (inference, "building"), (inference, "built"),
    ]  # fmt: skip
    assert events[0][2] is None and events[2][2] is None
    assert [events[1][2], events[3][2]] == [image.seconds for image in built]
    assert lines == [
        "base image: python:3.11-slim",
        "[training] Step 1/2 : FROM base",
        "[inference] Step 1/2 : FROM base",
    ]
    assert build_images(project, engine, kinds, lines.append)  # on_target stays optional


def test_build_images_reports_a_failed_target(project: Settings) -> None:
    events: list[tuple[str, str, float | None]] = []
    engine: Any = FakeEngine(fail="inference")
    kinds = [ImageKind.TRAINING, ImageKind.INFERENCE, ImageKind.PROCESSING]
    with pytest.raises(RuntimeError, match="the build failed"):
        build_images(project, engine, kinds, lambda line: None, on_target=lambda *event: events.append(event))
    inference = project.image_name("inference")
    assert [event for _, event, _ in events] == ["building", "built", "building", "failed"]
    assert events[-1][0] == inference and isinstance(events[-1][2], float)


def test_progress_takes_build_images_events(project: Settings) -> None:
    out = io.StringIO()
    engine: Any = FakeEngine()
    build_images(project, engine, [ImageKind.TRAINING], lambda line: None, Progress(out).target)
    tag = project.image_name("training")
    assert re.fullmatch(rf"building {re.escape(tag)}\nbuilt {re.escape(tag)} in \d+\.\ds\n", out.getvalue())
