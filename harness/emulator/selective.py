"""Selective execution (`SelectiveExecutionConfig`): run only the selected steps of a pipeline, reusing a reference
execution's outputs for the steps they depend on.

From AWS's documentation (pipelines-selective-ex, API_SelectiveExecutionConfig): the selected steps must be
connected, every step on a path between two selected steps selected too; the reference execution (of the same
pipeline, Succeeded or Failed) supplies the properties of the unselected steps the selected ones depend on, and
those show its ARN as their `SelectiveExecutionResult`; unselected steps downstream of the selected ones do not run.
Here, unselected steps that no selected step depends on do not run either (they would only repeat the reference's
results).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from harness.emulator.awserrors import validation_error
from harness.emulator.scheduler import dependencies

OPERATION = "StartPipelineExecution"


class ReferenceRun(Protocol):
    arn: str
    status: str

    def succeeded_properties(self) -> dict[str, dict[str, Any]]: ...


@dataclass(frozen=True)
class SelectivePlan:
    selected: frozenset[str]
    reused: frozenset[str]  # the unselected steps the selected ones depend on: the reference's properties stand
    source_arn: str
    source_properties: Mapping[str, Mapping[str, Any]]
    config: Mapping[str, Any]  # as the request gave it, for DescribePipelineExecution

    def part(self, step: str) -> str:
        """ "run", "reuse" or "skip"."""
        return "run" if step in self.selected else "reuse" if step in self.reused else "skip"


def plan(
    config: Mapping[str, Any], steps: Sequence[Mapping[str, Any]], pipeline: str, reference: ReferenceRun | None
) -> SelectivePlan:
    """Check the configuration against the definition's steps (all of them, branches included) and the reference."""
    selected = [str(s.get("StepName", "")) for s in config.get("SelectedSteps") or []]
    names = {str(s["Name"]) for s in steps}
    unknown = sorted(set(selected) - names)
    if not selected or unknown:
        raise validation_error(
            OPERATION, f"SelectedSteps {unknown or '[]'} do not name steps of pipeline {pipeline}: {sorted(names)}"
        )
    upstream = _graph(steps)
    ancestors = {name: _closure(name, upstream) for name in names}
    chosen = set(selected)
    between = sorted(
        name for name in names - chosen
        if ancestors[name] & chosen and any(name in ancestors[other] for other in chosen)
    )  # fmt: skip
    if between:
        raise validation_error(
            OPERATION, f"SelectedSteps must include every step between two selected steps; also select {between}"
        )
    needed = set().union(*(ancestors[name] for name in chosen)) - chosen
    source_arn = str(config.get("SourcePipelineExecutionArn") or "")
    if needed and reference is None:
        raise validation_error(
            OPERATION, f"the selected steps depend on {sorted(needed)}: give SourcePipelineExecutionArn, a "
            "Succeeded or Failed execution of this pipeline whose outputs they reuse",
        )  # fmt: skip
    if reference is not None:
        if reference.status not in ("Succeeded", "Failed"):
            raise validation_error(
                OPERATION, f"the reference execution {reference.arn} is {reference.status}: it must be Succeeded or "
                "Failed",
            )  # fmt: skip
        missing = sorted(needed - set(reference.succeeded_properties()))
        if missing:
            raise validation_error(
                OPERATION, f"the reference execution {reference.arn} has no successful run of {missing}, which the "
                "selected steps depend on",
            )  # fmt: skip
    return SelectivePlan(frozenset(chosen), frozenset(needed), source_arn,
                         reference.succeeded_properties() if reference else {}, dict(config))  # fmt: skip


def _graph(steps: Sequence[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Each step's direct dependencies, a Condition's branch steps depending on the Condition."""
    graph: dict[str, set[str]] = {str(s["Name"]): set(dependencies(dict(s))) for s in steps}
    for step in steps:
        if step.get("Type") == "Condition":
            arguments = step.get("Arguments", {})
            for branch_step in [*arguments.get("IfSteps", []), *arguments.get("ElseSteps", [])]:
                graph[str(branch_step["Name"])].add(str(step["Name"]))
    return graph


def _closure(name: str, graph: Mapping[str, set[str]]) -> set[str]:
    found: set[str] = set()
    pending = list(graph.get(name, ()))
    while pending:
        current = pending.pop()
        if current not in found:
            found.add(current)
            pending += graph.get(current, ())
    return found
