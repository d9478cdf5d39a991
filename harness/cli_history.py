"""The commands that read the run history: `runs`, `runs show RUN`, `runs rm RUN`, `logs RUN STEP [--follow]`,
`report [RUN] [--open]` and `debug RUN STEP [-- COMMAND]`. They work from any folder, on the state folder the
other commands use (HARNESS_STATE_DIR, else `.harness` beside the nearest pyproject.toml)."""

from __future__ import annotations

import argparse
import sys
import time
import webbrowser
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.cli_endpoint import state_dir_for
from harness.errors import UserError
from harness.history import runs as history
from harness.history import store

FOLLOW_POLL_S = 0.2


def _state(args: argparse.Namespace) -> Path:
    return state_dir_for(Path.cwd(), getattr(args, "state_dir", None))


def cmd_runs(args: argparse.Namespace, _: Any) -> int:
    state = _state(args)
    ids = store.run_ids(state)
    if not ids:
        print(f"no runs yet in {store.runs_folder(state)}")
        return 0
    rows = [_row(state, run_id) for run_id in ids[-args.limit :][::-1]]
    headers = ("run", "kind", "pipeline", "status", "started", "duration", "key metric")
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    for row in (headers, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def _row(state: Path, run_id: str) -> tuple[str, ...]:
    try:
        record = store.read(state, run_id)
    except UserError as error:  # CorruptState included: one bad record does not hide the others
        return (run_id, "?", "?", "unreadable", "", "", error.problem[:60])
    pipeline = (record.get("pipeline") or {}).get("name", "")
    seconds = record.get("seconds")
    return (run_id, str(record.get("kind", "run-local")), str(pipeline), store.status_of(record),
            _when(record.get("started")), f"{seconds:.1f}s" if isinstance(seconds, int | float) else "",
            key_metric(record))  # fmt: skip


def _when(text: object) -> str:
    try:
        return datetime.fromisoformat(str(text)).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return ""


def key_metric(record: Mapping[str, Any]) -> str:
    """The first metric of the last step that has any (the evaluation, in most pipelines)."""
    for step in reversed(record.get("steps") or []):
        for values in (step.get("metrics") or {}).values():
            for name, value in values.items():
                return f"{name.rsplit('.value', 1)[0]}={value:.4g}"
    return ""


def cmd_runs_show(args: argparse.Namespace, _: Any) -> int:
    from harness.progress import Progress
    from harness.project.summary import print_summary

    state = _state(args)
    record = store.read(state, store.resolve(state, args.run))
    if store.status_of(record) in (store.EXECUTING, "Abandoned"):
        print(f"run {record['run_id']}: {store.status_of(record)} since {record.get('started')}")
        return 0
    print_summary(
        Progress(live=False), {**record, "seconds": record.get("seconds", 0.0), "path": record.get("path", "")}
    )
    return 0


def cmd_runs_rm(args: argparse.Namespace, _: Any) -> int:
    from harness.engine.docker import Engine

    state = _state(args)
    run_id = store.resolve(state, args.run)
    store.remove(state, run_id, lambda record: history.remove_kept(record, _container_remover(Engine)))
    print(f"removed run {run_id}")
    return 0


def _container_remover(engine_class: Any) -> Any:
    engine = None

    def remove(container_id: str) -> None:
        nonlocal engine
        engine = engine or engine_class.connect()
        engine.remove_container(container_id)

    return remove


def step_of(record: Mapping[str, Any], name: str) -> dict[str, Any]:
    steps = {str(s["name"]): s for s in record.get("steps") or []}
    if name in steps:
        return dict(steps[name])
    raise UserError(f"run {record['run_id']} has no step {name!r}",
                    fix=f"its steps: {', '.join(steps) or 'none (it failed before the pipeline started)'}")  # fmt: skip


def cmd_logs(args: argparse.Namespace, _: Any) -> int:
    state = _state(args)
    run_id = store.resolve(state, args.run)
    record = store.read(state, run_id)
    files = store.files_of(state, run_id)
    path = _log_path(record, files, args.step)
    offset = _print_from(path, 0)
    while args.follow and store.status_of(record := store.read(state, run_id)) == store.EXECUTING:
        time.sleep(FOLLOW_POLL_S)
        if not path.is_file():  # the step had not started when we began: its job's log appears later
            path = _log_path(record, files, args.step)
        offset = _print_from(path, offset)
    if args.follow and not path.is_file():
        path = _log_path(store.read(state, run_id), files, args.step)
    if args.follow:
        _print_from(path, offset)
    return 0


def _log_path(record: Mapping[str, Any], files: store.RunFiles, step_name: str) -> Path:
    """The step's log: the record's entry once the run ended; while it runs, its job's file by name."""
    if store.status_of(record) == store.EXECUTING:
        matches = sorted(files.logs.glob(f"*-{step_name}.log")) if files.logs.is_dir() else []
        return matches[-1] if matches else files.logs / f"pending-{step_name}.log"
    step = step_of(record, step_name)
    relative = (step.get("log") or {}).get("path")
    if not relative:
        why = "it ran no container" if "job" not in step else "its container wrote nothing"
        raise UserError(f"step {step_name} of run {record['run_id']} has no log: {why}",
                        fix="`harness runs show RUN` shows what the step did")  # fmt: skip
    return files.folder / str(relative)


def _print_from(path: Path, offset: int) -> int:
    if not path.is_file():
        return offset
    with path.open("rb") as handle:
        handle.seek(offset)
        data = handle.read()
    sys.stdout.write(data.decode("utf-8", "replace"))
    sys.stdout.flush()
    return offset + len(data)


def cmd_report(args: argparse.Namespace, _: Any) -> int:
    state = _state(args)
    run_id = store.resolve(state, args.run)
    record = store.read(state, run_id)
    path = store.files_of(state, run_id).report
    if not path.is_file():  # an older harness's run, or a report deleted since: drawn again from the record
        path = history.write_report(state, record)
    print(path)
    if args.open and not webbrowser.open(path.as_uri()):
        print(f"no browser to open it here: open {path.as_uri()}", file=sys.stderr)
    return 0


def cmd_debug(args: argparse.Namespace, _: Any) -> int:
    from harness.engine.docker import Engine
    from harness.history.debug import (
        banner,
        docker_run_arguments,
        has_terminal,
        kept_job,
        new_container_name,
        run_debug,
    )

    state = _state(args)
    record = store.read(state, store.resolve(state, args.run))
    step = step_of(record, args.step)
    kept = kept_job(step, str(record["run_id"]))
    command = [part for part in args.command if part != "--"] if args.command[:1] == ["--"] else args.command
    name = new_container_name(str(kept.get("job", args.step)))
    arguments = docker_run_arguments(kept, args.host, command, has_terminal() and not command, name)
    print(banner(kept, args.host, step["kept"]["folder"]), file=sys.stderr, flush=True)
    return run_debug(arguments, name, _container_remover(Engine))


def add_history_commands(commands: Any) -> None:
    runs = commands.add_parser("runs", help="the kept runs, newest first; `runs show RUN`, `runs rm RUN`")
    runs.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    runs.set_defaults(handler=cmd_runs, anywhere=True)
    actions = runs.add_subparsers(dest="action")
    show = actions.add_parser("show", help="a run's summary")
    show.add_argument("run", nargs="?", default="latest", help="a run id or its prefix (default: the newest)")
    show.set_defaults(handler=cmd_runs_show, anywhere=True)
    remove = actions.add_parser("rm", help="remove a run: its record, logs, report and what it kept")
    remove.add_argument("run", help="a run id or its prefix")
    remove.set_defaults(handler=cmd_runs_rm, anywhere=True)

    logs = commands.add_parser("logs", help="a step's container log")
    logs.add_argument("run", help="a run id, its prefix, or `latest`")
    logs.add_argument("step", help="the step's name")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing while the run goes on")
    logs.set_defaults(handler=cmd_logs, anywhere=True)

    report = commands.add_parser("report", help="the path of a run's HTML report (--open: in a browser)")
    report.add_argument("run", nargs="?", default="latest", help="a run id or its prefix (default: the newest)")
    report.add_argument("--open", action="store_true", help="open it in the default browser")
    report.set_defaults(handler=cmd_report, anywhere=True)

    debug = commands.add_parser("debug", help="a shell (or a command) in a failed step's container, re-made")
    debug.add_argument("run", help="a run id, its prefix, or `latest`")
    debug.add_argument("step", help="the failed step's name")
    debug.add_argument("--host", default=None, help="which host of a multi-instance job (default algo-1)")
    debug.add_argument("command", nargs=argparse.REMAINDER, help="a command instead of a shell, after --")
    debug.set_defaults(handler=cmd_debug, anywhere=True)
