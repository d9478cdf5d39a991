import shutil
from pathlib import Path

from harness.engine.wheels import platform_tags, wheelhouse_dir
from harness.project.config import Settings
from harness.project.images import assemble_context, source_digest, version_differences


def copy_project(project_root: Path, into: Path) -> Settings:
    for folder in ("containers", "jobs"):
        shutil.copytree(project_root / folder, into / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return Settings.from_env({"HARNESS_PROJECT_ROOT": str(into)})


def test_source_digest_follows_the_job_code(project_root: Path, tmp_path: Path) -> None:
    settings = copy_project(project_root, tmp_path)
    before = source_digest(settings)
    assert source_digest(settings) == before
    (tmp_path / "jobs" / "train.py").write_text((tmp_path / "jobs" / "train.py").read_text() + "\n# edit\n")
    assert source_digest(settings) != before


def test_build_context_holds_exactly_what_the_dockerfile_copies(project_root: Path, tmp_path: Path) -> None:
    settings = copy_project(project_root, tmp_path / "project")
    wheelhouse = tmp_path / "wheels"
    wheelhouse.mkdir()
    (wheelhouse / "numpy-2.0-cp311-cp311-manylinux_2_17_x86_64.whl").write_bytes(b"wheel")
    (tmp_path / "ctx").mkdir()
    context = assemble_context(settings, wheelhouse, tmp_path / "ctx")
    names = {p.relative_to(context).as_posix() for p in context.rglob("*") if p.is_file()}
    assert {
        "Dockerfile",
        "requirements.lock",
        "jobs/train.py",
        "jobs/model_artifact.py",
        "inference/serve.py",
        "wheels/numpy-2.0-cp311-cp311-manylinux_2_17_x86_64.whl",
    } <= names
    dockerfile = (context / "Dockerfile").read_text()
    for copied in ("jobs/preprocess.py", "jobs/evaluate.py", "jobs/train.py", "inference/serve.py"):
        assert copied in dockerfile and copied in names


def test_platform_tags_and_cache_key(tmp_path: Path) -> None:
    assert "manylinux_2_28_x86_64" in platform_tags("x86_64")
    assert "manylinux2014_aarch64" in platform_tags("arm64")
    lock = tmp_path / "lock"
    lock.write_text("a==1\n")
    first = wheelhouse_dir(tmp_path, lock, "x86_64")
    lock.write_text("a==2\n")
    assert wheelhouse_dir(tmp_path, lock, "x86_64") != first


def test_version_differences_are_named() -> None:
    assert version_differences({"numpy": "2.0"}, {"numpy": "2.0"}) == []
    assert version_differences({"numpy": "2.0"}, {"numpy": "1.26", "x": "1"}) == ["numpy: 2.0 vs 1.26", "x: None vs 1"]
