"""A retry policy written with the SDK, against a real container: the step's first attempt fails with a capacity
error ([tool.harness.faults]), the policy retries it, its second attempt's job runs and the step succeeds."""

from __future__ import annotations

from pathlib import Path

from sagemaker.processing import ScriptProcessor
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.retry import SageMakerJobExceptionTypeEnum, SageMakerJobStepRetryPolicy
from sagemaker.workflow.steps import ProcessingStep

from harness.emulator.environment import EnvironmentOptions, LocalEnvironment
from harness.emulator.pipeline_options import PipelineOptions
from harness.emulator.retries import FAULT_REASONS, InjectedFault
from harness.engine.docker import Engine
from harness.project.images import ImageKind

ROLE = "arn:aws:iam::000000000000:role/r"


def test_a_capacity_error_is_retried_by_the_steps_policy_and_each_attempt_shows(
    engine: Engine, images: dict[ImageKind, str], tmp_path: Path
) -> None:
    code = tmp_path / "flaky.py"
    code.write_text("print('the second attempt ran')\n")
    faults = {"Flaky": InjectedFault("SageMaker.CAPACITY_ERROR", attempts=1)}
    options = EnvironmentOptions(scope_name="retry-test", pipelines=PipelineOptions(faults=faults))
    lines: list[tuple[str, str]] = []
    events: list[tuple[str, int]] = []
    with LocalEnvironment.open(tmp_path / "state", engine, lambda job, line: lines.append((job, line)),
                               lambda r: events.append((r.status, r.attempts)), options) as env:  # fmt: skip
        processor = ScriptProcessor(
            image_uri=images[ImageKind.PROCESSING], command=["python3"], role=ROLE, instance_count=1,
            instance_type="ml.m5.large", sagemaker_session=env.session,
        )  # fmt: skip
        retry = SageMakerJobStepRetryPolicy(
            failure_reason_types=[SageMakerJobExceptionTypeEnum.CAPACITY_ERROR], max_attempts=2, interval_seconds=1
        )
        step = ProcessingStep("Flaky", step_args=processor.run(code=str(code)), retry_policies=[retry])
        pipeline = Pipeline(name="flaky", steps=[step], sagemaker_session=env.session)
        pipeline.upsert(role_arn=ROLE)
        execution = pipeline.start()
        listed = env.client.list_pipeline_execution_steps(PipelineExecutionArn=execution.arn)
        (entry,) = listed["PipelineExecutionSteps"]
        assert entry["StepStatus"] == "Succeeded" and entry["AttemptCount"] == 2
        assert entry["Metadata"]["ProcessingJob"]["Arn"].endswith(f"pipelines-{execution.arn[-12:]}-flaky-2")
        record = env.client.executions[-1].steps[0]
        assert record.retried == [FAULT_REASONS["SageMaker.CAPACITY_ERROR"]]
    assert events == [("Executing", 1), ("Executing", 2), ("Succeeded", 2)]
    assert ("pipelines-" + execution.arn[-12:] + "-Flaky-2", "the second attempt ran") in lines
