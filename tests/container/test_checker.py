"""`harness check` against the project's images, images that each break one rule, and a
bring-your-own-container image this project did not write.

The broken images' build contexts are in fixtures/broken-images/. The checks each one must
fail are read from the table in fixtures/broken-images/README.md, so the documentation and the
test cannot drift apart. Every image is built once per session (conftest's `broken_image`), FROM
the project's images (offline), and removed when the session ends. Every container the checker
starts carries this test session's scope, so the session's leftover check covers them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from support import SESSION, session_scope

from harness.check import rules
from harness.check.model import CheckOptions, Kind, Result, Status
from harness.check.report import as_text
from harness.check.suite import run_checks
from harness.check.training import lay_out, run_training
from harness.emulator.archives import pack
from harness.engine.docker import Engine
from harness.project.images import PARITY_LIBRARIES, ImageKind

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
BROKEN = FIXTURES / "broken-images"
PAYLOAD = FIXTURES / "payloads" / "single_row.csv"
# The project's server is healthy in about 2 s; this bounds the wait on images that never answer.
BROKEN_WINDOW_S = 20.0
PARALLEL_CHECKS = 3  # most of a broken image's check is waiting (start-up window, SIGTERM grace)
SLOWEST = ("inference-ignores-sigterm", "inference-ignores-bind-to-port", "inference-wrong-port")

TRAINING = CheckOptions(
    channels={"train": FIXTURES / "data" / "train" / "train_data.csv", "validation": FIXTURES / "data" / "validation"},
    hyperparameters={"C": "0.5", "max_iter": "200"},
)
PROCESSING_IO = {
    "inputs": {"raw": FIXTURES / "data" / "raw"},
    "outputs": ("train", "validation", "test"),
    "arguments": ("--input-dir", "/opt/ml/processing/input/raw"),
}
PROCESSING = CheckOptions(entrypoint=("python3", "/opt/program/preprocess.py"), **PROCESSING_IO)
BROKEN_PROCESSING = CheckOptions(**PROCESSING_IO)  # the image's own entry point: it is under test
BYOC_TRAINING = CheckOptions(
    channels={"training": FIXTURES / "data" / "train" / "train_data.csv"}, hyperparameters={"max_leaf_nodes": "8"}
)


def expected_failures() -> dict[str, frozenset[str]]:
    """Folder -> checks that must fail, from the README's table."""
    table = {}
    for line in (BROKEN / "README.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`"):
            table[cells[0].strip("`")] = frozenset(re.findall(r"`([a-z]+\.[a-z0-9-]+)`", cells[3]))
    return table


EXPECTED = expected_failures()


def kind_of(folder: str) -> Kind:
    return Kind(folder.split("-", 1)[0])


def names(results: list[Result], status: Status) -> set[str]:
    return {r.name for r in results if r.status is status}


def rule_names(kind: Kind) -> set[str]:
    return {rule.name for rule in rules.ALL if rule.kind is kind}


@pytest.fixture(scope="module")
def built(broken_image: Callable[[str], str]) -> dict[str, str]:
    """Folder -> tag for every broken image and `byoc` (the session's fixture builds and removes them)."""
    folders = [path.name for path in sorted(BROKEN.iterdir()) if (path / "Dockerfile").is_file()]
    return {folder: broken_image(folder) for folder in [*folders, "byoc"]}


def broken_options(folder: str, trained: Path) -> CheckOptions:
    kind = kind_of(folder)
    if kind is Kind.INFERENCE:
        return CheckOptions(model=trained / "model.tar.gz", payload=PAYLOAD, startup_window_s=BROKEN_WINDOW_S)
    return TRAINING if kind is Kind.TRAINING else BROKEN_PROCESSING


@pytest.fixture(scope="module")
def broken_results(engine: Engine, built: dict[str, str], trained: Path) -> dict[str, list[Result]]:
    """Every broken image checked once, a few at a time, the slowest first."""
    slowest_first = sorted(EXPECTED, key=lambda folder: (folder not in SLOWEST, folder))
    with ThreadPoolExecutor(max_workers=PARALLEL_CHECKS) as pool:
        futures = {
            folder: pool.submit(
                run_checks,
                engine,
                kind_of(folder),
                [built[folder]],
                broken_options(folder, trained),
                scope_name=SESSION,
            )
            for folder in slowest_first
        }
        return {folder: future.result() for folder, future in futures.items()}


def test_project_images_pass_every_check(engine: Engine, images: dict[ImageKind, str], trained: Path) -> None:
    """Runs first and alone, so its time is the checker's own."""
    runs = {
        "inference": (
            Kind.INFERENCE,
            images[ImageKind.INFERENCE],
            CheckOptions(model=trained / "model.tar.gz", payload=PAYLOAD),
        ),
        "training": (Kind.TRAINING, images[ImageKind.TRAINING], TRAINING),
        "processing": (Kind.PROCESSING, images[ImageKind.PROCESSING], PROCESSING),
    }
    seconds = {}
    for label, (kind, image, options) in runs.items():
        started = time.monotonic()
        results = run_checks(engine, kind, [image], options, scope_name=SESSION)
        seconds[label] = time.monotonic() - started
        assert names(results, Status.PASS) == rule_names(kind), as_text(results)  # every check ran and passed
    print(
        "\nchecker run time on the project's images: "
        + ", ".join(f"{label} {s:.1f}s" for label, s in seconds.items())
        + f"; total {sum(seconds.values()):.1f}s"
    )


