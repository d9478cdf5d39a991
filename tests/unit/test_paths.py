import json
from pathlib import Path, PurePosixPath

import pytest
from support import training_root

from harness.check.model import CheckOptions
from harness.check.training import lay_out
from harness.emulator.paths import (
    CONTAINER,
    FILE_CHANNEL,
    Cluster,
    OptMl,
    TrainingConfig,
    write_processing_config,
    write_training_config,
)


def test_seed_training_paths_are_exact() -> None:
    assert CONTAINER.channel_dir("train") / "train_data.csv" == PurePosixPath("/opt/ml/input/data/train/train_data.csv")
    assert CONTAINER.hyperparameters_file == PurePosixPath("/opt/ml/input/config/hyperparameters.json")
    assert CONTAINER.input_data_config_file == PurePosixPath("/opt/ml/input/config/inputdataconfig.json")
    assert CONTAINER.model_dir == PurePosixPath("/opt/ml/model")
    assert CONTAINER.failure_file == PurePosixPath("/opt/ml/output/failure")
    assert CONTAINER.output_data_dir == PurePosixPath("/opt/ml/output/data")


def test_processing_paths_and_config() -> None:
    assert CONTAINER.processing_path("input") == PurePosixPath("/opt/ml/processing/input")
    assert CONTAINER.processing_path("/opt/ml/processing/output/train") == PurePosixPath(
        "/opt/ml/processing/output/train"
    )
    assert CONTAINER.processing_job_config_file == PurePosixPath("/opt/ml/config/processingjobconfig.json")
    assert CONTAINER.is_under_processing("/opt/ml/processing/x")
    assert not CONTAINER.is_under_processing("/opt/ml/model")


def test_root_is_movable() -> None:
    moved = OptMl(PurePosixPath("/tmp/x/opt/ml"))
    assert moved.channel_dir("validation") == PurePosixPath("/tmp/x/opt/ml/input/data/validation")


@pytest.mark.parametrize("bad", ["", "a/b", "..", "."])
def test_bad_channel_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid channel name"):
        CONTAINER.channel_dir(bad)


def test_processing_path_cannot_escape() -> None:
    with pytest.raises(ValueError, match="escapes /opt/ml/processing"):
        CONTAINER.processing_path("../model")


SERVICE_KEYS = {
    "current_host",
    "current_instance_type",
    "current_group_name",
    "hosts",
    "instance_groups",
    "network_interface_name",
}


def _json(path) -> object:
    return json.loads(path.read_text())


def test_training_config_has_the_service_shape(tmp_path: Path) -> None:
    hosts = tuple(f"algo-{i}" for i in range(1, 11))
    config = TrainingConfig(
        {"C": "0.5"}, {"train": FILE_CHANNEL}, Cluster("algo-2", hosts, "ml.m5.large"), job={"TrainingJobName": "j"}
    )
    write_training_config(tmp_path, config)
    resources = _json(tmp_path / "input/config/resourceconfig.json")
    assert set(resources) == SERVICE_KEYS
    assert resources["current_host"] == "algo-2" and resources["hosts"] == list(hosts)  # algo-10 stays last
    assert resources["instance_groups"] == [
        {"instance_group_name": "homogeneousCluster", "instance_type": "ml.m5.large", "hosts": list(hosts)}
    ]
    assert _json(tmp_path / "input/config/hyperparameters.json") == {"C": "0.5"}
    assert _json(tmp_path / "input/config/inputdataconfig.json") == {"train": dict(FILE_CHANNEL)}
    assert _json(tmp_path / "input/config/trainingjobconfig.json") == {"TrainingJobName": "j"}
    assert all((tmp_path / d).is_dir() for d in ("input/data/train", "model", "output/data", "checkpoints"))


def test_training_job_config_is_written_only_with_a_request(tmp_path: Path) -> None:
    write_training_config(tmp_path, TrainingConfig())
    assert not (tmp_path / "input/config/trainingjobconfig.json").exists()


def test_processing_config_keeps_the_processing_shape(tmp_path: Path) -> None:
    write_processing_config(tmp_path, Cluster("algo-1", ("algo-1", "algo-2")), {"ProcessingJobName": "p"})
    assert _json(tmp_path / "config/resourceconfig.json") == {"current_host": "algo-1", "hosts": ["algo-1", "algo-2"]}
    assert _json(tmp_path / "config/processingjobconfig.json") == {"ProcessingJobName": "p"}


def test_checker_and_test_support_lay_out_the_same_shape(tmp_path: Path, fixtures_dir: Path) -> None:
    checked = lay_out(
        tmp_path / "check", CheckOptions(channels={"train": fixtures_dir / "data" / "train"}), {"C": "0.5"}
    )
    supported = training_root(tmp_path / "support", fixtures_dir)
    for root in (checked, supported):
        assert set(_json(root / "input/config/resourceconfig.json")) == SERVICE_KEYS, root
        assert _json(root / "input/config/inputdataconfig.json")["train"] == dict(FILE_CHANNEL), root
