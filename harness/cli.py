"""The `sagemaker-harness` command line (alias `harness`): parse, call a use case, translate errors.

Errors become one readable message and an exit code here, nowhere else;
an exception the harness did not raise on purpose is reported as a bug.
"""

from __future__ import annotations

import argparse
import atexit
import json
import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from harness import __version__
from harness.cli_endpoint import add_commands, key_value
from harness.cli_history import add_history_commands
from harness.cli_monitor import add_commands as add_monitor_commands
from harness.crash import report_bug
from harness.engine.docker import Engine
from harness.engine.provision import ensure_docker, ensure_test_browser, ensure_test_registry
from harness.engine.sandbox import is_sanitized, sanitized
from harness.errors import HarnessError, UserError
from harness.project.config import Settings
from harness.project.doctor import Status, diagnose
from harness.project.images import ImageKind, build_images

PROGRAM = "sagemaker-harness"
ALIASES = (PROGRAM, "harness")  # `harness` alone collides with Harness's CI/CD CLI
PROG_ENV = "HARNESS_PROG"  # carries the invoked name into run-local's re-executed process


def program_name(argv0: str, environ: Mapping[str, str]) -> str:
    """The name the command was invoked as (for usage and --version), else the distinctive one."""
    name = environ.get(PROG_ENV) or Path(argv0).name
    return name if name in ALIASES else PROGRAM


def _printer(verbose: bool, out: Callable[[str], None]) -> Callable[[str], None]:
    """Live build progress: every line when verbose, else the step headlines."""

    def show(line: str) -> None:
        text = line.split("] ", 1)[-1]
        if verbose or not text.startswith((" --->", "Removing intermediate", "Successfully built")):
            out(line)

    return show


def _build(settings: Settings, engine: Engine, kinds: Sequence[ImageKind], verbose: bool) -> int:
    from harness.progress import Progress

    with Progress() as progress:  # on a terminal, a live line per image target
        built = build_images(settings, engine, kinds, _printer(verbose, progress.line), on_target=progress.target)
    print(f"\n{'image':<28} {'id':<20} {'size':>8} {'time':>7}")
    for image in built:
        print(f"{image.tag:<28} {image.info.id[:19]:<20} {image.info.size_bytes / 1e6:>6.0f}MB {image.seconds:>6.1f}s")
    return 0


def cmd_images_build(args: argparse.Namespace, settings: Settings) -> int:
    kinds = [ImageKind(k) for k in args.kind] if args.kind else list(ImageKind)
    return _build(settings, Engine.connect(), kinds, args.verbose)


def cmd_provision(args: argparse.Namespace, settings: Settings) -> int:
    engine = ensure_docker(lambda line: print(f"provision: {line}", flush=True))
    print("provision: docker daemon answers", flush=True)
    if args.test_registry:
        ensure_test_registry(lambda line: print(f"provision: {line}", flush=True))
    if args.test_browser:
        ensure_test_browser(lambda line: print(f"provision: {line}", flush=True))
    if args.skip_images:
        return 0
    return _build(settings, engine, list(ImageKind), args.verbose)


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    findings = diagnose(settings, fix=args.fix)
    for finding in findings:
        print(f"{finding.status.value:>7}  {finding.name:<18} {finding.detail}")
        if finding.fix:
            print(f"{'':>9}fix: {finding.fix}")
    return 0 if all(f.status is Status.OK for f in findings) else 1


def cmd_run_local(args: argparse.Namespace, settings: Settings) -> int:
    if not is_sanitized(os.environ):
        # Re-run this same command (same PID, same signals) where boto3 cannot reach AWS.
        os.execve(
            sys.executable,
            [sys.executable, "-m", "harness.cli", *args.argv],
            {**sanitized(os.environ), PROG_ENV: args.prog},
        )
    # Imported here: the SageMaker SDK takes seconds to import and only this command needs it.
    from harness.progress import Progress
    from harness.project.run_local import RunOptions, run_local
    from harness.project.summary import print_summary

    options = RunOptions(parameters=dict(args.param), deploy=not args.no_deploy, use_cache=not args.no_cache,
                         keep_on_failure=args.keep_on_failure)  # fmt: skip
    with Progress(show_logs=not args.quiet) as progress:  # on a terminal, a live step table
        record = run_local(settings, Engine.connect(), progress, options)
    print_summary(progress, record)
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from harness.check import rules
    from harness.check.model import CheckOptions, Kind, Status
    from harness.check.report import as_json, as_text, catalogue
    from harness.check.suite import run_checks

    if args.list:
        print(catalogue(rules.ALL))
        return 0
    kind = Kind.PAIR if args.pair else Kind(args.kind or "inference")
    options = CheckOptions(
        model=args.model,
        payload=args.payload,
        content_type=args.content_type,
        startup_window_s=args.startup_window,
        channels={k: Path(v) for k, v in args.channel},
        hyperparameters=dict(args.hyperparameter),
        inputs={k: Path(v) for k, v in args.input},
        outputs=tuple(args.output),
        entrypoint=tuple(json.loads(args.entrypoint)) if args.entrypoint else (),
        arguments=tuple(args.argument),
        libraries=tuple(args.library),
    )
    results = run_checks(Engine.connect(), kind, args.images, options)
    print(as_json(results) if args.format == "json" else as_text(results))
    unverified = Status.SKIPPED if args.strict else Status.FAIL  # --strict: a check that could not run fails too
    return 1 if any(r.status in (Status.FAIL, unverified) for r in results) else 0


