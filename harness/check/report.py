"""Check results as text lines (people) or JSON (CI)."""

from __future__ import annotations

import json
from dataclasses import asdict

from harness.check.model import Result, Rule, Status

_MARK = {Status.PASS: "PASS", Status.FAIL: "FAIL", Status.SKIPPED: "SKIP", Status.NOT_APPLICABLE: "N/A "}


def as_text(results: list[Result]) -> str:
    lines = []
    for result in results:
        lines.append(f"{_MARK[result.status]}  {result.name:<40} {result.observed}")
        if result.status is Status.FAIL:
            lines.append(f"      expected: {result.expected}")
            lines.extend(f"      | {line}" for line in result.evidence)
    lines.append(summary(results))
    return "\n".join(lines)


def summary(results: list[Result]) -> str:
    """One line: the counts, and why checks were skipped (each reason once, with how many it hid)."""
    counts = {status: sum(r.status is status for r in results) for status in Status}
    line = f"{counts[Status.PASS]} passed, {counts[Status.FAIL]} failed, {counts[Status.SKIPPED]} skipped"
    reasons = skip_reasons(results)
    if reasons:
        line += (
            " (" + "; ".join(f"{len(names)}: {why}" if len(names) > 1 else why for why, names in reasons.items()) + ")"
        )
    if counts[Status.NOT_APPLICABLE]:
        line += f", {counts[Status.NOT_APPLICABLE]} not applicable"
    return line


def skip_reasons(results: list[Result]) -> dict[str, list[str]]:
    """Short cause -> the checks it skipped, in report order."""
    reasons: dict[str, list[str]] = {}
    for result in results:
        if result.status is Status.SKIPPED:
            reasons.setdefault(result.cause or result.observed, []).append(result.name)
    return reasons


def as_json(results: list[Result]) -> str:
    return json.dumps(
        {
            "results": [{**asdict(r), "status": r.status.value} for r in results],
            "passed": all(r.status is not Status.FAIL for r in results),
            # --strict: passed, and nothing left unverified
            "complete": all(r.status in (Status.PASS, Status.NOT_APPLICABLE) for r in results),
            "skipped": skip_reasons(results),
        },
        indent=2,
    )


LEGEND = (
    "PASS: checked and met.  FAIL: checked and broken.  SKIP: could not be checked (an input is missing, "
    "the image lacks a tool,\nor an earlier failure hides it); --strict and the pytest plugin fail on it.  "
    "N/A: SageMaker does not apply the rule to\nthis image (e.g. bind-to-port without the accept-bind-to-port "
    "label); it never fails a run."
)


def catalogue(rules: tuple[Rule, ...]) -> str:
    return "\n".join([*(f"{rule.name:<40} {rule.explanation}" for rule in rules), "", LEGEND])
