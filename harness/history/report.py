"""A run record as one self-contained HTML page: the step graph, parameters, metrics against the previous run,
each step's detail and log, the endpoint checks and the egress guard's verdict.

Nothing is fetched: the CSS and the small script are inline, and a Content-Security-Policy allows only those
two (by hash), so the page reads the same from `file://`, offline, and nothing a record or a log holds can
run in it. Every value taken from the record is HTML-escaped. Older records lack most fields: each section
renders what exists.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from harness.history.dag import NOT_RUN, STATUS_COLOURS, Look, StepGraph, layout, mapping, step_graph, svg

SHORT_SHA = 12
REPORT_LOG_LINES = 500  # a step's last lines shown in the page; `harness logs` prints the whole log

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#202124;margin:0 auto;
max-width:1200px;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #dadce0}
h3{font-size:16px;margin:0 0 6px}h4{font-size:14px;margin:12px 0 4px}
nav a{margin-right:14px}a{color:#1a73e8}code,pre{font:12px/1.4 ui-monospace,Menlo,Consolas,monospace}
.badge{display:inline-block;padding:1px 10px;border:1px solid #5f6368;border-radius:10px;font-size:13px;
background:#f1f3f4;color:#5f6368;vertical-align:middle}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:6px 0}
dl.facts dt{color:#5f6368}dl.facts dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;margin:4px 0}th,td{border:1px solid #dadce0;padding:3px 8px;text-align:left;
vertical-align:top;overflow-wrap:anywhere}th{background:#f8f9fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.up{color:#1e8e3e}.down{color:#d93025}.new{color:#1a73e8}
pre.failure-reason{background:#fce8e6;border-left:4px solid #d93025;padding:8px;white-space:pre-wrap}
.graph{overflow:auto;border:1px solid #dadce0;border-radius:6px;padding:4px}
svg.dag text{font:13px system-ui,sans-serif;fill:#202124}svg.dag text.sub{font-size:11px;fill:#5f6368}
svg.dag .edge{fill:none;stroke:#9aa0a6;stroke-width:1.4}svg.dag g.step a:hover rect{stroke-width:3}
section.step-detail{border:1px solid #dadce0;border-left:6px solid #9aa0a6;border-radius:6px;padding:10px 14px;
margin:12px 0}
details>summary{cursor:pointer;color:#1a73e8}details pre{background:#f8f9fa;padding:8px;overflow:auto;max-height:36em}
.log-tools{margin:6px 0}.log-count{margin-left:10px;color:#5f6368}
.ln{display:block;white-space:pre-wrap}.ln[hidden]{display:none}
.ln::before{content:attr(data-n);display:inline-block;min-width:3.5em;margin-right:1em;text-align:right;
color:#9aa0a6;user-select:none}
.muted{color:#5f6368}
"""
_SCRIPT = """
document.querySelectorAll('details.log').forEach(function (box) {
  var input = box.querySelector('input.log-search');
  var count = box.querySelector('.log-count');
  var lines = box.querySelectorAll('.ln');
  if (!input) { return; }
  input.addEventListener('input', function () {
    var query = input.value.toLowerCase();
    var shown = 0;
    lines.forEach(function (line) {
      var hit = !query || line.textContent.toLowerCase().indexOf(query) !== -1;
      line.hidden = !hit;
      if (hit) { shown += 1; }
    });
    count.textContent = query ? shown + ' of ' + lines.length + ' lines match' : lines.length + ' lines';
  });
});
"""


def render_report(record: Mapping[str, Any], previous: Mapping[str, Any] | None, logs: Mapping[str, str]) -> str:
    """The whole page. `logs`: each step's log text, by step name (or by the record's `log.path`)."""
    graph = step_graph(record)
    ran = {s["name"]: s for s in _objects(record.get("steps")) if isinstance(s.get("name"), str)}
    body = "".join(
        [
            _header(record),
            _graph(graph, ran),
            _parameters(record),
            _metrics(record, previous or {}),
            _step_details(graph, ran, logs),
            _endpoint(record),
            _egress(record),
        ]
    )
    return _page(f"Run {_text(record.get('run_id', ''))}", body)


