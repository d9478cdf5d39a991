"""The commands of the zero-change door: `run -- COMMAND`, `up`, `down`, `status`, `env`, `endpoint`.

They work from any folder: the project is the nearest pyproject.toml (its
`[tool.harness]` table, if any), the state folder `.harness` beside it (or
HARNESS_STATE_DIR), else the current folder.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from harness.errors import UserError


def state_dir_for(cwd: Path, explicit: str | None = None) -> Path:
    from harness.projectconfig import find_pyproject

    if explicit or os.environ.get("HARNESS_STATE_DIR"):
        return Path(explicit or os.environ["HARNESS_STATE_DIR"]).resolve()
    pyproject = find_pyproject(cwd.resolve())
    return (pyproject.parent if pyproject else cwd.resolve()) / ".harness"


def _seed(text: str) -> tuple[str, str]:
    path, sep, uri = text.partition("=")
    if not sep or not uri.startswith("s3://"):
        raise argparse.ArgumentTypeError(f"expected PATH=s3://bucket/key, got {text!r}")
    return path, uri


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def cmd_run(args: argparse.Namespace, _: Any) -> int:
    from harness.engine.docker import Engine
    from harness.progress import Progress
    from harness.projectconfig import data_seed, load_project
    from harness.run_command import RunRequest, run_command

    command = [part for part in args.command if part != "--"] if args.command[:1] == ["--"] else args.command
    cwd = Path.cwd()
    project = load_project(cwd)
    seeds = tuple(data_seed(cwd, path, uri, "--data") for path, uri in args.data)
    request = RunRequest(
        command=command, cwd=cwd, state_dir=state_dir_for(cwd), project=project, data=seeds, port=args.port,
        asynchronous=args.asynchronous, build=not args.no_build, max_parallel=args.max_parallel,
        use_cache=not args.no_cache, keep_on_failure=args.keep_on_failure,
    )  # fmt: skip
    # Plain lines: the command writes to the same terminal, which would tear a live table apart.
    progress = Progress(stream=sys.stderr, show_logs=not args.quiet, live=False)
    return run_command(request, Engine.connect(), progress)


def cmd_serve(args: argparse.Namespace, _: Any) -> int:
    import signal

    from harness.background import serve
    from harness.engine.docker import Engine
    from harness.progress import Progress
    from harness.projectconfig import load_project

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})  # taken by sigwait, on any thread
    state_dir = Path(args.state_dir)
    return serve(state_dir, load_project(Path.cwd()), args.port, Engine.connect(), Progress(live=False))  # a log file


def cmd_up(args: argparse.Namespace, _: Any) -> int:
    from harness.background import up
    from harness.engine.docker import Engine

    Engine.connect()  # fail here, in the foreground, when Docker does not answer
    state = up(state_dir_for(Path.cwd()), args.port, Path.cwd())
    print(
        f"local AWS endpoint {state['url']} is up (pid {state['pid']}); containers reach it at {state['container_url']}"
    )
    print(f'point a shell at it: eval "$({Path(sys.argv[0]).name} env)"; stop it: {Path(sys.argv[0]).name} down')
    return 0


def cmd_down(args: argparse.Namespace, _: Any) -> int:
    from harness.background import down

    stopped = down(state_dir_for(Path.cwd()))
    print("local AWS endpoint stopped" if stopped else "no local AWS endpoint was running")
    return 0


def cmd_status(args: argparse.Namespace, _: Any) -> int:
    from harness.background import files_for

    state = files_for(state_dir_for(Path.cwd())).read()
    if state is None:
        print("local AWS endpoint: not running")
        return 1
    print(f"local AWS endpoint: running at {state['url']} (pid {state['pid']}; containers: {state['container_url']})")
    return 0


def cmd_env(args: argparse.Namespace, _: Any) -> int:
    from harness.background import export_lines

    print("\n".join(export_lines(state_dir_for(Path.cwd()))))
    return 0


def cmd_callback(args: argparse.Namespace, _: Any) -> int:
    """Complete a waiting CallbackStep through the endpoint's SendPipelineExecutionStep{Success,Failure}."""
    from botocore.exceptions import ClientError, EndpointConnectionError

    from harness.emulator.storage import boto_session

    url = running_endpoint(args.endpoint, "send the callback to")
    client = boto_session().client("sagemaker", endpoint_url=url)  # nothing of the host's AWS set-up
    try:
        if args.outcome == "success":
            outputs = [{"Name": name, "Value": value} for name, value in args.output]
            answer = client.send_pipeline_execution_step_success(CallbackToken=args.token, OutputParameters=outputs)
        else:
            answer = client.send_pipeline_execution_step_failure(CallbackToken=args.token, FailureReason=args.reason)
    except ClientError as error:
        raise UserError(error.response["Error"]["Message"], fix="copy the token from the step's line") from None
    except EndpointConnectionError:
        raise UserError(f"nothing answers at {url}", fix="is the run or `up` server still running?") from None
    print(f"callback {args.outcome} sent for {answer['PipelineExecutionArn']}")
    return 0


