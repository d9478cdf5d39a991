"""Processing checks: exec-form entrypoint, inputs and outputs only under
/opt/ml/processing, and exit-code semantics."""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.check import rules
from harness.check.model import CheckOptions, Result, check, hidden, log_lines, skipped
from harness.check.workspace import corrupt, place, written_outside
from harness.engine.docker import ContainerSpec, Mount, Scope
from harness.errors import HarnessError

SHELL_FORM = ["/bin/sh", "-c"]


def _entrypoint(scope: Scope, image: str, options: CheckOptions) -> list[str]:
    if options.entrypoint:
        return list(options.entrypoint)
    attrs = scope.engine.client.images.get(image).attrs.get("Config") or {}
    return list(attrs.get("Entrypoint") or attrs.get("Cmd") or [])


def run_processing(scope: Scope, image: str, options: CheckOptions, root: Path) -> tuple[int | None, str, list[str]]:
    """Run the job on `root`'s inputs; (exit code or None if it could not start, logs, paths written outside mounts)."""
    mounts = [
        Mount(root / "input" / name, f"/opt/ml/processing/input/{name}", read_only=True) for name in options.inputs
    ]
    mounts += [Mount(root / "output" / name, f"/opt/ml/processing/output/{name}") for name in options.outputs]
    spec = ContainerSpec(
        image=image,
        entrypoint=tuple(options.entrypoint) or None,
        command=tuple(options.arguments),
        mounts=tuple(mounts),
        hostname="algo-1",
    )
    try:
        container = scope.start(spec)
    except HarnessError as error:
        return None, error.problem, []
    try:
        return container.wait(1800), container.logs(), container.changed_paths()
    finally:
        container.remove()


def lay_out(root: Path, options: CheckOptions) -> Path:
    for name, source in options.inputs.items():
        place(source, root / "input" / name)
    for name in options.outputs:
        (root / "output" / name).mkdir(parents=True, exist_ok=True)
    return root


def check_processing(scope: Scope, image: str, options: CheckOptions, work: Path) -> list[Result]:
    results = [_exec_form(_entrypoint(scope, image, options))]
    root = lay_out(work / "main", options)
    code, logs, changed = run_processing(scope, image, options, root)
    exit_logs = () if code == 0 else log_lines(logs)
    results.append(check(rules.PROCESSING_EXIT, code == 0, "exit code 0", f"exit code {code}", exit_logs))
    results.append(_paths(root, changed, options))
    if code == 0:
        results.append(_failure(scope, image, options, work))
    else:
        results.append(hidden(rules.PROCESSING_FAILURE, "the job fails on good inputs too; see processing.exit-code"))
    return results


def _exec_form(entrypoint: list[str]) -> Result:
    shell = entrypoint[:2] == SHELL_FORM
    observed = f"{entrypoint!r}" + (" is shell form" if shell else "")
    return check(rules.EXEC_FORM, bool(entrypoint) and not shell, "an exec-form entrypoint (a JSON array)", observed)


def _paths(root: Path, changed: list[str], options: CheckOptions) -> Result:
    outside = written_outside(changed, ("/opt/ml",))
    empty = [name for name in options.outputs if not any((root / "output" / name).rglob("*"))]
    problems = [
        f"wrote outside: {', '.join(outside[:5])}" if outside else "",
        f"nothing in output(s): {', '.join(empty)}" if empty else "",
    ]
    return check(
        rules.PROCESSING_PATHS,
        not outside and not empty,
        "outputs under /opt/ml/processing/output/<name>, nothing written elsewhere",
        "; ".join(p for p in problems if p) or "all outputs written under /opt/ml/processing",
    )


def _failure(scope: Scope, image: str, options: CheckOptions, work: Path) -> Result:
    if not options.inputs:
        return skipped(rules.PROCESSING_FAILURE, "no inputs given (--input NAME=PATH)", "no inputs given")
    root = lay_out(work / "broken", options)
    corrupt(root / "input")
    code, logs, _ = run_processing(scope, image, options, root)
    shutil.rmtree(work / "broken", ignore_errors=True)
    return check(
        rules.PROCESSING_FAILURE,
        code not in (0, None),
        "non-zero exit on unusable inputs",
        f"exit code {code}",
        log_lines(logs, 6),
    )
