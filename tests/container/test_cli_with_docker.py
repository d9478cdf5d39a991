"""`harness doctor` and `harness images build` against the real daemon."""

import os
import re
import subprocess
import sys

from harness.project.config import Settings


def test_doctor_reports_everything_ok_once_images_are_built(images: dict, settings: Settings) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "doctor"],
        capture_output=True,
        text=True,
        cwd=settings.project_root,
        env=dict(os.environ),
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for name in (
        "docker daemon",
        "base image",
        "image processing",
        "image training",
        "image inference",
        "version parity",
    ):
        assert f"ok  {name}" in result.stdout
    assert "training = inference" in result.stdout


def test_images_build_prints_progress_tags_and_ids(images: dict, settings: Settings) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "images", "build", "--kind", "training"],
        capture_output=True,
        text=True,
        cwd=settings.project_root,
        env=dict(os.environ),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "[training] Step 1/" in result.stdout
    assert re.search(r"^harness-training:local +sha256:[0-9a-f]{12} +\d+MB +[\d.]+s$", result.stdout, re.MULTILINE)
