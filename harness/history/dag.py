"""A run's step graph, its layered left-to-right layout, and that layout drawn as inline SVG for the report.

The graph: which steps a step waits for, from the record's `depends_on` when it has them, otherwise from the
pipeline definition the service holds (DependsOn, `Steps.<Name>` references, a Condition before its branches).
The layout: a node's column is its longest path from a source; within a column, nodes are ordered by the
barycentre of their neighbours (a few sweeps), ties kept in definition order. A cycle does not hang the layout:
the edge closing it, the one to a later-defined step, is drawn but does not place nodes.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.emulator.expressions import references

CHAR_WIDTH = 7.4  # px per character of the node labels' font (13 px sans-serif, on average)
NODE_PADDING = 24.0
NODE_MIN_WIDTH = 96.0
NODE_HEIGHT = 44.0
COLUMN_GAP = 56.0
ROW_GAP = 22.0
MARGIN = 12.0
SWEEPS = 2  # each a forward and a backward pass; enough for pipelines of tens of steps

NOT_RUN = "NotRun"  # a step of the definition that the record does not have
# (fill, stroke) by step or run status.
STATUS_COLOURS: dict[str, tuple[str, str]] = {
    "Succeeded": ("#e6f4ea", "#1e8e3e"),
    "Failed": ("#fce8e6", "#d93025"),
    "Executing": ("#e8f0fe", "#1a73e8"),
    "Starting": ("#e8f0fe", "#1a73e8"),
    "Stopping": ("#fef7e0", "#e37400"),
    "Stopped": ("#fef7e0", "#e37400"),
    NOT_RUN: ("#f1f3f4", "#9aa0a6"),
}
UNKNOWN_COLOURS = ("#f1f3f4", "#5f6368")


@dataclass(frozen=True)
class DefinedStep:
    name: str
    type: str
    depends_on: tuple[str, ...]


@dataclass(frozen=True)
class Node:
    name: str
    layer: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Edge:
    source: str  # the step depended on
    target: str  # the step that waits for it
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Layout:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    width: float
    height: float


# --- the graph ---------------------------------------------------------------------------------------------


def defined_steps(definition: str | Mapping[str, Any] | None) -> list[DefinedStep]:
    """Every step of a pipeline definition (JSON text or parsed), Condition branches included, in written order."""
    if definition is None or definition == "":
        return []
    try:
        document = json.loads(definition) if isinstance(definition, str) else definition
    except ValueError:
        return []  # an unreadable definition: the report draws the steps the record has
    steps = document.get("Steps", []) if isinstance(document, Mapping) else []
    return _walk(steps, None)


def mapping(value: Any) -> Mapping[str, Any]:
    """The value if it is a JSON object, else an empty one: older or partial records lack fields."""
    return value if isinstance(value, Mapping) else {}


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _walk(steps: Iterable[Any], condition: str | None) -> list[DefinedStep]:
    found: list[DefinedStep] = []
    for step in steps:
        if not isinstance(step, Mapping) or not isinstance(step.get("Name"), str):
            continue
        arguments = mapping(step.get("Arguments"))
        branches = (
            [*arguments.get("IfSteps", []), *arguments.get("ElseSteps", [])] if step.get("Type") == "Condition" else []
        )
        # A Condition's own references, not those of the steps nested in its branches.
        own = {k: v for k, v in arguments.items() if k not in ("IfSteps", "ElseSteps")} if branches else arguments
        waits = {d for d in step.get("DependsOn", []) if isinstance(d, str)} | references(own)
        if condition is not None:
            waits.add(condition)
        waits.discard(step["Name"])
        found.append(DefinedStep(step["Name"], str(step.get("Type", "")), tuple(sorted(waits))))
        found += _walk(branches, step["Name"])
    return found


@dataclass(frozen=True)
class StepGraph:
    names: tuple[str, ...]  # the definition's steps in written order, then any only the record has
    depends_on: Mapping[str, tuple[str, ...]]
    defined: Mapping[str, DefinedStep]
    known: bool  # False when neither the record nor a definition says what waits for what


def step_graph(record: Mapping[str, Any]) -> StepGraph:
    """The graph of a run record: its steps, and those of its definition that never ran."""
    defined = {step.name: step for step in defined_steps(mapping(record.get("pipeline")).get("definition"))}
    ran = [s for s in _items(record.get("steps")) if isinstance(s, Mapping) and isinstance(s.get("name"), str)]
    names = _unique([*defined, *(s["name"] for s in ran)])
    depends_on = {name: step.depends_on for name, step in defined.items()}
    for step in ran:
        if isinstance(step.get("depends_on"), list):
            depends_on[step["name"]] = tuple(str(d) for d in step["depends_on"])
    known = bool(defined) or any(isinstance(s.get("depends_on"), list) for s in ran)
    return StepGraph(tuple(names), depends_on, defined, known)


# --- the layout --------------------------------------------------------------------------------------------


def layers(names: Sequence[str], depends_on: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """The columns, left to right, each ordered top to bottom."""
    known = _unique(names)
    acyclic = _acyclic(known, depends_on)
    layer_of = _longest_path(known, acyclic)
    columns: list[list[str]] = [[] for _ in range(max(layer_of.values(), default=-1) + 1)]
    for name in known:
        columns[layer_of[name]].append(name)
    return _order(columns, acyclic)


def layout(
    names: Sequence[str], depends_on: Mapping[str, Sequence[str]], label_chars: Mapping[str, int] | None = None
) -> Layout:
    """Positions for each node and a polyline for each edge (unknown steps ignored), in SVG pixels.

    `label_chars`: the longest label line of each node, in characters, when longer than its name.
    """
    columns = layers(names, depends_on)
    widths = {n: _node_width(max(len(n), (label_chars or {}).get(n, 0))) for column in columns for n in column}
    column_widths = [max(widths[n] for n in column) for column in columns]
    tallest = max((len(column) for column in columns), default=0)
    height = 2 * MARGIN + tallest * NODE_HEIGHT + max(tallest - 1, 0) * ROW_GAP
    nodes: dict[str, Node] = {}
    left = MARGIN
    for index, column in enumerate(columns):
        top = (height - len(column) * NODE_HEIGHT - (len(column) - 1) * ROW_GAP) / 2
        for row, name in enumerate(column):
            x = left + (column_widths[index] - widths[name]) / 2
            nodes[name] = Node(name, index, x, top + row * (NODE_HEIGHT + ROW_GAP), widths[name], NODE_HEIGHT)
        left += column_widths[index] + COLUMN_GAP
    width = left - COLUMN_GAP + MARGIN if columns else 2 * MARGIN
    edges = tuple(
        Edge(source, target, _route(nodes[source], nodes[target], height))
        for target, source in _known_edges(_unique(names), depends_on)
    )
    ordered = tuple(nodes[n] for n in _unique(names) if n in nodes)
    return Layout(ordered, edges, width, height + (MARGIN if _has_back_edge(edges, nodes) else 0))


def _node_width(chars: int) -> float:
    return max(NODE_MIN_WIDTH, chars * CHAR_WIDTH + NODE_PADDING)


def _unique(names: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _known_edges(known: Sequence[str], depends_on: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    """(target, source) pairs between known steps, in definition order; self-loops dropped."""
    present = set(known)
    pairs: list[tuple[str, str]] = []
    for target in known:
        for source in _unique(list(depends_on.get(target, ()))):
            if source in present and source != target:
                pairs.append((target, source))
    return pairs


def _acyclic(known: Sequence[str], depends_on: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """The dependencies without the edges that would close a cycle.

    Definition order decides: an edge to an earlier step never closes one among its kind, so those are all kept;
    each edge to a later step is then kept unless the step it starts from already (transitively) waits for it.
    """
    rank = {name: index for index, name in enumerate(known)}
    pairs = _known_edges(known, depends_on)
    kept: dict[str, list[str]] = {n: [] for n in known}
    for target, source in pairs:
        if rank[source] < rank[target]:
            kept[target].append(source)
    for target, source in pairs:
        if rank[source] > rank[target] and not _waits_for(source, target, kept):
            kept[target].append(source)
    return kept


def _waits_for(start: str, goal: str, depends_on: Mapping[str, Sequence[str]]) -> bool:
    seen: set[str] = set()
    pending = [start]
    while pending:
        name = pending.pop()
        if name == goal:
            return True
        if name not in seen:
            seen.add(name)
            pending += depends_on.get(name, ())
    return False


def _longest_path(known: Sequence[str], acyclic: Mapping[str, Sequence[str]]) -> dict[str, int]:
    layer_of: dict[str, int] = {}
    remaining = list(known)
    placed = True
    while remaining and placed:  # the graph has no cycle left, so each pass places at least one node
        placed = False
        for name in list(remaining):
            if all(s in layer_of for s in acyclic[name]):
                layer_of[name] = 1 + max((layer_of[s] for s in acyclic[name]), default=-1)
                remaining.remove(name)
                placed = True
    return layer_of | dict.fromkeys(remaining, 0)


def _order(columns: list[list[str]], acyclic: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Barycentre sweeps: forward by predecessors, backward by successors; stable for equal keys."""
    successors: dict[str, list[str]] = {n: [] for column in columns for n in column}
    for target, sources in acyclic.items():
        for source in sources:
            successors[source].append(target)
    # Centred row positions, so columns of different heights compare.
    position = {n: row - (len(c) - 1) / 2 for c in columns for row, n in enumerate(c)}
    for _ in range(SWEEPS):
        forward = [(i, acyclic) for i in range(1, len(columns))]
        backward = [(i, successors) for i in range(len(columns) - 2, -1, -1)]
        for index, neighbours in forward + backward:
            columns[index] = _by_barycentre(columns[index], neighbours, position)
            position.update((n, row - (len(columns[index]) - 1) / 2) for row, n in enumerate(columns[index]))
    return columns