def test_the_readme_table_names_every_broken_image_and_real_checks() -> None:
    folders = {path.name for path in BROKEN.iterdir() if (path / "Dockerfile").is_file()}
    assert set(EXPECTED) == folders
    for folder, failing in EXPECTED.items():
        assert failing and failing <= rule_names(kind_of(folder)), folder


@pytest.mark.parametrize("folder", sorted(EXPECTED))
def test_broken_image_fails_exactly_its_checks(folder: str, broken_results: dict[str, list[Result]]) -> None:
    results = broken_results[folder]
    assert {r.name for r in results} == rule_names(kind_of(folder))
    assert names(results, Status.FAIL) == EXPECTED[folder], as_text(results)


def test_byoc_image_passes_training_inference_and_pair(engine: Engine, built: dict[str, str], tmp_path: Path) -> None:
    image = built["byoc"]
    config = engine.client.images.get(image).attrs["Config"]
    assert not config.get("Entrypoint") and not config.get("Cmd")  # `train` / `serve` resolve on PATH

    training = run_checks(engine, Kind.TRAINING, [image], BYOC_TRAINING, scope_name=SESSION)
    assert names(training, Status.PASS) == rule_names(Kind.TRAINING), as_text(training)

    with session_scope(engine) as scope:
        job = run_training(
            scope, image, lay_out(tmp_path / "ml", BYOC_TRAINING, dict(BYOC_TRAINING.hyperparameters)), network=False
        )
    assert job.exit_code == 0 and job.model_files == ["model.pkl"], job.logs
    model = pack(job.root / "model", tmp_path / "model.tar.gz")

    inference = run_checks(
        engine, Kind.INFERENCE, [image], CheckOptions(model=model, payload=PAYLOAD), scope_name=SESSION
    )
    assert not names(inference, Status.FAIL) and not names(inference, Status.SKIPPED), as_text(inference)
    assert names(inference, Status.NOT_APPLICABLE) == {"inference.bind-to-port"}, as_text(inference)  # no label

    pair = run_checks(engine, Kind.PAIR, [image, image], replace(BYOC_TRAINING, payload=PAYLOAD), scope_name=SESSION)
    assert names(pair, Status.PASS) == rule_names(Kind.PAIR), as_text(pair)
    parity = next(r for r in pair if r.name == rules.PARITY.name)
    assert parity.expected == "identical versions of " + ", ".join(PARITY_LIBRARIES)  # the one list doctor uses


def test_wrong_port_is_judged_within_seconds(engine: Engine, built: dict[str, str], trained: Path) -> None:
    """With SageMaker's full 240 s window: the server answers on 8081, visible at once in its /proc/net/tcp."""
    options = CheckOptions(model=trained / "model.tar.gz", payload=PAYLOAD)
    started = time.monotonic()
    results = run_checks(engine, Kind.INFERENCE, [built["inference-wrong-port"]], options, scope_name=SESSION)
    seconds = time.monotonic() - started
    print(f"\ninference-wrong-port checked in {seconds:.1f}s with a 240 s window")
    assert names(results, Status.FAIL) == EXPECTED["inference-wrong-port"], as_text(results)
    port = next(r for r in results if r.name == rules.PORT_8080.name)
    assert "listens on 8081" in port.observed and "SageMaker sends to 8080" in port.observed, port.observed
    assert seconds < 60, as_text(results)  # waiting out the window took over 240 s


def test_cli_strict_fails_on_a_check_that_could_not_run(images: dict[ImageKind, str]) -> None:
    """No --hyperparameter: training.hyperparameters-as-strings cannot run. Exit 0 says so; --strict exits 1."""
    command = [
        sys.executable,
        "-m",
        "harness.cli",
        "check",
        images[ImageKind.TRAINING],
        "--kind",
        "training",
        *(f"--channel={name}={path}" for name, path in TRAINING.channels.items()),
    ]
    environment = {**os.environ, "SAGEMAKER_SUPPRESS_V2_WARNING": "1", "AWS_EC2_METADATA_DISABLED": "true"}
    for extra, code in (((), 0), (("--strict",), 1)):
        done = subprocess.run(
            [*command, *extra], check=False, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == code, done.stdout + done.stderr
        last = done.stdout.strip().splitlines()[-1]
        assert last == "6 passed, 0 failed, 1 skipped (no hyperparameters given)", done.stdout


def test_cli_json_report_for_a_broken_image(built: dict[str, str]) -> None:
    folder = "processing-shell-entrypoint"
    command = [
        sys.executable,
        "-m",
        "harness.cli",
        "check",
        built[folder],
        "--kind",
        "processing",
        "--input",
        f"raw={FIXTURES / 'data' / 'raw'}",
        "--output",
        "train",
        "--output",
        "validation",
        "--output",
        "test",
        "--argument=--input-dir",
        "--argument",
        "/opt/ml/processing/input/raw",
        "--format",
        "json",
    ]
    environment = {**os.environ, "SAGEMAKER_SUPPRESS_V2_WARNING": "1", "AWS_EC2_METADATA_DISABLED": "true"}
    done = subprocess.run(command, check=False, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["passed"] is False
    assert {r["name"] for r in report["results"] if r["status"] == "fail"} == EXPECTED[folder]
