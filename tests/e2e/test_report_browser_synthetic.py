"""The HTML run report as a user sees it: rendered from synthetic run records, loaded from file:// in Debian's
real headless Chromium, and checked through the browser (what is displayed, computed colours, the log search
script), not on the HTML text. Screenshots are kept under the test's tmp_path (printed).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import chromium, leftover, missing, open_report, save_screenshot
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.selenium_manager import SeleniumManager
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from harness.history.dag import STATUS_COLOURS
from harness.history.report import anchor, render_report

REASON = "AlgorithmError: ExecuteUserScriptError: exit code 1 (ValueError: Input contains NaN)"
PAYLOAD = '<script>alert(1)</script><script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
ARN = "arn:aws:sagemaker:us-east-1:000000000000:pipeline/mlops-pipeline/execution/"


def _get(step: str, path: str) -> dict[str, str]:
    return {"Get": f"Steps.{step}.{path}"}


DEFINITION = {
    "Version": "2020-12-01",
    "Steps": [
        {"Name": "Preprocess", "Type": "Processing", "Arguments": {}},
        {"Name": "DataQualityCheck", "Type": "QualityCheck", "Arguments": {}, "DependsOn": ["Preprocess"]},
        {"Name": "Train", "Type": "Training", "Arguments": {"In": _get("Preprocess", "ProcessingOutputConfig")}},
        {"Name": "Evaluate", "Type": "Processing", "Arguments": {"Model": _get("Train", "ModelArtifacts")}},
        {
            "Name": "CheckAccuracy",
            "Type": "Condition",
            "Arguments": {
                "Conditions": [{"LeftValue": {"Std:JsonGet": {"PropertyFile": _get("Evaluate", "PropertyFiles.E")}}}],
                "IfSteps": [{"Name": "RegisterModel", "Type": "RegisterModel", "Arguments": {}}],
                "ElseSteps": [{"Name": "AccuracyTooLow", "Type": "Fail", "Arguments": {}}],
            },
        },
    ],
}


def _step(name: str, kind: str, seconds: float, **extra: Any) -> dict[str, Any]:
    job = {
        "name": f"pipelines-5njx89zp5xsm-{name}",
        "image": f"harness-{kind.lower()}:local",
        "image_id": "sha256:" + "7" * 64,
        "exit_codes": [0],
        "inputs": [{"name": "input-1", "uri": "s3://harness-local/data/raw/breast_cancer.csv"}],
        "outputs": [{"name": "train", "uri": f"s3://harness-local/{name}/out", "objects": [_object(name)]}],
    }
    base = {"name": name, "type": kind, "status": "Succeeded", "seconds": seconds, "metadata": {kind: {"Arn": "x"}}}
    return {**base, "job": job, "log": {"path": f"logs/{name}.log", "lines": 3}, **extra}


def _object(name: str) -> dict[str, Any]:
    return {"key": f"{name}/out/data.csv", "bytes": 48_213, "sha256": "e3b0c44298fc1c149afbf4c8996fb924" * 2}


def _record(status: str, steps: list[dict[str, Any]], run_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "kind": "run-local",
        "status": status,
        "started": "2026-12-01T20:03:12.344396+00:00",
        "ended": "2026-12-01T20:03:40.112000+00:00",
        "seconds": 27.8,
        "pipeline": {"name": "mlops-pipeline", "definition": json.dumps(DEFINITION), "parameters": {"MaxIter": "1000"}},
        "execution": {
            "arn": ARN + run_id[-6:],
            "status": status,
            "failure_reason": REASON if status == "Failed" else "",
        },
        "steps": steps,
        "egress": {"allowed": "127.0.0.1 (the local AWS endpoint)", "refused": []},
        **extra,
    }


def _failed() -> tuple[dict[str, Any], dict[str, str]]:
    preprocess = _step("Preprocess", "Processing", 0.04, cache_hit=ARN + "p7nmzrcht1ds")
    train = _step("Train", "Training", 8.2, status="Failed", failure_reason=REASON, attempts=2, retried_after=["x"])
    steps = [preprocess, _step("DataQualityCheck", "QualityCheck", 1.19), train]
    log = "\n".join([*(f"epoch {i}: loss 0.{i}" for i in range(1, 9)), PAYLOAD, "Traceback (most recent call last):"])
    return _record("Failed", steps, "20261201T200312Z-95e001"), {"Train": log, "Preprocess": "cached"}


def _succeeded() -> tuple[dict[str, Any], dict[str, Any]]:
    def run(run_id: str, accuracy: float, auc: float) -> dict[str, Any]:
        evaluate = _step("Evaluate", "Processing", 2.0, metrics={"evaluation.json": {"accuracy.value": accuracy}})
        train = _step("Train", "Training", 8.0, metrics={"FinalMetricDataList": {"validation:auc": auc}})
        others = [_step(n, t, 0.1) for n, t in (("CheckAccuracy", "Condition"), ("RegisterModel", "RegisterModel"))]
        return _record("Succeeded", [_step("Preprocess", "Processing", 2.1), train, evaluate, *others], run_id)

    return run("20261201T210000Z-bbbbbb", 0.98, 0.91), run("20261201T200000Z-aaaaaa", 0.95, 0.93)


@pytest.fixture
def driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebDriver]:
    if (reason := missing()) is not None:
        pytest.fail(reason)  # tox provisions the browser: its absence is an error, as a missing daemon is

    def never(*args: object) -> dict[str, str]:
        raise AssertionError("Selenium Manager started: it would look up drivers on the network")

    monkeypatch.setattr(SeleniumManager, "binary_paths", never)
    home = tmp_path / "chromium"
    print(f"\nreport artifacts: {tmp_path}")
    with chromium(home, log_path=tmp_path / "chromedriver.log") as session:
        assert leftover(home), "the session's processes are not found: the leftover check would prove nothing"
        yield session
    deadline = time.monotonic() + 10
    while leftover(home) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not leftover(home), f"processes of the browser session outlived it: {leftover(home)}"


def _load(driver: WebDriver, tmp_path: Path, name: str, page: str) -> Path:
    path = tmp_path / f"{name}.html"
    path.write_text(page, encoding="utf-8")
    open_report(driver, path)
    return path


def _node(driver: WebDriver, name: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, f'g.step[data-step="{name}"]')


def _rgb(colour: str) -> str:
    return "rgb({}, {}, {})".format(*(int(colour[i : i + 2], 16) for i in (1, 3, 5)))


def _visible_lines(log: WebElement) -> int:
    return sum(1 for line in log.find_elements(By.CSS_SELECTOR, ".ln") if line.is_displayed())


def _screenshot(driver: WebDriver, tmp_path: Path, name: str) -> None:
    png = save_screenshot(driver, tmp_path / f"{name}.png")
    assert png.stat().st_size > 1000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_failed_run_s_report_in_chromium(driver: WebDriver, tmp_path: Path) -> None:
    record, logs = _failed()
    _load(driver, tmp_path, "failed", render_report(record, None, logs))

    expected = {"Preprocess": "Succeeded", "Train": "Failed", "Evaluate": "NotRun", "CheckAccuracy": "NotRun"}
    expected |= {"DataQualityCheck": "Succeeded", "RegisterModel": "NotRun", "AccuracyTooLow": "NotRun"}
    for name, status in expected.items():
        node = _node(driver, name)
        assert node.is_displayed() and node.get_attribute("data-status") == status, name
    assert _node(driver, "Preprocess").get_attribute("data-cached") == "true"
    assert "cached" in _node(driver, "Preprocess").text
    rect = _node(driver, "Train").find_element(By.TAG_NAME, "rect")
    assert driver.execute_script("return getComputedStyle(arguments[0]).fill", rect) == _rgb(
        STATUS_COLOURS["Failed"][0]
    )

    section = driver.find_element(By.ID, anchor("Train"))
    reason = section.find_element(By.CSS_SELECTOR, "pre.failure-reason")
    assert reason.is_displayed() and reason.text == REASON

    # The payload is shown as text in the open log, and none of it ran.
    log = section.find_element(By.CSS_SELECTOR, "details.log")
    assert log.get_attribute("open") is not None
    assert any(line.text.endswith(PAYLOAD) for line in log.find_elements(By.CSS_SELECTOR, ".ln"))
    assert driver.execute_script("return window.__xss") is None
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 (reading it is the check)
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0

    assert _visible_lines(log) == 10
    log.find_element(By.CSS_SELECTOR, "input.log-search").send_keys("epoch")
    assert _visible_lines(log) == 8
    assert log.find_element(By.CSS_SELECTOR, ".log-count").text == "8 of 10 lines match"
    _screenshot(driver, tmp_path, "failed")

    driver.execute_script("window.scrollTo(0, 0)")
    _node(driver, "Evaluate").find_element(By.TAG_NAME, "rect").click()
    assert driver.execute_script("return location.hash") == "#" + anchor("Evaluate")
    assert driver.execute_script("return window.scrollY") > 0


def test_a_succeeded_run_s_report_compares_metrics_with_the_previous_run(driver: WebDriver, tmp_path: Path) -> None:
    record, previous = _succeeded()
    _load(driver, tmp_path, "succeeded", render_report(record, previous, {"Train": "fit\ndone\n"}))

    assert {n.get_attribute("data-status") for n in driver.find_elements(By.CSS_SELECTOR, "g.step")} == {
        "Succeeded",
        "NotRun",  # the Condition's else branch
    }
    rows = {
        row.find_elements(By.TAG_NAME, "td")[2].text: row
        for row in driver.find_elements(By.CSS_SELECTOR, "table.metrics tbody tr")
    }
    accuracy = rows["accuracy.value"]
    assert accuracy.is_displayed()
    assert [c.text for c in accuracy.find_elements(By.TAG_NAME, "td")[3:]] == ["0.98", "0.95", "▲ +0.03"]
    assert rows["validation:auc"].find_elements(By.TAG_NAME, "td")[5].text == "▼ -0.02"
    egress = driver.find_element(By.CSS_SELECTOR, "p.egress-clean")
    assert egress.is_displayed() and "no connection left this machine" in egress.text

    # A succeeded step's log is collapsed until its summary is clicked.
    log = driver.find_element(By.ID, anchor("Train")).find_element(By.CSS_SELECTOR, "details.log")
    assert _visible_lines(log) == 0
    log.find_element(By.TAG_NAME, "summary").click()
    assert _visible_lines(log) == 2
    _screenshot(driver, tmp_path, "succeeded")
