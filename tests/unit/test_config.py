from pathlib import Path

import pytest

from harness.engine.baseimage import AUTO
from harness.errors import UserError
from harness.project.config import Settings, find_project_root


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


def _run_local_project(tmp_path: Path, body: str) -> Path:
    (tmp_path / "pyproject.toml").write_text('[tool.harness.run-local]\npipeline = "p.py"\n' + body)
    return tmp_path


def test_run_local_images_are_configuration_and_parity_defaults_to_the_built_targets(tmp_path: Path) -> None:
    from harness.project.images import ImageKind
    from harness.project.run_local_config import PipelineImage, load_run_local

    config = load_run_local(
        _run_local_project(
            tmp_path,
            '[tool.harness.run-local.images]\nfit_image = { target = "training" }\n'
            'serve_image = { target = "inference" }\nprep_image = "acme/prep:dev"\n',
        )
    )
    assert config.images == (
        PipelineImage("fit_image", target=ImageKind.TRAINING),
        PipelineImage("serve_image", target=ImageKind.INFERENCE),
        PipelineImage("prep_image", local="acme/prep:dev"),
    )
    assert config.parity == ("fit_image", "serve_image")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('[tool.harness.run-local.images]\nfit_image = { target = "gpu" }\n', "fit_image = {'target': 'gpu'}"),
        ('[tool.harness.run-local.images]\nfit_image = ""\n', "fit_image = ''"),
        ('parity = ["nope"]\n[tool.harness.run-local.images]\nfit_image = "a:b"\n', "parity = ['nope']"),
    ],
)
def test_a_bad_image_entry_names_itself_and_the_forms(tmp_path: Path, body: str, named: str) -> None:
    from harness.project.run_local_config import load_run_local

    with pytest.raises(UserError) as caught:
        load_run_local(_run_local_project(tmp_path, body))
    assert named in caught.value.problem
    assert "target" in caught.value.fix or "fit_image" in caught.value.fix


def test_promote_repositories_come_from_configuration_with_a_prefix_default(tmp_path: Path) -> None:
    from harness.promote.settings import load

    (tmp_path / "pyproject.toml").write_text(
        '[tool.harness.promote]\nregion = "eu-west-1"\nrole_arn = "arn:aws:iam::1:role/r"\nbucket = "b"\n'
        'repository_prefix = "acme"\nrepositories = { fit_image = "team/trainer" }\n'
    )
    settings = load(tmp_path, {}, {})
    assert settings.repository("fit_image") == "team/trainer"
    assert settings.repository("serve_image") == "acme-serve"
    (tmp_path / "pyproject.toml").write_text(
        '[tool.harness.promote]\nregion = "r"\nrole_arn = "a"\nbucket = "b"\nrepositories = ["x"]\n'
    )
    with pytest.raises(UserError, match="must map image fields to repository names"):
        load(tmp_path, {}, {})