def _by_barycentre(
    column: list[str], neighbours: Mapping[str, Sequence[str]], position: Mapping[str, float]
) -> list[str]:
    def key(name: str) -> float:  # a node without neighbours keeps its place
        linked = [position[n] for n in neighbours.get(name, ())]
        return sum(linked) / len(linked) if linked else position[name]

    return sorted(column, key=key)


def _route(source: Node, target: Node, height: float) -> tuple[tuple[float, float], ...]:
    """An elbow from the source's right side to the target's left side; a back edge goes around below."""
    start = (source.x + source.width, source.y + source.height / 2)
    end = (target.x, target.y + target.height / 2)
    if target.layer > source.layer:
        bend = target.x - COLUMN_GAP / 2
        return (start, (bend, start[1]), (bend, end[1]), end)
    below = height + MARGIN / 2
    out, back = start[0] + MARGIN * 0.75, end[0] - MARGIN * 0.75  # within the margins, so inside the drawing
    return (start, (out, start[1]), (out, below), (back, below), (back, end[1]), end)


def _has_back_edge(edges: Sequence[Edge], nodes: Mapping[str, Node]) -> bool:
    return any(nodes[e.target].layer <= nodes[e.source].layer for e in edges)


# --- the drawing -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Look:
    status: str
    label: str  # the node's second line
    href: str  # where a click on the node goes
    cached: bool