def cmd_promote(args: argparse.Namespace, settings: Settings) -> int:
    from harness.promote.promote import PromoteOptions, promote
    from harness.promote.settings import load

    if args.monitor and not args.deploy:
        raise UserError("--monitor attaches Model Monitor to the deployed endpoint", fix="add --deploy")
    overrides = {
        "region": args.region,
        "role_arn": args.role_arn,
        "bucket": args.bucket,
        "pipeline_name": args.pipeline_name,
        "repository_prefix": args.repository_prefix,
        "endpoint_name": args.endpoint_name,
    }
    options = PromoteOptions(
        yes=args.yes,
        start=args.start,
        wait=args.wait,
        wait_timeout_s=args.wait_timeout,
        deploy=args.deploy,
        monitor=args.monitor,
    )
    promote(
        settings,
        load(settings.project_root, overrides, os.environ),
        Engine.connect(),
        options,
        lambda line: print(line, flush=True),
    )
    return 0


def build_parser(prog: str = PROGRAM) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Local-first SageMaker emulator and test harness")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_provision(commands.add_parser("provision", help="make Docker answer and build the images (idempotent)"))
    _add_images(commands.add_parser("images", help="build the project's images"))
    _add_doctor(commands.add_parser("doctor", help="report what is missing, with the fix for each"))
    _add_check(commands.add_parser("check", help="run an image under a SageMaker container contract"))
    _add_promote(
        commands.add_parser("promote", help="push what the latest local run verified to AWS (dry run unless --yes)")
    )
    _add_run_local(
        commands.add_parser("run-local", help="run the pipeline locally, deploy, invoke and delete an endpoint")
    )
    add_commands(commands)
    add_monitor_commands(commands)
    add_history_commands(commands)
    return parser


def _add_provision(provision: argparse.ArgumentParser) -> None:
    provision.add_argument("--skip-images", action="store_true", help="only make sure a Docker daemon answers")
    provision.add_argument(
        "--test-registry", action="store_true", help="also install the registry binary the promotion tests push to"
    )
    provision.add_argument(
        "--test-browser", action="store_true", help="also install the headless Chromium the report's browser tests use"
    )
    provision.add_argument("--verbose", action="store_true", help="show every build line")
    provision.set_defaults(handler=cmd_provision)


def _add_images(images: argparse.ArgumentParser) -> None:
    actions = images.add_subparsers(dest="action", required=True)
    build = actions.add_parser("build", help="build the processing, training and inference images")
    build.add_argument("--kind", action="append", choices=[k.value for k in ImageKind], help="only this image")
    build.add_argument("--verbose", action="store_true", help="show every build line")
    build.set_defaults(handler=cmd_images_build)


def _add_doctor(doctor: argparse.ArgumentParser) -> None:
    doctor.add_argument("--fix", action="store_true", help="move corrupt state files aside")
    doctor.set_defaults(handler=cmd_doctor)


def _add_check(check: argparse.ArgumentParser) -> None:
    check.add_argument("images", nargs="*", metavar="IMAGE", help="the image (two with --pair: training, inference)")
    check.add_argument("--kind", choices=["inference", "training", "processing"], help="the contract to check")
    check.add_argument("--pair", action="store_true", help="check a TRAINING_IMAGE INFERENCE_IMAGE pair")
    check.add_argument("--list", action="store_true", help="list every check with the rule behind it")
    check.add_argument("--model", type=Path, help="inference: model.tar.gz or folder for /opt/ml/model")
    check.add_argument("--payload", type=Path, help="inference: a sample request body")
    check.add_argument("--content-type", default="text/csv", help="the payload's content type (default text/csv)")
    check.add_argument(
        "--startup-window",
        type=float,
        default=240.0,
        metavar="SECONDS",
        help="inference: seconds allowed to become healthy (SageMaker default 240, 60-3600)",
    )
    _add_check_job_options(check)
    check.add_argument("--library", action="append", default=[], help="pair: another library that must match")
    check.add_argument("--format", choices=["text", "json"], default="text")
    check.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when any check was skipped (could not run), not only when one failed",
    )
    check.set_defaults(handler=cmd_check)


