"""Settings, read once from the environment into a frozen value object.

Nothing here mutates `os.environ`; callers pass the mapping they want read,
which keeps tests hermetic.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.engine.baseimage import AUTO
from harness.errors import UserError

_PROJECT_MARKERS = ("containers/requirements.lock", "jobs")


def find_project_root(start: Path) -> Path:
    """The nearest folder at or above `start` that holds the project's layout."""
    for folder in (start, *start.parents):
        if all((folder / marker).exists() for marker in _PROJECT_MARKERS):
            return folder
    raise UserError(
        f"no harness project found at or above {start}",
        fix="run the command from a checkout of the project, or set HARNESS_PROJECT_ROOT",
    )


@dataclass(frozen=True)
class Settings:
    project_root: Path
    state_dir: Path
    base_image: str = AUTO
    image_prefix: str = "harness"
    image_tag: str = "local"
    docker_timeout_s: float = 120.0

    @property
    def containers_dir(self) -> Path:
        return self.project_root / "containers"

    @property
    def jobs_dir(self) -> Path:
        return self.project_root / "jobs"

    @property
    def fixtures_dir(self) -> Path:
        return self.project_root / "fixtures"

    @property
    def lock_file(self) -> Path:
        return self.containers_dir / "requirements.lock"

    @property
    def wheels_cache_dir(self) -> Path:
        return self.state_dir / "wheels"

    @property
    def rootfs_cache_dir(self) -> Path:
        return self.state_dir / "rootfs"

    def image_name(self, kind: str) -> str:
        return f"{self.image_prefix}-{kind}:{self.image_tag}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
        env = os.environ if environ is None else environ
        root_text = env.get("HARNESS_PROJECT_ROOT")
        root = Path(root_text).resolve() if root_text else find_project_root((cwd or Path.cwd()).resolve())
        state_text = env.get("HARNESS_STATE_DIR")
        state_dir = Path(state_text).resolve() if state_text else root / ".harness"
        return cls(
            project_root=root,
            state_dir=state_dir,
            base_image=env.get("HARNESS_BASE_IMAGE", AUTO) or AUTO,
            image_prefix=env.get("HARNESS_IMAGE_PREFIX", "harness"),
            image_tag=env.get("HARNESS_IMAGE_TAG", "local"),
        )
