"""Cross-image checks: library parity and the train-then-serve round trip."""

from __future__ import annotations

from pathlib import Path

from harness.check import rules
from harness.check.inference import invoke_check, start_server
from harness.check.model import CheckOptions, Result, check, failed, log_lines, skipped
from harness.check.training import lay_out, run_training
from harness.check.workspace import model_folder
from harness.emulator.archives import pack
from harness.emulator.inference_client import InferenceClient, probe_health
from harness.engine.docker import Scope
from harness.project.images import PARITY_LIBRARIES, library_versions, version_differences


def check_pair(scope: Scope, training: str, inference: str, options: CheckOptions, work: Path) -> list[Result]:
    names = tuple(dict.fromkeys(PARITY_LIBRARIES + options.libraries))
    left, right = library_versions(scope, training, names), library_versions(scope, inference, names)
    differences = version_differences(left, right)
    shown = ", ".join(f"{n} {left[n]}" for n in names if left.get(n))
    return [
        check(
            rules.PARITY,
            not differences,
            "identical versions of " + ", ".join(names),
            "differ: " + "; ".join(differences) if differences else f"identical ({shown})",
        ),
        _round_trip(scope, training, inference, options, work),
    ]


def _round_trip(scope: Scope, training: str, inference: str, options: CheckOptions, work: Path) -> Result:
    if not options.channels or options.payload is None:
        return skipped(rules.ROUND_TRIP, "needs --channel NAME=PATH and --payload FILE", "no channels or payload given")
    trained = run_training(
        scope, training, lay_out(work / "train", options, dict(options.hyperparameters)), network=False
    )
    if trained.exit_code != 0:
        return failed(rules.ROUND_TRIP, "training exits 0", f"exit code {trained.exit_code}", log_lines(trained.logs))
    archive = pack(trained.root / "model", work / "model.tar.gz")
    model_dir = model_folder(archive, work / "served-model")
    container = start_server(scope, inference, model_dir, 8080, {})
    try:
        client = InferenceClient(container.host_port(8080))
        healthy = probe_health(container, client, options.startup_window_s, port=8080).healthy_s
        if healthy is None:
            return failed(
                rules.ROUND_TRIP,
                "the trained model serves",
                "the inference container never became healthy",
                log_lines(container.logs_tail()),
            )
        return invoke_check(rules.ROUND_TRIP, client, options.payload.read_bytes(), options.content_type)
    finally:
        container.remove()