def _add_check_job_options(check: argparse.ArgumentParser) -> None:
    """The training and processing jobs' data, hyperparameters, outputs and entry point."""
    check.add_argument(
        "--channel",
        type=key_value,
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="training: data for /opt/ml/input/data/NAME",
    )
    check.add_argument("--hyperparameter", type=key_value, action="append", default=[], metavar="NAME=VALUE")
    check.add_argument(
        "--input",
        type=key_value,
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="processing: data for /opt/ml/processing/input/NAME",
    )
    check.add_argument(
        "--output",
        action="append",
        default=[],
        metavar="NAME",
        help="processing: an output expected in /opt/ml/processing/output/NAME",
    )
    check.add_argument("--entrypoint", help='processing: ContainerEntrypoint as JSON, e.g. \'["python3", "/x.py"]\'')
    check.add_argument("--argument", action="append", default=[], help="processing: a ContainerArgument")


def _add_promote(promote: argparse.ArgumentParser) -> None:
    promote.add_argument("--yes", action="store_true", help="carry out the plan (default: print it, change nothing)")
    promote.add_argument("--start", action="store_true", help="start a pipeline execution after the upsert")
    promote.add_argument("--wait", action="store_true", help="with --start: follow the execution")
    promote.add_argument("--wait-timeout", type=float, default=7200.0, metavar="SECONDS")
    promote.add_argument("--deploy", action="store_true", help="deploy the latest approved model package")
    promote.add_argument(
        "--monitor",
        action="store_true",
        help="with --deploy: data capture on, then a Model Monitor data-quality schedule",
    )
    for option in ("region", "role-arn", "bucket", "pipeline-name", "repository-prefix", "endpoint-name"):
        promote.add_argument(f"--{option}", help="overrides [tool.harness.promote] in pyproject.toml")
    promote.set_defaults(handler=cmd_promote)


def _add_run_local(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--param",
        type=key_value,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a pipeline parameter (default: ModelApprovalStatus=Approved)",
    )
    run.add_argument("--no-deploy", action="store_true", help="stop after the pipeline")
    run.add_argument("--no-cache", action="store_true", help="every step runs (default: unchanged steps are reused)")
    run.add_argument("--quiet", action="store_true", help="do not stream container logs")
    run.add_argument("--keep-on-failure", action="store_true",
                     help="keep a failed step's container and work folder for `harness debug RUN STEP`")  # fmt: skip
    run.set_defaults(handler=cmd_run_local)


def _quiet_sdk_logging() -> None:
    """The SageMaker SDK logs config look-ups and definition rewrites at INFO/WARNING: noise here."""
    # Configured first, so the SDK's import-time logging.basicConfig(level=INFO) is a no-op.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("sagemaker").setLevel(logging.ERROR)
    logging.getLogger("sagemaker.config").setLevel(logging.ERROR)
    # Announced on every step built in a PipelineSession, which is how pipelines are built.
    warnings.filterwarnings("ignore", message="Running within a PipelineSession")


def _interrupt_on_sigterm() -> None:
    """SIGTERM (CI cancelling, `kill`) cleans up like Ctrl-C does."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    prog = program_name(sys.argv[0], os.environ)
    args = build_parser(prog).parse_args(arguments)
    args.argv, args.prog = arguments, prog
    _quiet_sdk_logging()
    _interrupt_on_sigterm()
    settings: Settings | None = None
    try:
        settings = _settings(args)
        return int(args.handler(args, settings))
    except HarnessError as error:
        print(error.render(), file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`... | head`): as other command-line tools, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's flush at exit must not fail
        return 141  # 128 + SIGPIPE, as a shell reports it
    except Exception as error:  # noqa: BLE001 (anything else is a bug: say so, keep the traceback)
        message, code = report_bug(error, settings.state_dir if settings else None, [prog, *arguments])
        print(message, file=sys.stderr)
        return code


def _settings(args: argparse.Namespace) -> Settings | None:
    """This repository's settings; the commands of the zero-change door run anywhere and go without."""
    try:
        return Settings.from_env()
    except UserError:
        if getattr(args, "anywhere", False):
            return None
        raise


def entry() -> NoReturn:
    """The console scripts: main(), then the exit."""
    exit_code = main()
    command = sys.argv[1:2]
    if command == ["run"] or (command == ["run-local"] and is_sanitized(os.environ)):
        _exit_without_teardown(exit_code)
    sys.exit(exit_code)


def _exit_without_teardown(code: int) -> NoReturn:
    """End `run` (and run-local's re-executed process) without the interpreter freeing its objects one by one.

    That teardown takes 0.3-1 s after the last line is printed (moto's and the SDK's modules). Other threads
    and exit handlers still run to their end (logging flushes, finalizers); the command has already closed
    everything it opened (containers, networks, S3, the endpoint, work folders), so nothing else is skipped.
    """
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
