"""Errors at the CLI's edge with a real daemon: a bug is one line, a crash file and exit 70 (also in
run-local's re-executed process); corrupt state is a user error naming the file; a corrupt cache heals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness.engine.baseimage import OFFLINE_BASE_IMAGE, PUBLIC_BASE_IMAGE
from harness.engine.docker import Engine, Scope
from harness.project.images import ImageKind, cached_library_versions

ROOT = Path(__file__).resolve().parents[2]
CONSOLE_SCRIPT = Path(sys.executable).parent / "harness"  # the alias, as pip installed it


def run(command: list[str], state: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARNESS_PROJECT_ROOT": str(ROOT), "HARNESS_STATE_DIR": str(state), **extra}
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)


def crash_file(stderr: str) -> Path:
    lines = stderr.strip().splitlines()
    assert lines[-1].startswith("  fix: please report it with the traceback saved in "), stderr[-2000:]
    return Path(lines[-1].rsplit(" ", 1)[1])


def test_an_unexpected_exception_is_a_bug_with_a_crash_file(
    tmp_path: Path, engine: Engine, images: dict[ImageKind, str]
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "wheels").write_text("a file where the wheel cache folder belongs")
    base = PUBLIC_BASE_IMAGE if engine.image(PUBLIC_BASE_IMAGE) else OFFLINE_BASE_IMAGE
    result = run(
        [sys.executable, "-m", "harness.cli", "images", "build", "--kind", "processing"], state, HARNESS_BASE_IMAGE=base
    )
    assert result.returncode == 70, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith("error: a bug in the harness: ")
    path = crash_file(result.stderr)
    assert path.parent == state / "crash"
    assert "command: sagemaker-harness images build --kind processing" in path.read_text()
    assert "Traceback (most recent call last)" in path.read_text()


def test_run_local_reports_a_bug_from_its_re_executed_process(tmp_path: Path, images: dict[ImageKind, str]) -> None:
    state = tmp_path / "state"
    (state / "image-versions.json").mkdir(parents=True)  # a folder where the cache file belongs
    result = run([str(CONSOLE_SCRIPT), "run-local", "--no-deploy", "--quiet"], state)
    assert result.returncode == 70, result.stdout[-1000:] + result.stderr[-2000:]
    assert "error: a bug in the harness: IsADirectoryError: " in result.stderr
    text = crash_file(result.stderr).read_text()
    assert "command: harness run-local --no-deploy --quiet" in text  # the invoked name survives the execve
    assert "IsADirectoryError" in text


def test_a_corrupt_run_record_stops_promotion_with_the_file_and_the_fix(
    tmp_path: Path, images: dict[ImageKind, str]
) -> None:
    state = tmp_path / "state"
    (state / "runs").mkdir(parents=True)
    latest = state / "runs" / "latest.json"
    latest.write_text('{"run_id": "20250101T000000Z-abcdef", "status": "Succ')
    result = run([sys.executable, "-m", "harness.cli", "promote"], state, AWS_EC2_METADATA_DISABLED="true")
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith(f"error: the run record {latest} is corrupt or was edited by hand (not valid JSON")
    assert f"fix: delete it (`rm {latest}`) or run `sagemaker-harness doctor --fix`" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_corrupt_version_cache_is_rebuilt(tmp_path: Path, scope: Scope, images: dict[ImageKind, str]) -> None:
    cache = tmp_path / "image-versions.json"
    cache.write_text('{"sha256:abc": {"numpy": ')
    versions = cached_library_versions(scope, images[ImageKind.TRAINING], cache)
    assert versions["scikit-learn"]
    info = scope.engine.image(images[ImageKind.TRAINING])
    assert info is not None and json.loads(cache.read_text()) == {info.id: versions}
