"""`harness promote`: gate, plan, and (with --yes) carry out."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from harness.engine.docker import Engine
from harness.project.config import Settings
from harness.project.record import read_latest
from harness.project.run_local import load_pipeline_module
from harness.promote import cloud_deploy, execute
from harness.promote.aws import AwsClients
from harness.promote.gate import verify
from harness.promote.plan import Plan, make_plan, render
from harness.promote.settings import PromoteSettings


@dataclass(frozen=True)
class PromoteOptions:
    yes: bool = False
    start: bool = False
    wait: bool = False
    wait_timeout_s: float = 7200.0
    deploy: bool = False
    monitor: bool = False


def promote(
    settings: Settings,
    promote_settings: PromoteSettings,
    engine: Engine,
    options: PromoteOptions,
    on_line: Callable[[str], None],
) -> dict[str, Any]:
    module = load_pipeline_module(settings)
    verified = verify(settings, engine, read_latest(settings), module)
    clients = AwsClients.create(promote_settings.region)
    plan = make_plan(
        settings, promote_settings, verified, module, clients, options.start, options.deploy, options.monitor
    )
    on_line(render(plan))
    if not options.yes:
        on_line("\nDry run: nothing was changed. Re-run with --yes to carry out this plan.")
        return {"dry_run": True, "definition_sha256": plan.definition_sha256}
    on_line("")
    result = _carry_out(plan, promote_settings, clients, engine, module, options, on_line)
    _record(settings, plan, result)
    return result


def _carry_out(
    plan: Plan,
    promote_settings: PromoteSettings,
    clients: AwsClients,
    engine: Engine,
    module: Any,
    options: PromoteOptions,
    on_line: Callable[[str], None],
) -> dict[str, Any]:
    execute.require_bucket(promote_settings, clients)
    execute.ensure_repositories(plan, clients, on_line)
    digests = execute.push_images(plan, promote_settings, clients, engine, on_line)
    execute.upload_inputs(tuple(u for u in plan.uploads if not u.by_sdk), clients, on_line)
    result: dict[str, Any] = {
        "dry_run": False,
        "digests": digests,
        "definition_sha256": plan.definition_sha256,
        "pipeline_arn": execute.upsert_pipeline(plan, promote_settings, clients, module, on_line),
    }
    if options.start:
        result["execution_arn"] = execute.start_execution(promote_settings, clients, on_line)
        if options.wait:
            result["execution_status"] = execute.wait_for_execution(
                result["execution_arn"], clients, options.wait_timeout_s, on_line
            )
    if options.deploy:
        result["deployment"] = cloud_deploy.deploy(promote_settings, clients, options.monitor, on_line)
    return result


def _record(settings: Settings, plan: Plan, result: dict[str, Any]) -> None:
    """What was promoted, from which run (no credentials: none pass through here)."""
    folder = settings.state_dir / "promotions"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    entry = {
        "run_id": plan.run_id,
        "account": plan.account,
        "pipeline": plan.pipeline_name,
        "images": {p.field: {"id": p.image_id, "uri": p.uri} for p in plan.pushes},
        **result,
    }
    (folder / f"{stamp}.json").write_text(json.dumps(entry, indent=2, default=str))