def running_endpoint(explicit: str, purpose: str) -> str:
    """The URL of the local AWS endpoint a command talks to: given, else AWS_ENDPOINT_URL, else `up`'s."""
    import os

    from harness.background import files_for

    state = files_for(state_dir_for(Path.cwd())).read()
    url = explicit or os.environ.get("AWS_ENDPOINT_URL") or (state or {}).get("url")
    if not url:
        raise UserError(
            f"no local AWS endpoint to {purpose}",
            fix="pass --endpoint URL (the `harness: local AWS endpoint ...` line of `run`), run it where "
            "AWS_ENDPOINT_URL is set, or start one with `sagemaker-harness up`",
        )
    return str(url)


def key_value(text: str) -> tuple[str, str]:
    """An argparse type: KEY=VALUE (a pipeline parameter, a callback's output)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def cmd_endpoint(args: argparse.Namespace, _: Any) -> int:
    if not args.operations:
        raise UserError("nothing to show", fix="pass --operations")
    from harness.emulator.catalogue import implemented_operations

    for service, operations in implemented_operations().items():
        print(f"{service} ({len(operations)}):" if operations else service)
        for operation in operations:
            print(f"  {operation}")
    return 0


def add_commands(commands: Any) -> None:
    run = commands.add_parser("run", help="run any command against the local AWS endpoint (cloud code unchanged)")
    run.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    run.add_argument("--data", type=_seed, action="append", default=[], metavar="PATH=s3://bucket/key",
                     help="copy a file or folder into the local S3 first (beside [tool.harness] data)")  # fmt: skip
    run.add_argument("--port", type=int, default=0, help="the endpoint's port (default: a free one)")
    run.add_argument("--async", dest="asynchronous", action="store_true",
                     help="Create*/Start* calls return at once, as in AWS (default: once the work ended)")  # fmt: skip
    run.add_argument("--no-build", action="store_true", help="build configured images only when absent")
    run.add_argument("--max-parallel", type=_at_least_one, default=None, metavar="N",
                     help="pipeline steps at once at most (default: [tool.harness] max-parallel, else 2 a core "
                          "and 1 a GiB of memory; a pipeline's ParallelismConfiguration may lower it)")  # fmt: skip
    run.add_argument("--no-cache", action="store_true",
                     help="every pipeline step runs, even one whose CacheConfig reuses an earlier run")  # fmt: skip
    run.add_argument("--quiet", action="store_true", help="do not stream container logs")
    run.add_argument("--keep-on-failure", action="store_true",
                     help="keep a failed job's container and work folder for `harness debug RUN STEP`")  # fmt: skip
    run.set_defaults(handler=cmd_run, anywhere=True)

    callback = commands.add_parser("callback", help="complete a pipeline's waiting CallbackStep")
    callback.add_argument("outcome", choices=("success", "failure"))
    callback.add_argument("token", help="the step's callback token (its line in the run, or its SQS message)")
    callback.add_argument("--output", type=key_value, action="append", default=[], metavar="NAME=VALUE",
                          help="an output parameter of the step (success; repeatable)")  # fmt: skip
    callback.add_argument("--reason", default="", help="the failure reason (failure)")
    callback.add_argument("--endpoint", default="", help="the endpoint's URL (default: AWS_ENDPOINT_URL, or `up`'s)")
    callback.set_defaults(handler=cmd_callback, anywhere=True)

    up = commands.add_parser("up", help="start the local AWS endpoint in the background")
    up.add_argument("--port", type=int, default=0, help="the endpoint's port (default: a free one)")
    up.set_defaults(handler=cmd_up, anywhere=True)
    commands.add_parser("down", help="stop the background endpoint").set_defaults(handler=cmd_down, anywhere=True)
    commands.add_parser("status", help="is the background endpoint running").set_defaults(
        handler=cmd_status, anywhere=True
    )
    commands.add_parser("env", help="print export lines for the background endpoint").set_defaults(
        handler=cmd_env, anywhere=True
    )
    endpoint = commands.add_parser("endpoint", help="what the local AWS endpoint implements")
    endpoint.add_argument("--operations", action="store_true", help="list the implemented operations")
    endpoint.set_defaults(handler=cmd_endpoint, anywhere=True)

    serve = commands.add_parser("serve", help=argparse.SUPPRESS)  # the body of `up`
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--state-dir", required=True)
    serve.set_defaults(handler=cmd_serve, anywhere=True)
