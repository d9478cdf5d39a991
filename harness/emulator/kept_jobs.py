"""`--keep-on-failure`: a failed job's containers stay (exited, for `docker logs` and `docker cp`) and its
work folder (every host's `/opt/ml` as the job saw it: inputs, config, hyperparameters, outputs so far) moves
to `<keep folder>/<job>/`, with `kept.json` saying how each host's container was made (image, environment,
entrypoint, command, hostname, mounts relative to the kept folder). `harness debug` recreates a container from
it. Nothing of this exists in SageMaker, where a failed job's instance is gone.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.engine.docker import Container, Scope

KEPT_FILE = "kept.json"


def kept_folder(state_dir: Path) -> Path:
    return state_dir / "kept"


@dataclass(frozen=True)
class JobKeeper:
    folder: Path  # <state>/kept

    def keep(self, scope: Scope, kind: str, job: str, containers: Mapping[str, Container], work: Path) -> Path:
        """Keep the job's containers out of the scope's clean-up and move its work folder beside their spec."""
        if scope.closing:  # the run is ending (Ctrl-C, SIGTERM): its containers are being removed
            raise RuntimeError("the scope is closing")
        target = self.folder / job
        if target.exists():  # a retried attempt of the same job name: the last one is what a person debugs
            shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        hosts = {}
        for host, container in containers.items():
            scope.keep(container)
            hosts[host] = _spec(container.inspect(), work, target / "work")
        shutil.move(str(work), str(target / "work"))
        (target / KEPT_FILE).write_text(json.dumps({"job": job, "kind": kind, "hosts": hosts}, indent=2))
        return target


def _spec(inspected: Mapping[str, Any], work: Path, kept: Path) -> dict[str, Any]:
    """What `docker run` needs to make the same container again, with the work folder's mounts moved."""
    config, host_config = inspected.get("Config", {}), inspected.get("HostConfig", {})
    mounts = []
    for mount in inspected.get("Mounts", []):
        source = Path(str(mount.get("Source", "")))
        if source.is_relative_to(work):
            source = kept / source.relative_to(work)
        mounts.append({"source": str(source), "target": str(mount.get("Destination", "")),
                       "read_only": not mount.get("RW", True)})  # fmt: skip
    return {
        "container": str(inspected.get("Id", "")),
        "image": str(inspected.get("Image", "")),  # the image id: what ran, even if a tag moved since
        "image_name": str(config.get("Image", "")),
        "environment": list(config.get("Env") or []),
        "entrypoint": list(config.get("Entrypoint") or []),
        "command": list(config.get("Cmd") or []),
        "working_dir": str(config.get("WorkingDir") or ""),
        "hostname": str(config.get("Hostname") or ""),
        "network_disabled": bool(config.get("NetworkDisabled")) or host_config.get("NetworkMode") == "none",
        "exit_code": inspected.get("State", {}).get("ExitCode"),
        "mounts": mounts,
    }


def read_kept(folder: Path) -> dict[str, Any] | None:
    path = folder / KEPT_FILE
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None