def svg(drawn: Layout, looks: Mapping[str, Look]) -> str:
    """The layout as an inline SVG element: each node a `g.step` with its status, edges as arrowed paths."""
    edges = "".join(
        f'<path class="edge" data-from="{_e(e.source)}" data-to="{_e(e.target)}" marker-end="url(#arrow)" '
        f'd="M{" L".join(f"{x:.1f} {y:.1f}" for x, y in e.points)}"/>'
        for e in drawn.edges
    )
    nodes = "".join(_node(n, looks.get(n.name, Look(NOT_RUN, "", "", False))) for n in drawn.nodes)
    marker = (
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto"><path d="M0 0 L10 5 L0 10 z" fill="#9aa0a6"/></marker></defs>'
    )
    size = f'width="{drawn.width:.0f}" height="{drawn.height:.0f}" viewBox="0 0 {drawn.width:.0f} {drawn.height:.0f}"'
    return (
        f'<svg class="dag" xmlns="http://www.w3.org/2000/svg" {size} role="img" aria-label="the pipeline steps">'
        f"{marker}{edges}{nodes}</svg>"
    )


def _node(node: Node, look: Look) -> str:
    fill, stroke = STATUS_COLOURS.get(look.status, UNKNOWN_COLOURS)
    middle = node.x + node.width / 2
    cached = ' data-cached="true"' if look.cached else ""
    return (
        f'<g class="step" data-step="{_e(node.name)}" data-status="{_e(look.status)}"{cached}>'
        f'<a href="{_e(look.href)}"><title>{_e(node.name)}: {_e(look.status)}</title>'
        f'<rect x="{node.x:.1f}" y="{node.y:.1f}" width="{node.width:.1f}" height="{node.height:.1f}" rx="6" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="1.6"/>'
        f'<text x="{middle:.1f}" y="{node.y + 18:.1f}" text-anchor="middle">{_e(node.name)}</text>'
        f'<text class="sub" x="{middle:.1f}" y="{node.y + 34:.1f}" text-anchor="middle">{_e(look.label)}</text>'
        "</a></g>"
    )


def _e(text: str) -> str:
    return html.escape(text)
