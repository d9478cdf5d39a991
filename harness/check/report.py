"""Check results as text lines (people) or JSON (CI)."""

from __future__ import annotations

import json
from dataclasses import asdict

from harness.check.model import Result, Rule, Status

_MARK = {Status.PASS: "PASS", Status.FAIL: "FAIL", Status.SKIPPED: "SKIP"}


def as_text(results: list[Result]) -> str:
    lines = []
    for result in results:
        lines.append(f"{_MARK[result.status]}  {result.name:<40} {result.observed}")
        if result.status is Status.FAIL:
            lines.append(f"      expected: {result.expected}")
            lines.extend(f"      | {line}" for line in result.evidence)
    counts = {status: sum(r.status is status for r in results) for status in Status}
    lines.append(f"{counts[Status.PASS]} passed, {counts[Status.FAIL]} failed, {counts[Status.SKIPPED]} skipped")
    return "\n".join(lines)


def as_json(results: list[Result]) -> str:
    return json.dumps({"results": [{**asdict(r), "status": r.status.value} for r in results],
                       "passed": all(r.status is not Status.FAIL for r in results)}, indent=2)


def catalogue(rules: tuple[Rule, ...]) -> str:
    return "\n".join(f"{rule.name:<40} {rule.explanation}" for rule in rules)
