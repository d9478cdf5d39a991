"""The run report: the step graph's layout (harness.history.dag) and the HTML page (harness.history.report)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from harness.history.dag import defined_steps, layers, layout, step_graph
from harness.history.report import REPORT_LOG_LINES, anchor, render_report

# --- a pipeline definition as the service holds it ---------------------------------------------------------


def _uses(step: str) -> dict[str, Any]:
    return {"Get": f"Steps.{step}.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"}


DEFINITION = json.dumps(
    {
        "Version": "2020-12-01",
        "Steps": [
            {"Name": "Preprocess", "Type": "Processing", "Arguments": {}},
            {"Name": "Train", "Type": "Training", "Arguments": {"InputDataConfig": [{"S3Uri": _uses("Preprocess")}]}},
            {
                "Name": "Evaluate",
                "Type": "Processing",
                "Arguments": {"ProcessingInputs": [{"S3Input": {"S3Uri": {"Get": "Steps.Train.ModelArtifacts"}}}]},
                "DependsOn": ["Preprocess"],
            },
            {
                "Name": "CheckAccuracy",
                "Type": "Condition",
                "Arguments": {
                    "Conditions": [
                        {
                            "Type": "GreaterThanOrEqualTo",
                            "LeftValue": {
                                "Std:JsonGet": {
                                    "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
                                    "Path": "accuracy",
                                }
                            },
                            "RightValue": 0.9,
                        }
                    ],
                    "IfSteps": [
                        {
                            "Name": "Register",
                            "Type": "RegisterModel",
                            "Arguments": {"ModelDataUrl": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}},
                        }
                    ],
                    "ElseSteps": [{"Name": "TooLow", "Type": "Fail", "Arguments": {"ErrorMessage": "low"}}],
                },
            },
        ],
    }
)


def _step(name: str, kind: str, status: str = "Succeeded", **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": kind, "status": status, "seconds": 1.5, "metadata": {}, **extra}


def _record(steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "run_id": "20261201T200312Z-95e001",
        "kind": "run-local",
        "status": "Succeeded",
        "started": "2026-12-01T20:03:12.344396+00:00",
        "seconds": 12.5,
        "pipeline": {"name": "mlops-pipeline", "definition": DEFINITION, "parameters": {"Threshold": "0.9"}},
        "execution": {"arn": "arn:aws:sagemaker:us-east-1:000000000000:pipeline/p/execution/x", "status": "Succeeded"},
        "steps": steps,
        **extra,
    }


def _failed_record() -> dict[str, Any]:
    steps = [
        _step(
            "Preprocess", "Processing", cache_hit="arn:aws:sagemaker:us-east-1:000000000000:pipeline/p/execution/old"
        ),
        _step("Train", "Training", "Failed", failure_reason="AlgorithmError: exit 1", log={"path": "logs/Train.log"}),
    ]
    return _record(steps, status="Failed", execution={"arn": "arn:x", "status": "Failed", "failure_reason": "Train"})


def _node(page: str, name: str) -> str:
    match = re.search(rf'<g class="step" data-step="{re.escape(name)}"[^>]*>', page)
    assert match, f"no node {name}"
    return match.group(0)


# --- dag: layers, order, cycles ----------------------------------------------------------------------------


def test_a_node_s_layer_is_its_longest_path_from_a_source() -> None:
    assert layers(["a", "b", "c", "d"], {"b": ["a"], "c": ["a", "b"], "d": ["c"]}) == [["a"], ["b"], ["c"], ["d"]]


def test_a_single_node_and_disconnected_nodes_share_the_first_column_in_definition_order() -> None:
    assert layers(["only"], {}) == [["only"]]
    assert layers(["x", "y", "z"], {}) == [["x", "y", "z"]]


def test_edges_naming_unknown_steps_and_self_loops_are_ignored() -> None:
    assert layers(["a", "b"], {"b": ["a", "ghost"], "a": ["a"], "ghost": ["a"]}) == [["a"], ["b"]]
    assert [(e.source, e.target) for e in layout(["a", "b"], {"b": ["a", "ghost"]}).edges] == [("a", "b")]


def test_within_a_column_nodes_follow_their_predecessors_and_ties_keep_definition_order() -> None:
    assert layers(["a", "b", "c", "d"], {"c": ["b"], "d": ["a"]}) == [["a", "b"], ["d", "c"]]
    assert layers(["a", "x", "y"], {"x": ["a"], "y": ["a"]}) == [["a"], ["x", "y"]]


@pytest.mark.timeout(10)
def test_a_cycle_is_broken_by_definition_order_and_still_drawn() -> None:
    depends_on = {"a": ["c"], "b": ["a"], "c": ["b"]}
    assert layers(["a", "b", "c"], depends_on) == [["a"], ["b"], ["c"]]
    drawn = layout(["a", "b", "c"], depends_on)
    assert {(e.source, e.target) for e in drawn.edges} == {("c", "a"), ("a", "b"), ("b", "c")}
    for edge in drawn.edges:  # the back edge too stays inside the drawing
        assert all(0 <= x <= drawn.width and 0 <= y <= drawn.height for x, y in edge.points)


def test_a_long_chain_lays_out_without_recursion() -> None:
    names = [f"s{i}" for i in range(2000)]
    assert len(layers(names, {names[i]: [names[i - 1]] for i in range(1, 2000)})) == 2000


def test_layout_columns_go_left_to_right_nodes_fit_their_names_and_edges_join_their_sides() -> None:
    drawn = layout(["Preprocess", "Train", "AVeryLongStepNameIndeed"], {"Train": ["Preprocess"]})
    nodes = {n.name: n for n in drawn.nodes}
    assert nodes["Train"].x >= nodes["Preprocess"].x + nodes["Preprocess"].width
    assert nodes["AVeryLongStepNameIndeed"].width > nodes["Preprocess"].width
    assert nodes["AVeryLongStepNameIndeed"].y >= nodes["Preprocess"].y + nodes["Preprocess"].height
    (edge,) = drawn.edges
    assert edge.points[0] == (nodes["Preprocess"].x + nodes["Preprocess"].width, nodes["Preprocess"].y + 22)
    assert edge.points[-1] == (nodes["Train"].x, nodes["Train"].y + 22)
    assert all(n.x + n.width <= drawn.width and n.y + n.height <= drawn.height for n in drawn.nodes)


def test_dependencies_from_the_definition_references_depends_on_and_condition_branches() -> None:
    found = {s.name: (s.type, s.depends_on) for s in defined_steps(DEFINITION)}
    assert found == {
        "Preprocess": ("Processing", ()),
        "Train": ("Training", ("Preprocess",)),
        "Evaluate": ("Processing", ("Preprocess", "Train")),
        "CheckAccuracy": ("Condition", ("Evaluate",)),  # not what its branches refer to
        "Register": ("RegisterModel", ("CheckAccuracy", "Train")),
        "TooLow": ("Fail", ("CheckAccuracy",)),
    }
    assert defined_steps("not json") == [] and defined_steps(None) == []


def test_a_record_s_own_depends_on_wins_over_the_definition() -> None:
    graph = step_graph(_record([_step("Evaluate", "Processing", depends_on=["Train"])]))
    assert graph.depends_on["Evaluate"] == ("Train",)
    assert graph.names == ("Preprocess", "Train", "Evaluate", "CheckAccuracy", "Register", "TooLow")


# --- report ------------------------------------------------------------------------------------------------

HOSTILE = "<b>&amp;</b> \"quoted\" 'single' </script><script>window.__xss=1</script>"


def test_everything_from_the_record_and_the_logs_is_escaped() -> None:
    step = _step("Train", "Training", "Failed", failure_reason=HOSTILE, metadata={"Note": HOSTILE})
    step["job"] = {"name": HOSTILE, "inputs": [{"name": HOSTILE, "uri": HOSTILE}]}
    step["metrics"] = {HOSTILE: {HOSTILE: 1.0}}
    record = _record([step], run_id=HOSTILE, egress={"allowed": HOSTILE, "refused": [HOSTILE]})
    record["pipeline"]["parameters"] = {HOSTILE: HOSTILE}
    record["execution"]["failure_reason"] = HOSTILE
    page = render_report(record, None, {"Train": f"line one\n{HOSTILE}\n</pre></details>"})
    assert page.count("<script>") == 1 and page.count("</script>") == 1  # the page's own script, once
    assert "<script>window.__xss" not in page and "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page
    assert "<b>" not in page and "&lt;b&gt;&amp;amp;&lt;/b&gt;" in page
    assert "&lt;/pre&gt;&lt;/details&gt;" in page


def test_only_the_page_s_own_style_and_script_may_run_and_nothing_is_fetched() -> None:
    page = render_report(_failed_record(), None, {})
    assert re.search(r"default-src 'none'; style-src 'sha256-[^']+'; script-src 'sha256-[^']+'", page)
    assert all(link.startswith("#") for link in re.findall(r'(?:href|src)="([^"]*)"', page))
    assert "<link" not in page and "<img" not in page and "@import" not in page


def test_steps_of_the_definition_that_never_ran_are_drawn_not_run() -> None:
    page = render_report(_failed_record(), None, {})
    assert 'data-status="Failed"' in _node(page, "Train")
    assert 'data-cached="true"' in _node(page, "Preprocess")
    for name in ("Evaluate", "CheckAccuracy", "Register", "TooLow"):
        assert 'data-status="NotRun"' in _node(page, name)
        assert f'<section class="step-detail" id="{anchor(name)}"' in page
    assert 'data-from="Train" data-to="Evaluate"' in page and 'data-from="CheckAccuracy" data-to="TooLow"' in page
    assert "Training · 1.50 s" in page and "Processing · 1.50 s · cached" in page


def test_a_failed_step_shows_its_reason_and_its_log_open_with_a_search_box() -> None:
    page = render_report(_failed_record(), None, {"logs/Train.log": "epoch 1\nTraceback: boom\n"})
    assert '<pre class="failure-reason">AlgorithmError: exit 1</pre>' in page
    assert '<pre class="failure-reason">Train</pre>' in page  # the execution's
    assert '<details class="log" open><summary>Log (2 lines)' in page
    assert '<input type="search" class="log-search"' in page
    assert '<span class="ln" data-n="2">Traceback: boom</span>' in page


def test_a_succeeded_step_s_log_is_collapsed() -> None:
    page = render_report(_record([_step("Preprocess", "Processing")]), None, {"Preprocess": "ok"})
    assert '<details class="log"><summary>Log (1 line)' in page


def test_node_links_lead_to_their_step_sections_whatever_the_name() -> None:
    odd = 'a b/"é"#'
    assert anchor(odd) != anchor("a_b") and re.fullmatch(r"step-[A-Za-z0-9_.-]+", anchor(odd))
    page = render_report({"steps": [_step(odd, "Lambda")]}, None, {})
    assert f'href="#{anchor(odd)}"' in page and f'id="{anchor(odd)}"' in page


def test_metrics_show_the_previous_run_s_value_and_the_signed_change() -> None:
    metrics = {"evaluation.json": {"accuracy": 0.98, "loss": 0.2, "f1": 0.9}, "FinalMetricDataList": {"auc": 0.91}}
    previous = _record(
        [_step("Evaluate", "Processing", metrics={"evaluation.json": {"accuracy": 0.95, "loss": 0.25, "f1": 0.9}})]
    )
    previous["run_id"] = "20261130T100000Z-aaaaaa"
    page = render_report(_record([_step("Evaluate", "Processing", metrics=metrics)]), previous, {})
    rows = dict(re.findall(r"<code>([\w.]+)</code></td>(.*?)</tr>", page))
    assert '<td class="num value">0.98</td><td class="num previous">0.95</td>' in rows["accuracy"]
    assert "▲ +0.03" in rows["accuracy"] and "▼ -0.05" in rows["loss"] and "= 0" in rows["f1"]
    assert ">new</td>" in rows["auc"]
    assert "against run 20261130T100000Z-aaaaaa" in page
    alone = render_report(_record([_step("Evaluate", "Processing", metrics=metrics)]), None, {})
    assert alone.count(">new</td>") == 4


def test_outputs_show_each_object_s_size_and_a_shortened_digest() -> None:
    digest = "ab" * 32
    job = {
        "name": "pipelines-x-Train",
        "image": "123.dkr.ecr.us-east-1.amazonaws.com/train:1",
        "image_id": "sha256:" + "cd" * 32,
        "outputs": [
            {
                "name": "model",
                "uri": "s3://b/m",
                "objects": [{"key": "m/model.tar.gz", "bytes": 2_500_000, "sha256": digest}],
            }
        ],
    }
    page = render_report(_record([_step("Train", "Training", job=job)]), None, {})
    assert "2.5 MB" in page and f'<code title="{digest}">{digest[:12]}</code>' in page
    assert "123.dkr.ecr.us-east-1.amazonaws.com/train:1" in page and f">{'cd' * 6}</code>" in page


def test_endpoint_checks_and_model_monitor_violations() -> None:
    violation = {"constraint_check_type": "baseline_drift_check", "feature_name": "_c0", "description": "drift 0.3"}
    endpoint = {
        "name": "ep",
        "package_version": 12,
        "seconds_to_first_prediction": 1.807,
        "predictions_checked": 85,
        "captured_records": 36,
        "monitoring": {
            "baseline_step": "DataQualityCheck",
            "clean": {"MonitoringExecutionStatus": "Completed", "ViolationCount": 0},
            "drifted": {
                "MonitoringExecutionStatus": "CompletedWithViolations",
                "ViolationCount": 1,
                "requests": 30,
                "violations": [violation],
            },
        },
    }
    page = render_report(_record([], endpoint=endpoint), None, {})
    for text in ("1.81 s", "85", "36", "CompletedWithViolations", "baseline_drift_check", "_c0", "drift 0.3"):
        assert text in page


def test_egress_says_nothing_left_or_lists_what_was_refused() -> None:
    clean = render_report(_record([], egress={"allowed": "127.0.0.1 only", "refused": []}), None, {})
    assert "no connection left this machine" in clean and "127.0.0.1 only" in clean
    refused = render_report(_record([], egress={"allowed": "", "refused": ["pypi.org:443"]}), None, {})
    assert "<li>pypi.org:443</li>" in refused and "no connection left" not in refused


def test_older_records_without_the_new_fields_render() -> None:
    old = {
        "run_id": "20261201T090908Z-6e66b3",
        "status": "Succeeded",
        "pipeline": {"name": "mlops-pipeline", "definition_sha256": "ec83", "parameters": {}},
        "execution": {"arn": "arn:x", "failure_reason": "", "status": "Succeeded"},
        "steps": [
            _step(
                "Preprocess", "Processing", job={"artifacts": {"train": {"k/train.csv": "ef" * 32}}, "exit_codes": [0]}
            ),
            _step("Train", "Training"),
        ],
    }
    page = render_report(old, None, {})
    assert 'data-step="Train" data-status="Succeeded"' in page and "k/train.csv" in page
    assert "does not say what left the machine" in page and "holds no dependencies" in page
    assert "<html" in render_report({}, None, {}) and "<html" in render_report({"steps": None, "pipeline": []}, {}, {})


def test_a_long_log_shows_its_last_lines_and_says_where_the_rest_is() -> None:
    log = "".join(f"line {n}\n" for n in range(1, REPORT_LOG_LINES + 101))
    page = render_report(_failed_record(), None, {"Train": log})
    assert f"Log ({REPORT_LOG_LINES + 100} lines)" in page
    assert ">line 100<" not in page and ">line 101<" in page and f">line {REPORT_LOG_LINES + 100}<" in page
    assert "The first 100 lines are left out here" in page and "harness logs RUN Train" in page
