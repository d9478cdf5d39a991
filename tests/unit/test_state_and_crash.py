"""Corrupt state files are reported with the file and the fix; unexpected exceptions are reported
as bugs with the traceback in a file; the command shows the name it was invoked as."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from harness.crash import report_bug
from harness.emulator.registry import ModelRegistry
from harness.errors import BUG_EXIT_CODE, CorruptState
from harness.project.config import Settings
from harness.project.record import read_latest, write_record
from harness.statefiles import StateFile, corrupt, read_object

ROOT = Path(__file__).resolve().parents[2]
NO_DAEMON = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def _settings(tmp_path: Path) -> Settings:
    return Settings(project_root=ROOT, state_dir=tmp_path / "state")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"groups": {"g": {"packages": [', "not valid JSON: Expecting value at line 1 column 32"),
        ("[]", "a JSON list where an object belongs"),
        ('{"version": 1}', "missing groups"),
        ('{"groups": {"g": {"packages": 3}}}', "`groups` is not a map of groups with `packages` lists"),
    ],
)
def test_a_corrupt_registry_names_the_file_and_the_fix(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "registry.json"
    path.write_text(text)
    with pytest.raises(CorruptState) as caught:
        ModelRegistry(path).list_packages("g")
    assert caught.value.problem == f"the model registry {path} is corrupt or was edited by hand ({reason})"
    assert caught.value.fix.startswith(f"delete it (`rm {path}`) or run `sagemaker-harness doctor --fix`")
    assert caught.value.exit_code == 2


def test_a_truncated_run_record_names_the_file(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    write_record(settings, {"record_version": 1, "run_id": "r1", "status": "Succeeded", "code": {}})
    record = read_latest(settings)
    assert record is not None and record["run_id"] == "r1"
    latest = settings.state_dir / "runs" / "latest.json"
    latest.write_text(latest.read_text()[:20])
    with pytest.raises(CorruptState, match=r"the run record .*latest.json is corrupt .*not valid JSON"):
        read_latest(settings)
    latest.write_bytes(b"\xff\xfe")
    with pytest.raises(CorruptState, match=r"\(not UTF-8 text\)"):
        read_latest(settings)


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )


def test_doctor_reports_corrupt_state_and_fix_moves_it_aside(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "registry.json").write_text('{"groups": ')
    env = {**NO_DAEMON, "HARNESS_STATE_DIR": str(state)}
    found = run_cli("doctor", env=env)
    assert found.returncode == 1 and "Traceback" not in found.stderr
    assert f" failed  state files        {state / 'registry.json'}: not valid JSON" in found.stdout
    assert "fix: run `sagemaker-harness doctor --fix`" in found.stdout
    fixed = run_cli("doctor", "--fix", env=env)
    assert (
        "     ok  state files        moved corrupt files aside: registry.json -> registry.json.corrupt-" in fixed.stdout
    )
    assert not (state / "registry.json").exists()
    assert [p.read_text() for p in state.glob("registry.json.corrupt-*")] == ['{"groups": ']
    assert ModelRegistry(state / "registry.json").list_packages("g") == []  # a fresh registry from here on


def test_a_bug_is_one_line_plus_a_crash_file_under_the_state_folder(tmp_path: Path) -> None:
    try:
        json.loads('{"truncated": ')
    except json.JSONDecodeError as error:
        message, code = report_bug(error, tmp_path / "state", ["sagemaker-harness", "run-local"])
    assert code == BUG_EXIT_CODE == 70
    first, second = message.splitlines()
    assert first == "error: a bug in the harness: JSONDecodeError: Expecting value: line 1 column 15 (char 14)"
    path = Path(second.rsplit(" ", 1)[1])
    assert path.parent == tmp_path / "state" / "crash"
    text = path.read_text()
    assert "command: sagemaker-harness run-local" in text and "Traceback (most recent call last)" in text
    assert "json.loads('{\"truncated\": ')" in text


def test_without_a_usable_state_folder_the_crash_file_goes_to_temp(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state folder belongs")
    message, _ = report_bug(KeyError("ModelArtifacts"), blocker, ["harness", "promote"])
    assert message.startswith("error: a bug in the harness: KeyError: 'ModelArtifacts'\n")
    path = Path(message.rsplit(" ", 1)[1])
    assert path.is_file() and "sagemaker-harness-crash" in str(path) and "KeyError" in path.read_text()
    path.unlink()


@pytest.mark.parametrize("name", ["sagemaker-harness", "harness"])
def test_the_command_shows_the_name_it_was_invoked_as(tmp_path: Path, name: str) -> None:
    script = tmp_path / name  # what pip writes for a console script
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom harness.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.strip() == f"{name} 0.1.0"
    usage = subprocess.run([str(script), "doctor", "--bogus"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and usage.stderr.startswith(f"usage: {name} [-h]")
    assert f"\n{name}: error: unrecognized arguments: --bogus" in usage.stderr


def test_both_console_scripts_are_declared() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["sagemaker-harness"] == scripts["harness"] == "harness.cli:entry"


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        (
            "registry.json",
            '{"groups": {"g": {"packages": 3}}}',
            "`groups` is not a map of groups with `packages` lists",
        ),
        ("runs/latest.json", '{"run_id": "r1", "status": "Succeeded"}', "missing record_version, code"),
        ("runs/r0.json", '{"run_id": "r0", "status": "Failed", "code": {}}', "missing record_version"),
    ],
)
def test_doctor_calls_what_the_readers_call_corrupt_and_fix_ends_the_loop(
    tmp_path: Path, name: str, text: str, reason: str
) -> None:
    state = tmp_path / "state"
    path = state / name
    path.parent.mkdir(parents=True)
    path.write_text(text)
    env = {**NO_DAEMON, "HARNESS_STATE_DIR": str(state)}
    found = run_cli("doctor", env=env)
    assert f" failed  state files        {path}: {reason}" in found.stdout, found.stdout
    run_cli("doctor", "--fix", env=env)
    assert not path.exists() and len(list(path.parent.glob(f"{path.name}.corrupt-*"))) == 1
    settings = Settings(project_root=ROOT, state_dir=state)
    assert ModelRegistry(state / "registry.json").list_packages("g") == [] and read_latest(settings) is None
    assert " ok  state files        everything under" in run_cli("doctor", env=env).stdout


def test_a_folder_where_a_state_file_belongs_is_corrupt_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    path.mkdir()
    with pytest.raises(CorruptState, match=r"\(unreadable: Is a directory\)") as caught:
        ModelRegistry(path).list_packages("g")
    assert caught.value.exit_code == 2


def test_an_unreadable_state_file_is_corrupt_not_a_crash() -> None:
    # /proc/self/mem is a regular file whose read fails with EIO, as root too (chmod 000 does not stop root).
    with pytest.raises(CorruptState, match=r"\(unreadable: Input/output error\)"):
        read_object(StateFile(Path("/proc/self/mem"), "model registry"))
    assert corrupt(Path("/proc/self/mem")) == "unreadable: Input/output error"
    assert corrupt(Path("/nonexistent/registry.json")) == ""
