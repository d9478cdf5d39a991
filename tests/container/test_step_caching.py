"""CacheConfig end to end (the SDK, real containers): an unchanged re-run reuses the earlier run's outputs and starts
no container, in the same server and in a new one on the same state folder (its S3 starts empty); changed code
runs again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import CacheConfig, ProcessingStep

from harness.emulator.environment import EnvironmentOptions, LocalEnvironment
from harness.emulator.storage import S3Uri
from harness.engine.docker import Engine
from harness.project.images import ImageKind

ROLE = "arn:aws:iam::000000000000:role/r"
PRODUCE = """
import pathlib, time
pathlib.Path("/opt/ml/processing/out/made.txt").write_text(f"made at {time.time()}")
"""
CONSUME = """
import pathlib
made = pathlib.Path("/opt/ml/processing/in/made.txt").read_text()
pathlib.Path("/opt/ml/processing/out/seen.txt").write_text("saw " + made)
"""


def _pipeline(env: LocalEnvironment, image: str, code: Path) -> Pipeline:
    processor = ScriptProcessor(image_uri=image, command=["python3"], role=ROLE, instance_count=1,
                                instance_type="ml.m5.large", sagemaker_session=env.session)  # fmt: skip
    cache = CacheConfig(enable_caching=True, expire_after="PT1H")
    produce = ProcessingStep("Produce", cache_config=cache, step_args=processor.run(
        code=str(code / "produce.py"), outputs=[ProcessingOutput(source="/opt/ml/processing/out", output_name="out")]
    ))  # fmt: skip
    made = produce.properties.ProcessingOutputConfig.Outputs["out"].S3Output.S3Uri
    consume = ProcessingStep("Consume", cache_config=cache, step_args=processor.run(
        code=str(code / "consume.py"),
        inputs=[ProcessingInput(source=made, destination="/opt/ml/processing/in")],
        outputs=[ProcessingOutput(source="/opt/ml/processing/out", output_name="out")],
    ))  # fmt: skip
    return Pipeline(name="cached", steps=[produce, consume], sagemaker_session=env.session)


def _run(env: LocalEnvironment, image: str, code: Path) -> tuple[str, dict[str, dict[str, Any]]]:
    pipeline = _pipeline(env, image, code)
    pipeline.upsert(role_arn=ROLE)
    execution = pipeline.start()
    steps = env.client.list_pipeline_execution_steps(PipelineExecutionArn=execution.arn)["PipelineExecutionSteps"]
    assert {s["StepStatus"] for s in steps} == {"Succeeded"}, steps
    return execution.arn, {s["StepName"]: s for s in steps}


def _seen(env: LocalEnvironment, execution: str, steps: dict[str, dict[str, Any]]) -> str:
    description = next(run.properties()["Consume"] for run in env.client.executions if run.arn == execution)
    assert description["ProcessingJobArn"] == steps["Consume"]["Metadata"]["ProcessingJob"]["Arn"]
    out = description["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    return env.s3.get_bytes(S3Uri.parse(out).join("seen.txt")).decode()


def test_an_unchanged_rerun_reuses_the_outputs_across_servers_and_changed_code_runs_again(
    engine: Engine, images: dict[ImageKind, str], tmp_path: Path
) -> None:
    image, state, code = images[ImageKind.PROCESSING], tmp_path / "state", tmp_path / "code"
    code.mkdir()
    (code / "produce.py").write_text(PRODUCE)
    (code / "consume.py").write_text(CONSUME)
    options = EnvironmentOptions(scope_name="cache-test")
    with LocalEnvironment.open(state, engine, lambda job, line: None, lambda r: None, options) as env:
        first, steps = _run(env, image, code)
        assert not any("CacheHitResult" in s for s in steps.values())
        seen = _seen(env, first, steps)
        jobs = len(env.client.list_processing_jobs()["ProcessingJobSummaries"])
        _, steps = _run(env, image, code)
        assert {s["CacheHitResult"]["SourcePipelineExecutionArn"] for s in steps.values()} == {first}
        assert len(env.client.list_processing_jobs()["ProcessingJobSummaries"]) == jobs  # no job, no container

    with LocalEnvironment.open(state, engine, lambda job, line: None, lambda r: None, options) as fresh:
        third, steps = _run(fresh, image, code)  # a new server: its S3 started empty
        assert {s["CacheHitResult"]["SourcePipelineExecutionArn"] for s in steps.values()} == {first}
        assert fresh.client.list_processing_jobs()["ProcessingJobSummaries"] == []
        assert _seen(fresh, third, steps) == seen  # the cached outputs are back where the properties point

        (code / "consume.py").write_text(CONSUME.replace('"saw "', '"now saw "'))
        changed, steps = _run(fresh, image, code)
        assert steps["Produce"]["CacheHitResult"]["SourcePipelineExecutionArn"] == first
        assert "CacheHitResult" not in steps["Consume"]  # its code's S3 URI changed with its content
        assert _seen(fresh, changed, steps).startswith("now saw made at")
