"""Helpers shared by the container tests (plain functions, not fixtures)."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import tarfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.emulator.inference_client import InferenceClient, wait_until_healthy
from harness.emulator.paths import FILE_CHANNEL, TrainingConfig, on_host, write_training_config
from harness.engine.docker import ContainerSpec, Engine, Mount, Scope
from harness.engine.egress import local_allowance

# Every scope of this test session is named after it, so the leftover check
# ignores containers that other harness users on the machine own.
SESSION = f"tests{uuid.uuid4().hex[:8]}"


def session_scope(engine: Engine) -> Scope:
    return Scope(engine, SESSION)


def training_root(folder: Path, fixtures_dir: Path, hyperparameters: str = '{"C": "0.5", "max_iter": "500"}') -> Path:
    """A host folder laid out as /opt/ml for a training job, with the seed's paths (emulator.paths writes it)."""
    channels = ("train", "validation")
    write_training_config(folder, TrainingConfig(json.loads(hyperparameters), dict.fromkeys(channels, FILE_CHANNEL)))
    for channel in channels:
        shutil.copy(fixtures_dir / "data" / channel / f"{channel}_data.csv", on_host(folder).channel_dir(channel))
    return folder


def training_spec(image: str, root: Path) -> ContainerSpec:
    return ContainerSpec(image=image, command=("train",), mounts=(Mount(root, "/opt/ml"),), network_disabled=True)


def extracted_model(trained: Path, into: Path) -> Path:
    """model.tar.gz extracted into a fresh folder, as SageMaker does before `serve`."""
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(trained / "model.tar.gz") as tar:
        tar.extractall(into, filter="data")
    return into


def start_server(
    scope: Scope, image: str, model_dir: Path, port: int = 8080, environment: dict[str, str] | None = None
) -> tuple[InferenceClient, float]:
    spec = ContainerSpec(
        image=image,
        command=("serve",),
        ports=(port,),
        environment=environment or {},
        mounts=(Mount(model_dir, "/opt/ml/model", read_only=True),),
    )
    container = scope.start(spec)
    client = InferenceClient(container.host_port(port))
    return client, wait_until_healthy(container, client, port=port)


def escaped(events: Iterable[Sequence[str]], engine: Engine) -> list[str]:
    """The audited connections and name lookups that went beyond loopback, Unix sockets and the Docker bridge."""
    bridge = list(local_allowance(engine).networks)
    return sorted({f"{kind} {target}" for kind, target in events if beyond_local(kind, target, bridge)})


def beyond_local(kind: str, target: str, bridge: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    if (kind == "connect" and target.startswith("/")) or target in ("localhost", "None", ""):
        return False  # a Unix socket (the Docker daemon), or a passive lookup
    try:
        address = ipaddress.ip_address(target)
    except ValueError:
        return True  # a host name other than localhost: a DNS query
    return not (address.is_loopback or any(address in network for network in bridge))


# Put first on PYTHONPATH of the harness (and, chained by the harness's own sitecustomize, of the
# command's Python): records every connection and name lookup of each process into its own file.
AUDIT_SITE = """
import atexit, json, os, sys
_events = []
def _hook(event, args):
    if event in ("socket.connect", "socket.sendto"):
        address = args[1]
        _events.append(["connect", address if isinstance(address, str) else str(address[0])])
    elif event == "socket.getaddrinfo":
        _events.append(["lookup", str(args[0])])
sys.addaudithook(_hook)
def _dump():
    with open(os.path.join(os.environ["AUDIT_DIR"], f"{os.getpid()}.json"), "w") as f:
        json.dump({"argv": sys.argv, "events": _events}, f)
atexit.register(_dump)
"""


def audited_environment(tmp_path: Path) -> dict[str, str]:
    """A user's shell: no AWS settings of tox's, an audit on every Python process, state in tmp_path."""
    site, audit = tmp_path / "audit-site", tmp_path / "audit"
    site.mkdir()
    audit.mkdir()
    (site / "sitecustomize.py").write_text(AUDIT_SITE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HARNESS_PROJECT_ROOT"))}
    return {**env, "PYTHONPATH": str(site), "AUDIT_DIR": str(audit), "HARNESS_STATE_DIR": str(tmp_path / "state")}


def escaped_by_process(tmp_path: Path, engine: Engine) -> dict[str, list[str]]:
    """Per audited process: what it reached beyond loopback, Unix sockets and the Docker bridge."""
    found: dict[str, list[str]] = {}
    for file in (tmp_path / "audit").glob("*.json"):
        record = json.loads(file.read_text())
        found[" ".join(record["argv"])[:80]] = escaped(record["events"], engine)
    return found


class UnusedStepApi:
    """The executor's step API (harness.emulator.executor.SageMakerApi) for tests: every call a test does not
    override fails it, saying the definition was not expected to reach it."""

    def run_step_job(self, step_type: str, job_name: str, request: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("no step of this definition runs a job")

    def stop_step_job(self, step_type: str, job_name: str) -> None:
        raise AssertionError("no job of this definition is stopped")

    def run_tuning(self, name: str, request: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("no step of this definition tunes")

    def create_model(self, ModelName: str, **request: Any) -> dict[str, Any]:
        raise AssertionError("no step of this definition creates a model")

    def create_model_package(self, **request: Any) -> dict[str, Any]:
        raise AssertionError("no step of this definition registers a model")

    def describe_model_package(self, ModelPackageName: str) -> dict[str, Any]:
        raise AssertionError("no step of this definition registers a model")

    def read_property_file(self, step_properties: Mapping[str, Any], property_file: Mapping[str, Any]) -> Any:
        raise AssertionError("no step of this definition reads a property file")

    def latest_approved_package(self, group: str) -> dict[str, Any] | None:
        raise AssertionError("no step of this definition looks a baseline up in the registry")

    def read_json(self, uri: str) -> Any:
        raise AssertionError("no step of this definition reads a check's report")
