"""The gate: promotion goes ahead only for exactly what the latest local run verified."""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from harness.engine.docker import Engine
from harness.errors import UserError
from harness.history.store import RECORD_VERSION
from harness.project.config import Settings
from harness.project.record import code_hashes, sha256_text
from harness.promote.definitions import build_definition, differences


class PromotionRefused(UserError):
    """What changed since the verified run; promotion stops before any AWS call that mutates."""


@dataclass(frozen=True)
class Verified:
    record: dict[str, Any]
    definition: str  # the verified local definition

    @property
    def run_id(self) -> str:
        return str(self.record["run_id"])

    @property
    def images(self) -> dict[str, dict[str, str]]:
        return dict(self.record["images"])


def verify(settings: Settings, engine: Engine, record: dict[str, Any] | None, module: ModuleType) -> Verified:
    if record is None:
        raise PromotionRefused("no local run has been recorded", fix="run the pipeline first: tox -e local-pipeline")
    if record.get("record_version") != RECORD_VERSION:
        raise PromotionRefused(
            f"the run record of {record.get('run_id')} was written by another harness version",
            fix="run the pipeline again: tox -e local-pipeline",
        )
    if record.get("status") != "Succeeded":
        reason = (record.get("execution") or {}).get("failure_reason", "")
        raise PromotionRefused(
            f"the latest local run {record['run_id']} did not succeed ({record.get('status')}"
            + (f": {reason}" if reason else "")
            + ")",
            fix="fix the failure and run the pipeline again: tox -e local-pipeline",
        )
    problems = _code_changes(settings, record) + _image_changes(engine, record) + _definition_changes(record, module)
    if problems:
        raise PromotionRefused(
            f"what would be promoted differs from what run {record['run_id']} verified",
            fix="run the pipeline again to verify the current state: tox -e local-pipeline",
            details="\n".join(problems),
        )
    return Verified(record, record["pipeline"]["definition"])


def _code_changes(settings: Settings, record: dict[str, Any]) -> list[str]:
    now, then = code_hashes(settings), record.get("code", {})
    return [
        f"job code changed: {path} ({'added' if path not in then else 'removed' if path not in now else 'edited'})"
        for path in sorted(set(now) | set(then))
        if now.get(path) != then.get(path)
    ]


def _image_changes(engine: Engine, record: dict[str, Any]) -> list[str]:
    problems = []
    for image_field, entry in sorted(record.get("images", {}).items()):
        info = engine.image(entry["tag"])
        if info is None:
            problems.append(f"image {entry['tag']} ({image_field}) no longer exists locally")
        elif info.id != entry["id"]:
            problems.append(
                f"image {entry['tag']} ({image_field}) has other content: {info.id[:19]}, "
                f"the run verified {entry['id'][:19]}"
            )
    return problems


def _definition_changes(record: dict[str, Any], module: ModuleType) -> list[str]:
    pipeline = record["pipeline"]
    images = {kind: entry["tag"] for kind, entry in record["images"].items()}
    current = build_definition(module, pipeline["name"], record["bucket"], images, record["role"])
    if sha256_text(current) == pipeline["definition_sha256"]:
        return []
    changed = differences(json.loads(pipeline["definition"]), json.loads(current))
    return ["pipeline definition edited since the run: " + line for line in changed] or [
        "pipeline definition edited since the run (same JSON, other text)"
    ]
