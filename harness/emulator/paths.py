"""The `/opt/ml` contract as typed paths with a movable root, and the config
files SageMaker writes there.

SageMaker fixes these locations inside every container; keeping them in one
place lets the contract be tested on a temporary folder without Docker and
lets the runner, the checker and the tests lay out host folders that are
mounted at exactly the right container paths, with one shape per file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

CONTAINER_ROOT = PurePosixPath("/opt/ml")
PROGRAM_DIR = PurePosixPath("/opt/program")


@dataclass(frozen=True)
class OptMl:
    """Paths under an `/opt/ml` root (the real one by default)."""

    root: PurePosixPath = CONTAINER_ROOT

    # Training ---------------------------------------------------------------
    @property
    def input_dir(self) -> PurePosixPath:
        return self.root / "input"

    @property
    def input_config_dir(self) -> PurePosixPath:
        return self.input_dir / "config"

    @property
    def hyperparameters_file(self) -> PurePosixPath:
        return self.input_config_dir / "hyperparameters.json"

    @property
    def input_data_config_file(self) -> PurePosixPath:
        return self.input_config_dir / "inputdataconfig.json"

    @property
    def training_resource_config_file(self) -> PurePosixPath:
        return self.input_config_dir / "resourceconfig.json"

    @property
    def training_job_config_file(self) -> PurePosixPath:
        return self.input_config_dir / "trainingjobconfig.json"

    def channel_dir(self, channel: str) -> PurePosixPath:
        """`/opt/ml/input/data/<channel>`: fixed by SageMaker, not configurable."""
        if not channel or "/" in channel or channel in {".", ".."}:
            raise ValueError(f"invalid channel name {channel!r}")
        return self.input_dir / "data" / channel

    @property
    def model_dir(self) -> PurePosixPath:
        return self.root / "model"

    @property
    def output_dir(self) -> PurePosixPath:
        return self.root / "output"

    @property
    def output_data_dir(self) -> PurePosixPath:
        return self.output_dir / "data"

    @property
    def failure_file(self) -> PurePosixPath:
        return self.output_dir / "failure"

    @property
    def checkpoints_dir(self) -> PurePosixPath:
        return self.root / "checkpoints"

    # Processing -------------------------------------------------------------
    @property
    def processing_dir(self) -> PurePosixPath:
        return self.root / "processing"

    def processing_path(self, relative: str) -> PurePosixPath:
        """A path under `/opt/ml/processing`; refuses anything that escapes it."""
        candidate = PurePosixPath(relative)
        if candidate.is_absolute():
            candidate = candidate.relative_to(self.processing_dir)
        if ".." in candidate.parts:
            raise ValueError(f"{relative!r} escapes {self.processing_dir}")
        return self.processing_dir / candidate

    @property
    def processing_config_dir(self) -> PurePosixPath:
        return self.root / "config"

    @property
    def processing_job_config_file(self) -> PurePosixPath:
        return self.processing_config_dir / "processingjobconfig.json"

    @property
    def processing_resource_config_file(self) -> PurePosixPath:
        return self.processing_config_dir / "resourceconfig.json"

    def is_under_processing(self, path: PurePosixPath | str) -> bool:
        return PurePosixPath(path).is_relative_to(self.processing_dir)


CONTAINER = OptMl()

# inputdataconfig.json entry for a File-mode channel copied whole to every host (SageMaker's defaults).
FILE_CHANNEL: Mapping[str, str] = {
    "TrainingInputMode": "File",
    "S3DistributionType": "FullyReplicated",
    "RecordWrapperType": "None",
}
GROUP_NAME = "homogeneousCluster"  # SageMaker's instance-group name when the request names no groups


@dataclass(frozen=True)
class Cluster:
    """The hosts of one job as SageMaker names them, and which one this container is."""

    current_host: str = "algo-1"
    hosts: tuple[str, ...] = ("algo-1",)
    instance_type: str = "local"

    def training(self) -> dict[str, Any]:
        """/opt/ml/input/config/resourceconfig.json, in the training service's full shape."""
        hosts = list(self.hosts)  # algo-1..algo-N in order (a text sort would put algo-10 before algo-2)
        return {
            "current_host": self.current_host,
            "current_instance_type": self.instance_type,
            "current_group_name": GROUP_NAME,
            "hosts": hosts,
            "instance_groups": [
                {"instance_group_name": GROUP_NAME, "instance_type": self.instance_type, "hosts": hosts}
            ],
            "network_interface_name": "eth0",
        }

    def processing(self) -> dict[str, Any]:
        """/opt/ml/config/resourceconfig.json: processing jobs get only these two keys."""
        return {"current_host": self.current_host, "hosts": list(self.hosts)}


@dataclass(frozen=True)
class TrainingConfig:
    """What a training container finds under /opt/ml/input/config."""

    hyperparameters: Mapping[str, object] = field(default_factory=dict)
    channels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # name -> inputdataconfig entry
    cluster: Cluster = Cluster()
    job: Mapping[str, Any] | None = None  # trainingjobconfig.json (the request), when there is one


def on_host(root: Path) -> OptMl:
    """The layout with a host folder as its root (the folder mounted at /opt/ml)."""
    return OptMl(PurePosixPath(root))


def write_training_config(root: Path, config: TrainingConfig) -> Path:
    """The config files and empty output folders of one training host, under `root` (mounted at /opt/ml)."""
    layout = on_host(root)
    for name in config.channels:
        Path(layout.channel_dir(name)).mkdir(parents=True, exist_ok=True)
    _write_json(Path(layout.hyperparameters_file), dict(config.hyperparameters))
    _write_json(Path(layout.input_data_config_file), {name: dict(entry) for name, entry in config.channels.items()})
    _write_json(Path(layout.training_resource_config_file), config.cluster.training())
    if config.job is not None:
        _write_json(Path(layout.training_job_config_file), dict(config.job))
    for folder in (layout.model_dir, layout.output_data_dir, layout.checkpoints_dir):
        Path(folder).mkdir(parents=True, exist_ok=True)
    return root


def write_processing_config(root: Path, cluster: Cluster, job: Mapping[str, Any]) -> Path:
    """/opt/ml/config/{processingjobconfig,resourceconfig}.json of one processing host, under `root`."""
    layout = on_host(root)
    _write_json(Path(layout.processing_job_config_file), dict(job))
    _write_json(Path(layout.processing_resource_config_file), cluster.processing())
    return root


def _write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str))