# --- page and small formatters -----------------------------------------------------------------------------


def _page(title: str, body: str) -> str:
    css = _CSS + "".join(
        f'.badge[data-status="{s}"]{{background:{fill};color:{stroke};border-color:{stroke}}}'
        f'section.step-detail[data-status="{s}"]{{border-left-color:{stroke}}}'
        for s, (fill, stroke) in STATUS_COLOURS.items()
    )
    policy = f"default-src 'none'; style-src '{_hash(css)}'; script-src '{_hash(_SCRIPT)}'"
    nav = "".join(f'<a href="#{a}">{t}</a>' for a, t in _SECTIONS)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{css}</style></head>\n"
        f"<body><nav>{nav}</nav>\n{body}<script>{_SCRIPT}</script></body></html>\n"
    )


_SECTIONS = [(a.lower(), a) for a in ("Graph", "Parameters", "Metrics", "Steps", "Endpoint", "Egress")]


def _hash(source: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()


def _e(value: Any) -> str:
    return html.escape(_text(value))


def _text(value: Any) -> str:
    return (
        ""
        if value is None
        else value
        if isinstance(value, str)
        else json.dumps(value)
        if isinstance(value, bool)
        else str(value)
    )


def _objects(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _facts(rows: Iterable[tuple[str, Any]]) -> str:
    """A definition list of the rows that have a value (older records lack many)."""
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{v}</dd>" for k, v in rows if v not in (None, ""))
    return f'<dl class="facts">{items}</dl>' if items else ""


# A table cell: HTML (escaped by whoever built it), or HTML and the cell's class.
Cell = str | tuple[str, str]


def _table(head: Sequence[str], rows: Iterable[Sequence[Cell]], css_class: str = "") -> str:
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f'<table class="{css_class}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


def _cell(cell: Cell) -> str:
    return f'<td class="{cell[1]}">{cell[0]}</td>' if isinstance(cell, tuple) else f"<td>{cell}</td>"


def _code(value: Any) -> str:
    return f"<code>{_e(value)}</code>" if value not in (None, "") else ""


def _badge(status: str) -> str:
    return f'<span class="badge" data-status="{_e(status)}">{_e(status)}</span>'


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return ""
    if seconds < 60:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _when(value: Any) -> str:
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except ValueError:
        return _text(value) if value else ""


def _number(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else _text(value)


def _size(count: Any) -> str:
    if not isinstance(count, int | float) or isinstance(count, bool):
        return ""
    amount = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(amount) < 1000:
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    return f"{amount:.1f} TB"


def _sha(digest: Any) -> str:
    text = _text(digest)
    shown = text.removeprefix("sha256:")[:SHORT_SHA]
    return f'<code title="{html.escape(text)}">{html.escape(shown)}</code>' if text else ""


def anchor(name: str) -> str:
    """The step section's id: ASCII letters, digits, - and _ kept, anything else as .<hex>. (so, one-to-one)."""
    return "step-" + "".join(c if c.isascii() and (c.isalnum() or c in "-_") else f".{ord(c):x}." for c in name)


# --- sections ----------------------------------------------------------------------------------------------


def _header(record: Mapping[str, Any]) -> str:
    pipeline, execution = mapping(record.get("pipeline")), mapping(record.get("execution"))
    status = _text(record.get("status") or execution.get("status") or "Unknown")
    facts = _facts(
        [
            ("Pipeline", _e(pipeline.get("name", ""))),
            ("Started", _e(_when(record.get("started")))),
            ("Duration", _e(_duration(record.get("seconds")))),
            ("Kind", _e(record.get("kind", ""))),
            ("Execution", _code(execution.get("arn"))),
            ("Images", _images(record)),
        ]
    )
    reason = execution.get("failure_reason")
    failure = f'<pre class="failure-reason">{_e(reason)}</pre>' if reason else ""
    return f"<header><h1>Run {_e(record.get('run_id', ''))} {_badge(status)}</h1>{facts}{failure}</header>\n"


def _images(record: Mapping[str, Any]) -> str:
    images = [(field, mapping(i)) for field, i in mapping(record.get("images")).items()]
    rows = [(_e(f), _code(i.get("tag")), _sha(i.get("id")), "stand-in" if i.get("stand_in") else "") for f, i in images]
    return _table(["field", "tag", "id", ""], rows) if rows else ""


def _graph(graph: StepGraph, ran: Mapping[str, Mapping[str, Any]]) -> str:
    looks = {
        name: Look(
            _status(name, ran),
            _node_label(name, graph, ran),
            f"#{anchor(name)}",
            bool(ran.get(name, {}).get("cache_hit")),
        )
        for name in graph.names
    }
    drawn = layout(graph.names, graph.depends_on, {n: len(look.label) for n, look in looks.items()})
    note = "" if graph.known else '<p class="muted">This record holds no dependencies: the steps are drawn apart.</p>'
    return f'<h2 id="graph">Graph</h2>{note}<div class="graph">{svg(drawn, looks)}</div>\n'


def _status(name: str, ran: Mapping[str, Mapping[str, Any]]) -> str:
    return _text(ran[name].get("status") or "Unknown") if name in ran else NOT_RUN


def _step_type(name: str, graph: StepGraph, ran: Mapping[str, Mapping[str, Any]]) -> str:
    if name in ran and ran[name].get("type"):
        return _text(ran[name]["type"])
    return graph.defined[name].type if name in graph.defined else ""


def _node_label(name: str, graph: StepGraph, ran: Mapping[str, Mapping[str, Any]]) -> str:
    step = ran.get(name, {})
    parts = [_step_type(name, graph, ran), _duration(step.get("seconds")) if step else "not run"]
    return " · ".join(p for p in [*parts, "cached" if step.get("cache_hit") else ""] if p)


def _parameters(record: Mapping[str, Any]) -> str:
    parameters = mapping(mapping(record.get("pipeline")).get("parameters"))
    rows = [(_code(k), _e(v)) for k, v in parameters.items()]
    table = _table(["name", "value"], rows, "parameters") if rows else '<p class="muted">No parameters.</p>'
    return f'<h2 id="parameters">Parameters</h2>{table}\n'


def _metric_values(record: Mapping[str, Any]) -> dict[tuple[str, str, str], Any]:
    """(step, source, metric) -> value, for every metric every step of the record reported."""
    found: dict[tuple[str, str, str], Any] = {}
    for step in _objects(record.get("steps")):
        for source, values in mapping(step.get("metrics")).items():
            for metric, value in mapping(values).items():
                found[(_text(step.get("name", "")), source, metric)] = value
    return found


def _metrics(record: Mapping[str, Any], previous: Mapping[str, Any]) -> str:
    before = _metric_values(previous)
    rows = [
        (_e(step), _e(source), _code(metric), *_compared(value, before.get((step, source, metric))))
        for (step, source, metric), value in _metric_values(record).items()
    ]
    against = f" (against run {_e(previous['run_id'])})" if previous.get("run_id") else ""
    head = ["step", "source", "metric", "value", "previous", "change"]
    table = _table(head, rows, "metrics") if rows else '<p class="muted">No step reported metrics.</p>'
    return f'<h2 id="metrics">Metrics{against}</h2>{table}\n'


def _compared(value: Any, before: Any) -> tuple[Cell, Cell, Cell]:
    """The value, the previous run's and the change, as table cells."""
    shown = (_e(_number(value)), "num value")
    if before is None:
        return shown, "", ("new", "change new")
    earlier = (_e(_number(before)), "num previous")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (value, before)):
        return shown, earlier, ("=" if value == before else "changed", "change")
    delta = value - before
    if delta == 0:
        return shown, earlier, ("= 0", "num change")
    arrow, css = ("▲", "up") if delta > 0 else ("▼", "down")
    return shown, earlier, (f"{arrow} {delta:+.4g}", f"num change {css}")


def _step_details(graph: StepGraph, ran: Mapping[str, Mapping[str, Any]], logs: Mapping[str, str]) -> str:
    sections = "".join(_step_detail(name, graph, ran, logs) for name in graph.names)
    return f'<h2 id="steps">Steps</h2>{sections or "<p class=muted>No steps.</p>"}\n'


def _step_detail(name: str, graph: StepGraph, ran: Mapping[str, Mapping[str, Any]], logs: Mapping[str, str]) -> str:
    status, step = _status(name, ran), ran.get(name, {})
    job = mapping(step.get("job"))
    kept = mapping(step.get("kept"))
    facts = _facts(
        [
            ("Type", _e(_step_type(name, graph, ran))),
            ("Duration", _e(_duration(step.get("seconds")))),
            ("Attempts", _e(step.get("attempts", ""))),
            ("Retried after", "<br>".join(_e(r) for r in step.get("retried_after", []) or [])),
            ("Cache hit from", _code(step.get("cache_hit"))),
            ("Waits for", _e(", ".join(graph.depends_on.get(name, ())))),
            ("Job", _code(job.get("name"))),
            ("Image", _code(job.get("image"))),
            ("Image id", _sha(job.get("image_id", ""))),
            ("Exit codes", _e(", ".join(_text(c) for c in job.get("exit_codes", []) or []))),
            ("Kept container", _code(kept.get("container"))),
            ("Kept folder", _code(kept.get("folder"))),
        ]
    )
    never = "" if step else '<p class="muted">Not run: an earlier step failed or its branch was not taken.</p>'
    reason = step.get("failure_reason")
    failure = f'<pre class="failure-reason">{_e(reason)}</pre>' if reason else ""
    metadata = _e(json.dumps(step["metadata"], indent=2)) if step.get("metadata") else ""
    details = (
        f'<details class="metadata"><summary>Metadata</summary><pre>{metadata}</pre></details>' if metadata else ""
    )
    return (
        f'<section class="step-detail" id="{anchor(name)}" data-step="{_e(name)}" data-status="{_e(status)}">'
        f"<h3>{_e(name)} {_badge(status)}</h3>{never}{facts}{failure}{_inputs(job)}{_outputs(job)}{details}"
        f"{_log(name, step, logs, status == 'Failed')}</section>\n"
    )


def _inputs(job: Mapping[str, Any]) -> str:
    rows = [(_e(i.get("name", "")), _code(i.get("uri"))) for i in _objects(job.get("inputs"))]
    return f"<h4>Inputs</h4>{_table(['name', 'S3 URI'], rows, 'inputs')}" if rows else ""


def _outputs(job: Mapping[str, Any]) -> str:
    rows: list[tuple[str, ...]] = []
    for output in _objects(job.get("outputs")):
        objects = _objects(output.get("objects")) or [{}]
        for item in objects:
            object_cells = (_code(item.get("key")), _e(_size(item.get("bytes"))))
            rows.append(
                (
                    _e(output.get("name", "")),
                    _code(output.get("uri")),
                    *object_cells,
                    _sha(item.get("sha256", "")),
                )
            )
    if not rows:  # older records: the artifacts' keys and digests only
        for output_name, keys in mapping(job.get("artifacts")).items():
            rows += [(_e(output_name), "", _code(k), "", _sha(d)) for k, d in mapping(keys).items()]
    head = ["output", "URI", "object", "size", "sha256"]
    return f"<h4>Outputs</h4>{_table(head, rows, 'outputs')}" if rows else ""


def _log(name: str, step: Mapping[str, Any], logs: Mapping[str, str], failed: bool) -> str:
    where = mapping(step.get("log"))
    text = logs.get(name)
    if text is None and where.get("path"):
        text = logs.get(_text(where["path"]))
    if text is None:
        return f'<p class="muted">Log {_e(where["path"])} not found.</p>' if where.get("path") else ""
    lines = text.splitlines()
    counted = f"{len(lines)} line{'' if len(lines) == 1 else 's'}"
    # The last lines, where a failure says why: a page of whole logs of long jobs would not be light.
    first = max(0, len(lines) - REPORT_LOG_LINES)
    numbered = "".join(f'<span class="ln" data-n="{n}">{html.escape(line)}</span>'
                       for n, line in enumerate(lines[first:], first + 1))  # fmt: skip
    cut = (f'<p class="muted">The first {first} lines are left out here: '
           f"<code>harness logs RUN {_e(name)}</code> prints them all.</p>") if first else ""  # fmt: skip
    place = f" <code>{_e(where['path'])}</code>" if where.get("path") else ""
    shown = f"{len(lines) - first} lines" if first else counted
    return (
        f'<details class="log"{" open" if failed else ""}><summary>Log ({counted}){place}</summary>'
        '<div class="log-tools"><input type="search" class="log-search" placeholder="filter lines" '
        f'aria-label="filter the log lines of {_e(name)}"><span class="log-count">{shown}</span></div>'
        f'{cut}<pre class="log-text">{numbered}</pre></details>'
    )


def _endpoint(record: Mapping[str, Any]) -> str:
    endpoint = mapping(record.get("endpoint"))
    if not endpoint:
        return '<h2 id="endpoint">Endpoint</h2><p class="muted">No endpoint was checked in this run.</p>\n'
    facts = _facts(
        [
            ("Endpoint", _e(endpoint.get("name", ""))),
            ("Model package", _code(endpoint.get("package_arn"))),
            ("Package version", _e(endpoint.get("package_version", ""))),
            ("First prediction after", _e(_duration(endpoint.get("seconds_to_first_prediction")))),
            ("Predictions checked", _e(endpoint.get("predictions_checked", ""))),
            ("Capture", _code(endpoint.get("capture_uri"))),
            ("Captured records", _e(endpoint.get("captured_records", ""))),
        ]
    )
    return f'<h2 id="endpoint">Endpoint</h2>{facts}{_monitoring(mapping(endpoint.get("monitoring")))}\n'


def _monitoring(monitoring: Mapping[str, Any]) -> str:
    if not monitoring:
        return ""
    rows = [
        (
            _e(kind),
            _badge(_text(run.get("MonitoringExecutionStatus", ""))),
            _e(run.get("ViolationCount", "")),
            _e(run.get("requests", "")),
            _code(run.get("ReportUri")),
        )
        for kind in ("clean", "drifted")
        if (run := mapping(monitoring.get(kind)))
    ]
    violations = [
        (
            _e(v.get("constraint_check_type", "")),
            _code(v.get("feature_name")),
            _e(v.get("description", "")),
        )
        for v in _objects(mapping(monitoring.get("drifted")).get("violations"))
    ]
    baseline = f" (baseline: step {_e(monitoring['baseline_step'])})" if monitoring.get("baseline_step") else ""
    return (
        f"<h3>Model Monitor{baseline}</h3>"
        + _table(["requests", "status", "ViolationCount", "sent", "report"], rows, "monitoring")
        + (
            _table(["constraint_check_type", "feature_name", "description"], violations, "violations")
            if violations
            else ""
        )
    )


def _egress(record: Mapping[str, Any]) -> str:
    egress = record.get("egress")
    if not isinstance(egress, Mapping):
        return '<h2 id="egress">Egress</h2><p class="muted">This record does not say what left the machine.</p>\n'
    allowed = f"<p>Allowed: {_e(egress['allowed'])}</p>" if egress.get("allowed") else ""
    refused = "".join(f"<li>{_e(r)}</li>" for r in egress.get("refused") or [])
    verdict = (
        f'<p>Refused (they did not leave):</p><ul class="egress-refused">{refused}</ul>'
        if refused
        else '<p class="egress-clean">Zero egress: no connection left this machine.</p>'
    )
    return f'<h2 id="egress">Egress</h2>{allowed}{verdict}\n'
