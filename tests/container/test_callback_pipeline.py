"""A CallbackStep written with the SDK: its message reaches the local SQS queue in the service's format, and
`sagemaker-harness callback` (or the SendPipelineExecutionStep* operations) completes it; its outputs drive a
condition whose branch runs a real container; a failure, an unknown token and StopPipelineExecution end it as the
service ends it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from sagemaker.processing import ScriptProcessor
from sagemaker.workflow.callback_step import CallbackOutput, CallbackOutputTypeEnum, CallbackStep
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionEquals
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import ProcessingStep

from harness.emulator.environment import EnvironmentOptions, LocalEnvironment
from harness.engine.docker import Engine
from harness.project.images import ImageKind

ROLE = "arn:aws:iam::000000000000:role/r"
QUEUE = "https://sqs.us-east-1.amazonaws.com/111122223333/model-approvals"


def _client(env: LocalEnvironment, service: str) -> Any:
    return boto3.Session().client(service, endpoint_url=env.endpoint_url, region_name="us-east-1",
                                  aws_access_key_id="a", aws_secret_access_key="b")  # fmt: skip


def _pipeline(env: LocalEnvironment, image: str, code: Path) -> Pipeline:
    approve = CallbackStep("Approve", sqs_queue_url=QUEUE, inputs={"model": "s3://b/model.tar.gz"},
                           outputs=[CallbackOutput("approved", CallbackOutputTypeEnum.Boolean)])  # fmt: skip
    processor = ScriptProcessor(
        image_uri=image, command=["python3"], role=ROLE, instance_count=1, instance_type="ml.m5.large",
        sagemaker_session=env.session,
    )  # fmt: skip
    ship = ProcessingStep("Ship", step_args=processor.run(code=str(code)))
    gate = ConditionStep("Approved", conditions=[ConditionEquals(approve.properties.Outputs["approved"], True)],
                         if_steps=[ship], else_steps=[])  # fmt: skip
    return Pipeline(name="approval", steps=[approve, gate], sagemaker_session=env.session)


def _start_in_background(pipeline: Pipeline) -> tuple[threading.Thread, dict[str, Any]]:
    started: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: started.update(execution=pipeline.start()), daemon=True)
    thread.start()
    return thread, started


def _token(env: LocalEnvironment, deadline_s: float = 30) -> tuple[str, str]:
    """The waiting step's token and execution, as ListPipelineExecutionSteps shows it while the step waits."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        for run in env.client.executions:
            for step in run.steps:
                token = step.metadata.get("Callback", {}).get("CallbackToken")
                if token and step.status == "Executing":
                    return token, run.arn
        time.sleep(0.05)
    raise AssertionError("no callback step started")


@pytest.fixture
def env(engine: Engine, tmp_path: Path) -> Any:
    with LocalEnvironment.open(tmp_path / "state", engine, lambda job, line: None, lambda r: None,
                               EnvironmentOptions(scope_name="callback-test")) as opened:  # fmt: skip
        yield opened


def test_the_message_reaches_the_queue_and_the_cli_completes_the_step(
    env: LocalEnvironment, images: dict[ImageKind, str], tmp_path: Path
) -> None:
    sqs = _client(env, "sqs")
    queue_url = sqs.create_queue(QueueName="model-approvals")["QueueUrl"]
    (tmp_path / "ship.py").write_text("print('shipping')\n")
    pipeline = _pipeline(env, images[ImageKind.PROCESSING], tmp_path / "ship.py")
    pipeline.upsert(role_arn=ROLE)
    thread, started = _start_in_background(pipeline)
    token, execution_arn = _token(env)

    (message,) = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5)["Messages"]
    body = {"token": token, "pipelineExecutionArn": execution_arn, "arguments": {"model": "s3://b/model.tar.gz"},
            "status": "Executing"}  # fmt: skip
    assert json.loads(message["Body"]) == body
    sent = subprocess.run(
        [sys.executable, "-m", "harness.cli", "callback", "success", token, "--output", "approved=true",
         "--endpoint", env.endpoint_url],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert sent.returncode == 0 and execution_arn in sent.stdout, sent.stderr
    thread.join(timeout=120)
    steps = {s["StepName"]: s for s in started["execution"].list_steps()}
    assert {name: s["StepStatus"] for name, s in steps.items()} == {
        "Approve": "Succeeded", "Approved": "Succeeded", "Ship": "Succeeded"
    }  # fmt: skip
    assert steps["Approve"]["Metadata"]["Callback"] == {
        "CallbackToken": token, "SqsQueueUrl": QUEUE, "OutputParameters": [{"Name": "approved", "Value": "true"}]
    }  # fmt: skip

    again = subprocess.run([sys.executable, "-m", "harness.cli", "callback", "success", token, "--endpoint",
                            env.endpoint_url], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert again.returncode != 0 and f"Callback token {token} is not valid or has already been used" in again.stderr


def test_a_failure_fails_the_step_and_a_stop_ends_the_wait(
    env: LocalEnvironment, images: dict[ImageKind, str], tmp_path: Path
) -> None:
    (tmp_path / "ship.py").write_text("print('shipping')\n")
    pipeline = _pipeline(env, images[ImageKind.PROCESSING], tmp_path / "ship.py")  # no queue: the step still waits
    pipeline.upsert(role_arn=ROLE)
    sagemaker = _client(env, "sagemaker")

    thread, started = _start_in_background(pipeline)
    token, _ = _token(env)
    sagemaker.send_pipeline_execution_step_failure(CallbackToken=token, FailureReason="rejected by the reviewer")
    thread.join(timeout=60)
    described = started["execution"].describe()
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"] == "Step failure: Approve: rejected by the reviewer"

    thread, started = _start_in_background(pipeline)
    _, execution_arn = _token(env)
    sagemaker.stop_pipeline_execution(PipelineExecutionArn=execution_arn)
    thread.join(timeout=60)
    assert not thread.is_alive()
    run = next(run for run in env.client.executions if run.arn == execution_arn)
    assert run.status == "Stopped" and [(s.name, s.status) for s in run.steps] == [("Approve", "Stopped")]
