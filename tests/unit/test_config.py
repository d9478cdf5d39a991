from pathlib import Path

import pytest

from harness.errors import UserError
from harness.project.config import AUTO, Settings, find_project_root


def test_defaults_from_project_root(project_root: Path) -> None:
    settings = Settings.from_env({}, cwd=project_root / "jobs")
    assert settings.project_root == project_root
    assert settings.state_dir == project_root / ".harness"
    assert settings.base_image == AUTO
    assert settings.image_name("training") == "harness-training:local"


def test_environment_overrides(tmp_path: Path, project_root: Path) -> None:
    env = {
        "HARNESS_PROJECT_ROOT": str(project_root),
        "HARNESS_STATE_DIR": str(tmp_path / "state"),
        "HARNESS_BASE_IMAGE": "python:3.11-slim",
        "HARNESS_IMAGE_TAG": "ci",
    }
    settings = Settings.from_env(env)
    assert settings.state_dir == tmp_path / "state"
    assert settings.base_image == "python:3.11-slim"
    assert settings.image_name("inference") == "harness-inference:ci"


def test_outside_a_project_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        find_project_root(tmp_path)
    assert "HARNESS_PROJECT_ROOT" in caught.value.fix
