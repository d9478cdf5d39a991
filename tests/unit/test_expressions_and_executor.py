"""Pipeline definition evaluation: references, functions, conditions, order, refusals."""

import json

import pytest
from support import UnusedStepApi

from harness.emulator.executor import PipelineRun, validate
from harness.emulator.expressions import Context, condition_holds, references, resolve, walk
from harness.emulator.scheduler import order
from harness.errors import UserError

PROPERTIES = {
    "Preprocess": {
        "ProcessingOutputConfig": {
            "Outputs": [
                {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/run/train"}},
                {"OutputName": "test", "S3Output": {"S3Uri": "s3://b/run/test"}},
            ]
        }
    }
}


NO_API = UnusedStepApi()


def context(read_json=lambda step, name: {"metrics": {"accuracy": {"value": 0.93}}}) -> Context:
    return Context({"Threshold": 0.9, "Name": "abc"}, {"PipelineExecutionId": "exec1"}, PROPERTIES, read_json)


def test_get_join_and_jsonget() -> None:
    tree = {
        "Uri": {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"},
        "Joined": {"Std:Join": {"On": "/", "Values": ["s3:/", "b", {"Get": "Execution.PipelineExecutionId"}]}},
        "Metric": {
            "Std:JsonGet": {
                "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Report"},
                "Path": "metrics.accuracy.value",
            }
        },
        "List": [{"Get": "Parameters.Name"}, 3],
    }
    resolved = resolve(
        tree,
        Context(
            {"Name": "abc"},
            {"PipelineExecutionId": "exec1"},
            {**PROPERTIES, "Evaluate": {}},
            lambda step, name: {"metrics": {"accuracy": {"value": 0.93}}},
        ),
    )
    assert resolved == {"Uri": "s3://b/run/test", "Joined": "s3://b/exec1", "Metric": 0.93, "List": ["abc", 3]}


def test_references_and_errors() -> None:
    assert references({"a": [{"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}]}) == {"Train"}
    with pytest.raises(UserError, match="undefined parameter 'Nope'"):
        resolve({"Get": "Parameters.Nope"}, context())
    with pytest.raises(UserError, match="step 'Missing' has not run"):
        resolve({"Get": "Steps.Missing.X"}, context())
    with pytest.raises(UserError, match="no 'validation'"):
        walk(PROPERTIES["Preprocess"], "ProcessingOutputConfig.Outputs['validation']", "x")


@pytest.mark.parametrize(
    ("kind", "left", "right", "expected"),
    [
        ("GreaterThanOrEqualTo", 0.93, 0.9, True),
        ("GreaterThan", 0.9, 0.9, False),
        ("LessThan", "0.5", 0.9, True),
        ("Equals", "abc", "abc", True),
    ],
)
def test_comparisons(kind: str, left, right, expected: bool) -> None:
    assert condition_holds({"Type": kind, "LeftValue": left, "RightValue": right}, context()) is expected


def test_compound_conditions() -> None:
    assert condition_holds({"Type": "Not", "Condition": {"Type": "Equals", "LeftValue": 1, "RightValue": 2}}, context())
    assert condition_holds({"Type": "In", "QueryValue": {"Get": "Parameters.Name"}, "Values": ["x", "abc"]}, context())


def test_order_follows_references_and_depends_on() -> None:
    steps = [
        {"Name": "C", "Arguments": {"x": {"Get": "Steps.B.Y"}}},
        {"Name": "A", "Arguments": {}},
        {"Name": "B", "Arguments": {}, "DependsOn": ["A"]},
    ]
    assert [s["Name"] for s in order(steps)] == ["A", "B", "C"]
    with pytest.raises(UserError, match="cycle"):
        order([{"Name": "A", "DependsOn": ["B"]}, {"Name": "B", "DependsOn": ["A"]}])


def test_unsupported_step_type_is_refused_with_its_name() -> None:
    definition = {"Steps": [{"Name": "Spark", "Type": "EMR", "Arguments": {}}]}
    with pytest.raises(UserError) as caught:
        validate(definition)
    assert "step 'Spark' has type 'EMR'" in caught.value.problem
    assert "runs on an Amazon EMR cluster" in caught.value.problem
    assert "Processing, Training" in caught.value.fix


def test_unsupported_argument_in_a_nested_step_is_refused() -> None:
    processing = {
        "Name": "Prep",
        "Type": "Processing",
        "Arguments": {
            "AppSpecification": {"ImageUri": "img"},
            "ProcessingInputs": [
                {
                    "InputName": "in",
                    "S3Input": {
                        "S3Uri": {"Get": "Parameters.X"},
                        "LocalPath": "/opt/ml/processing/in",
                        "S3InputMode": "Pipe",
                    },
                }
            ],
        },
    }
    definition = {
        "Steps": [
            {
                "Name": "Check",
                "Type": "Condition",
                "Arguments": {"Conditions": [], "IfSteps": [processing], "ElseSteps": []},
            }
        ]
    }
    with pytest.raises(UserError, match="S3InputMode Pipe is not supported locally"):
        validate(definition)


def test_parameters_are_typed_and_unknown_ones_refused() -> None:
    definition = {
        "Parameters": [
            {"Name": "T", "Type": "Float", "DefaultValue": 0.5},
            {"Name": "N", "Type": "Integer", "DefaultValue": 2},
        ],
        "Steps": [],
    }
    run = PipelineRun(definition, "p", {"T": "0.75"}, api=NO_API, on_event=lambda r: None)
    assert run.parameters == {"T": 0.75, "N": 2}
    with pytest.raises(UserError, match="unknown pipeline parameter"):
        PipelineRun(definition, "p", {"Bogus": 1}, api=NO_API, on_event=lambda r: None)


def test_fail_step_fails_the_execution_with_its_message() -> None:
    definition = {
        "Parameters": [{"Name": "T", "Type": "Float", "DefaultValue": 0.5}],
        "Steps": [
            {
                "Name": "Check",
                "Type": "Condition",
                "Arguments": {
                    "Conditions": [{"Type": "GreaterThan", "LeftValue": 0.1, "RightValue": {"Get": "Parameters.T"}}],
                    "IfSteps": [],
                    "ElseSteps": [
                        {
                            "Name": "Stop",
                            "Type": "Fail",
                            "Arguments": {
                                "ErrorMessage": {"Std:Join": {"On": " ", "Values": ["below", {"Get": "Parameters.T"}]}}
                            },
                        }
                    ],
                },
            }
        ],
    }
    events = []
    run = PipelineRun(
        json.loads(json.dumps(definition)),
        "p",
        {},
        api=NO_API,
        on_event=lambda r: events.append((r.name, r.status)),
    ).run()
    assert run.status == "Failed"
    assert run.failure_reason == "Step failure: Stop: below 0.5"
    assert events == [("Check", "Executing"), ("Check", "Succeeded"), ("Stop", "Executing"), ("Stop", "Failed")]


def test_a_step_function_is_refused_with_the_reason() -> None:
    entrypoint = ["/bin/bash", "/opt/ml/input/data/sagemaker_remote_function_bootstrap/job_driver.sh"]
    algorithm = {"TrainingImage": "img", "ContainerEntrypoint": entrypoint}
    step = {"Name": "featurize", "Type": "Training", "Arguments": {"AlgorithmSpecification": algorithm}}
    with pytest.raises(UserError) as refused:
        validate({"Steps": [step]})
    assert "step 'featurize' is a @step function, which the local harness does not run" in refused.value.problem
