"""The checker's report: a check that could not run is never counted as passed, and the summary says why."""

import json

from harness.check import rules
from harness.check.model import hidden, not_applicable, passed, skipped
from harness.check.report import as_json, as_text, catalogue

NO_PAYLOAD = "no sample payload (--payload FILE)"
RESULTS = [
    passed(rules.PORT_8080, "HTTP answers on port 8080", "answered after 1.00s"),
    skipped(rules.INVOKE_60S, NO_PAYLOAD, "no payload given"),
    skipped(rules.NEAR_6MB, NO_PAYLOAD, "no payload given"),
    skipped(rules.FAST_ACCEPT, "no python3 in the image to time connections from inside", "no python3 in the image"),
    not_applicable(rules.BIND_TO_PORT, "the image has no accept-bind-to-port label, so SageMaker uses 8080"),
]


def test_last_line_counts_and_groups_the_reasons_for_skipping() -> None:
    lines = as_text(RESULTS).splitlines()
    assert lines[-1] == (
        "1 passed, 0 failed, 3 skipped (2: no payload given; no python3 in the image), 1 not applicable"
    )
    assert any(line.startswith("SKIP  inference.invocations-60s") and NO_PAYLOAD in line for line in lines)
    assert any(line.startswith("N/A   inference.bind-to-port") for line in lines)


def test_a_skip_after_a_failure_says_an_earlier_check_failed() -> None:
    text = as_text([hidden(rules.PING_2S, "no /ping answered on 8080 (see inference.port-8080)")])
    assert text.splitlines()[-1] == "0 passed, 0 failed, 1 skipped (an earlier check failed)"


def test_json_tells_passed_from_complete() -> None:
    report = json.loads(as_json(RESULTS))
    assert report["passed"] is True and report["complete"] is False
    assert report["skipped"] == {
        "no payload given": ["inference.invocations-60s", "inference.payload-6mb"],
        "no python3 in the image": ["inference.accept-250ms"],
    }
    statuses = {r["name"]: r["status"] for r in report["results"]}
    assert statuses["inference.bind-to-port"] == "n/a"
    assert json.loads(as_json(RESULTS[:1] + RESULTS[-1:]))["complete"] is True  # n/a is not a gap


def test_list_explains_skip_and_not_applicable() -> None:
    listing = catalogue(rules.ALL)
    assert "SKIP: could not be checked" in listing and "--strict" in listing and "N/A:" in listing
