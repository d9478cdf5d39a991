"""Run the checks for one image (or a training/inference pair) and clean up."""

from __future__ import annotations

import tempfile
from pathlib import Path

from harness.check.inference import check_inference
from harness.check.model import CheckOptions, Kind, Result
from harness.check.pair import check_pair
from harness.check.processing import check_processing
from harness.check.training import check_training
from harness.engine.docker import Engine, Scope
from harness.errors import UserError

_CHECKERS = {Kind.INFERENCE: check_inference, Kind.TRAINING: check_training, Kind.PROCESSING: check_processing}


def run_checks(
    engine: Engine, kind: Kind, images: list[str], options: CheckOptions, scope_name: str = "check"
) -> list[Result]:
    """One result per check; every container started carries the scope `scope_name-…` and is removed."""
    expected = 2 if kind is Kind.PAIR else 1
    if len(images) != expected:
        raise UserError(
            f"--kind {kind.value} checks {expected} image(s), got {len(images)}",
            fix="harness check IMAGE --kind inference|training|processing, "
            "or harness check --pair TRAINING_IMAGE INFERENCE_IMAGE",
        )
    for image in images:
        if engine.image(image) is None:
            raise UserError(f"image {image} is not present locally", fix=f"build it or `docker pull {image}`")
    with Scope(engine, scope_name) as scope, tempfile.TemporaryDirectory(prefix="harness-check-") as work:
        if kind is Kind.PAIR:
            return check_pair(scope, images[0], images[1], options, Path(work))
        return _CHECKERS[kind](scope, images[0], options, Path(work))
