"""The `/opt/ml` contract as typed paths with a movable root.

SageMaker fixes these locations inside every container; keeping them in one
place lets the contract be tested on a temporary folder without Docker and
lets the runner mount host folders at exactly the right container paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

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
