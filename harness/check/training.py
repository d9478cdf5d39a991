"""Training checks: `docker run IMAGE train` on the user's channels, without network."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.check import rules
from harness.check.model import CheckOptions, Result, Rule, check, failed, hidden, log_lines, skipped
from harness.check.workspace import corrupt, place, written_outside
from harness.emulator.paths import FILE_CHANNEL, TrainingConfig, on_host, write_training_config
from harness.engine.docker import ContainerSpec, Mount, Scope
from harness.errors import HarnessError

MISSING_PROGRAM_CODES = (126, 127)  # the shell's "cannot execute" / "not found"
TIMEOUT_S = 1800


@dataclass(frozen=True)
class TrainingRun:
    exit_code: int | None  # None: the container could not start
    logs: str
    root: Path
    outside_writes: tuple[str, ...]

    @property
    def model_files(self) -> list[str]:
        model = Path(on_host(self.root).model_dir)
        return sorted(p.relative_to(model).as_posix() for p in model.rglob("*") if p.is_file())

    @property
    def failure_text(self) -> str:
        failure = Path(on_host(self.root).failure_file)
        return failure.read_text(errors="replace").strip() if failure.is_file() else ""


def lay_out(root: Path, options: CheckOptions, hyperparameters: dict[str, object]) -> Path:
    """/opt/ml as SageMaker lays it out for a one-host training job."""
    for channel, source in options.channels.items():
        place(source, Path(on_host(root).channel_dir(channel)))
    return write_training_config(root, TrainingConfig(hyperparameters, dict.fromkeys(options.channels, FILE_CHANNEL)))


def run_training(scope: Scope, image: str, root: Path, network: bool) -> TrainingRun:
    spec = ContainerSpec(
        image=image,
        command=("train",),
        mounts=(Mount(root, "/opt/ml"),),
        hostname="algo-1",
        network_disabled=not network,
        environment={"TRAINING_JOB_NAME": "harness-check", "TRAINING_JOB_ARN": "arn:harness-check"},
    )
    try:
        container = scope.start(spec)
    except HarnessError as error:
        return TrainingRun(None, error.problem, root, ())
    try:
        code = container.wait(TIMEOUT_S)
        changed = container.changed_paths()
        return TrainingRun(code, container.logs(), root, written_outside(changed, ("/opt/ml", "/root/.config")))
    finally:
        container.remove()


def check_training(scope: Scope, image: str, options: CheckOptions, work: Path) -> list[Result]:
    main = run_training(scope, image, lay_out(work / "main", options, dict(options.hyperparameters)), network=False)
    return [
        *_main_results(main),
        _differential(
            rules.NO_NETWORK,
            main,
            lambda: run_training(
                scope, image, lay_out(work / "network", options, dict(options.hyperparameters)), network=True
            ),
        ),
        _string_hyperparameters(scope, image, options, work, main),
        *_broken_input(scope, image, options, work, main),
    ]


def _main_results(main: TrainingRun) -> list[Result]:
    """What the run on the user's channels shows: `train` starts, exits 0, writes a model."""
    logs = log_lines(main.logs)
    started = main.exit_code is not None and main.exit_code not in MISSING_PROGRAM_CODES
    completed = main.exit_code == 0
    return [
        check(
            rules.TRAIN_ARGUMENT,
            started,
            "`train` starts the training program",
            "started" if started else f"could not run `train` (exit {main.exit_code})",
            () if started else logs,
        ),
        check(
            rules.TRAIN_COMPLETES, completed, "exit code 0", f"exit code {main.exit_code}", () if completed else logs
        ),
        _writes_model(main)
        if completed
        else hidden(rules.WRITES_MODEL, "the job failed, so SageMaker keeps no model (see training.exit-code)"),
    ]


def _writes_model(main: TrainingRun) -> Result:
    files = main.model_files
    observed = f"{len(files)} file(s): {', '.join(files[:5])}" if files else "nothing in /opt/ml/model"
    outside = tuple(f"written outside /opt/ml: {p}" for p in main.outside_writes[:8])
    return check(rules.WRITES_MODEL, bool(files), "files in /opt/ml/model", observed, outside)


def _differential(rule: Rule, main: TrainingRun, rerun: Callable[[], TrainingRun]) -> Result:
    """Passes when the main run succeeded; otherwise reruns with one condition changed.

    If the rerun succeeds, that condition was the cause: the check fails.
    """
    if main.exit_code == 0:
        return check(rule, True, "succeeds under the rule", "succeeded")
    other = rerun()
    if other.exit_code == 0:
        return failed(
            rule, "succeeds under the rule", "fails under the rule, succeeds without it", log_lines(main.logs, 6)
        )
    return hidden(rule, "the job fails either way; see training.exit-code")


def _string_hyperparameters(scope: Scope, image: str, options: CheckOptions, work: Path, main: TrainingRun) -> Result:
    if not options.hyperparameters:
        return skipped(
            rules.STRING_HYPERPARAMETERS,
            "no hyperparameters given (--hyperparameter NAME=VALUE)",
            "no hyperparameters given",
        )
    typed = {k: _json_value(v) for k, v in options.hyperparameters.items()}
    return _differential(
        rules.STRING_HYPERPARAMETERS,
        main,
        lambda: run_training(scope, image, lay_out(work / "typed", options, typed), network=False),
    )


def _json_value(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _broken_input(scope: Scope, image: str, options: CheckOptions, work: Path, main: TrainingRun) -> list[Result]:
    if not options.channels:
        why = "no channels given (--channel NAME=PATH)"
        return [skipped(rule, why, "no channels given") for rule in (rules.READS_CHANNELS, rules.FAILURE_FILE)]
    root = lay_out(work / "broken", options, dict(options.hyperparameters))
    corrupt(root / "input" / "data")
    broken = run_training(scope, image, root, network=False)
    failed_run = broken.exit_code not in (0, None)
    text = broken.failure_text
    shutil.rmtree(work / "broken", ignore_errors=True)
    return [
        # A job that fails on good data too proves nothing by failing on garbage.
        check(
            rules.READS_CHANNELS,
            failed_run,
            "non-zero exit when the channel data is garbage",
            f"exit code {broken.exit_code}",
            () if failed_run else ("the job ignored /opt/ml/input/data",),
        )
        if main.exit_code == 0
        else hidden(rules.READS_CHANNELS, "the job fails on good data too (see training.exit-code)"),
        check(
            rules.FAILURE_FILE,
            failed_run and bool(text),
            "non-zero exit and /opt/ml/output/failure written",
            f"exit code {broken.exit_code}; failure file: {text[:120]!r}"
            if text
            else f"exit code {broken.exit_code}; no /opt/ml/output/failure",
            log_lines(broken.logs, 6),
        ),
    ]
