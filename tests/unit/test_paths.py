from pathlib import PurePosixPath

import pytest

from harness.paths import CONTAINER, OptMl


def test_seed_training_paths_are_exact() -> None:
    assert CONTAINER.channel_dir("train") / "train_data.csv" == PurePosixPath("/opt/ml/input/data/train/train_data.csv")
    assert CONTAINER.hyperparameters_file == PurePosixPath("/opt/ml/input/config/hyperparameters.json")
    assert CONTAINER.input_data_config_file == PurePosixPath("/opt/ml/input/config/inputdataconfig.json")
    assert CONTAINER.model_dir == PurePosixPath("/opt/ml/model")
    assert CONTAINER.failure_file == PurePosixPath("/opt/ml/output/failure")
    assert CONTAINER.output_data_dir == PurePosixPath("/opt/ml/output/data")


def test_processing_paths_and_config() -> None:
    assert CONTAINER.processing_path("input") == PurePosixPath("/opt/ml/processing/input")
    assert CONTAINER.processing_path("/opt/ml/processing/output/train") == PurePosixPath("/opt/ml/processing/output/train")
    assert CONTAINER.processing_job_config_file == PurePosixPath("/opt/ml/config/processingjobconfig.json")
    assert CONTAINER.is_under_processing("/opt/ml/processing/x")
    assert not CONTAINER.is_under_processing("/opt/ml/model")


def test_root_is_movable() -> None:
    moved = OptMl(PurePosixPath("/tmp/x/opt/ml"))
    assert moved.channel_dir("validation") == PurePosixPath("/tmp/x/opt/ml/input/data/validation")


@pytest.mark.parametrize("bad", ["", "a/b", "..", "."])
def test_bad_channel_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        CONTAINER.channel_dir(bad)


def test_processing_path_cannot_escape() -> None:
    with pytest.raises(ValueError):
        CONTAINER.processing_path("../model")
