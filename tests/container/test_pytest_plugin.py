"""The pytest plugin, used from a separate test project as a user would."""

from collections.abc import Callable
from pathlib import Path

import pytest

from harness.engine.docker import OWNER, OWNER_LABEL, Engine

USER_TESTS = """
import pathlib

MODEL = pathlib.Path({model!r})
FIXTURES = pathlib.Path({fixtures!r})


def test_inference_serves(sagemaker_inference):
    server = sagemaker_inference("{inference}", model=MODEL)
    assert server.ping().status == 200
    reply = server.invoke((FIXTURES / "payloads" / "batch.csv").read_bytes(), "text/csv")
    assert reply.status == 200 and len(reply.text().split()) == 10


def test_training_job(sagemaker_training_job):
    job = sagemaker_training_job("{training}", channels={{"train": FIXTURES / "data" / "train" / "train_data.csv"}},
                                 hyperparameters={{"C": "0.5"}})
    assert job.exit_code == 0 and job.model_files == ["metadata.json", "model.joblib"]


def test_broken_training_job_reports_its_failure(sagemaker_training_job, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("1,x\\n")
    job = sagemaker_training_job("{training}", channels={{"train": bad}})
    assert job.exit_code == 1 and job.failure_text.startswith("ValueError")


def test_processing_job(sagemaker_processing_job):
    run = sagemaker_processing_job("{processing}", inputs={{"raw": FIXTURES / "data" / "raw"}},
                                   outputs=["train", "validation", "test"],
                                   entrypoint=["python3", "/opt/program/preprocess.py"],
                                   arguments=["--input-dir", "/opt/ml/processing/input/raw"])
    assert run.exit_code == 0
    assert (run.outputs["train"] / "train_data.csv").is_file()


def test_contract(sagemaker_contract):
    results = sagemaker_contract.assert_inference("{inference}", model=MODEL,
                                                  payload=FIXTURES / "payloads" / "single_row.csv")
    assert {{r.name for r in results}} >= {{"inference.ping-2s", "inference.sigterm-30s"}}


def test_contract_violation_fails_with_the_check_named(sagemaker_contract):
    import pytest
    with pytest.raises(AssertionError, match="FAIL  training.exit-code"):
        sagemaker_contract.assert_training("{inference}", channels={{"train": FIXTURES / "data" / "train"}})


def test_a_check_that_could_not_run_fails_unless_allowed(sagemaker_contract):
    import pytest
    with pytest.raises(AssertionError, match="inference.invocations-60s skipped: no sample payload"):
        sagemaker_contract.assert_inference("{inference}", model=MODEL)
    unchecked = {{"inference.invocations-60s", "inference.payload-6mb"}}
    results = sagemaker_contract.assert_inference("{inference}", model=MODEL, allow_skipped=unchecked)
    assert {{r.name for r in results if r.status.value == "skipped"}} == unchecked


def test_a_server_on_the_wrong_port_is_rejected_within_seconds(sagemaker_inference):
    import time
    import pytest
    started = time.monotonic()
    with pytest.raises(AssertionError, match="listens on 8081 .*SageMaker sends to 8080"):
        sagemaker_inference("{wrong_port}", model=MODEL)
    seconds = time.monotonic() - started
    print(f"PLUGIN-WRONG-PORT {{seconds:.1f}}s")
    assert seconds < 20  # the 240 s start-up window is not waited out
"""


@pytest.fixture
def wrong_port_image(broken_image: Callable[[str], str]) -> str:
    """fixtures/broken-images/inference-wrong-port: serves on 8081 by default."""
    return broken_image("inference-wrong-port")


def test_plugin_fixtures_in_a_user_project(
    pytester: pytest.Pytester, trained: Path, fixtures_dir: Path, images: dict, engine: Engine, wrong_port_image: str
) -> None:
    pytester.makepyfile(
        test_user=USER_TESTS.format(
            model=str(trained / "model.tar.gz"),
            fixtures=str(fixtures_dir),
            inference=images["inference"],
            training=images["training"],
            processing=images["processing"],
            wrong_port=wrong_port_image,
        )
    )
    result = pytester.runpytest_subprocess("-q", "-s", "-p", "no:cacheprovider")
    print("\n".join(line for line in result.outlines if "PLUGIN-WRONG-PORT" in line))
    result.assert_outcomes(passed=8)
    assert [c for c in engine.containers({OWNER_LABEL: OWNER}) if c.scope.startswith("pytest-")] == []
