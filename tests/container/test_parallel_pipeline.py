"""Independent steps of a real pipeline (the SDK, real containers) run at the same time, within the pipeline's
ParallelismConfiguration, and their join waits for all of them."""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path
from typing import Any

from sagemaker.processing import ProcessingOutput, ScriptProcessor
from sagemaker.workflow.parallelism_config import ParallelismConfiguration
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import ProcessingStep

from harness.emulator.environment import LocalEnvironment
from harness.project.images import ImageKind

ROLE = "arn:aws:iam::000000000000:role/r"
BRANCH = """
import pathlib, time
time.sleep(1.5)
pathlib.Path("/opt/ml/processing/out/done.txt").write_text("done")
"""


def _pipeline(env: LocalEnvironment, image: str, code: Path) -> Pipeline:
    processor = ScriptProcessor(image_uri=image, command=["python3"], role=ROLE, instance_count=1,
                                instance_type="ml.m5.large", sagemaker_session=env.session)  # fmt: skip

    def step(name: str, after: list[ProcessingStep] | None = None) -> ProcessingStep:
        out = ProcessingOutput(source="/opt/ml/processing/out", output_name="out")
        return ProcessingStep(name, step_args=processor.run(code=str(code), outputs=[out]), depends_on=after)

    branches = [step(f"Branch{letter}") for letter in "ABC"]
    return Pipeline(name="fan-out", steps=[*branches, step("Join", branches)], sagemaker_session=env.session)


def _spans(env: LocalEnvironment, arn: str) -> dict[str, tuple[datetime, datetime]]:
    steps: list[dict[str, Any]] = env.client.list_pipeline_execution_steps(PipelineExecutionArn=arn)[
        "PipelineExecutionSteps"
    ]
    assert {s["StepStatus"] for s in steps} == {"Succeeded"}, steps
    return {s["StepName"]: (s["StartTime"], s["EndTime"]) for s in steps}


def test_branches_overlap_up_to_the_pipelines_parallelism_and_the_join_waits(
    local_env: LocalEnvironment, images: dict[ImageKind, str], tmp_path: Path
) -> None:
    code = tmp_path / "branch.py"
    code.write_text(BRANCH)
    pipeline = _pipeline(local_env, images[ImageKind.PROCESSING], code)
    pipeline.upsert(role_arn=ROLE)

    wide = pipeline.start()
    wide.wait(delay=1, max_attempts=300)
    spans = _spans(local_env, wide.arn)
    branches = [spans[f"Branch{letter}"] for letter in "ABC"]
    assert max(start for start, _ in branches) < min(end for _, end in branches)  # all three ran at once
    assert spans["Join"][0] >= max(end for _, end in branches)

    narrow = pipeline.start(parallelism_config=ParallelismConfiguration(max_parallel_execution_steps=1))
    narrow.wait(delay=1, max_attempts=300)
    one_at_a_time = sorted(_spans(local_env, narrow.arn).values())
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(one_at_a_time))
    assert narrow.describe()["ParallelismConfiguration"] == {"MaxParallelExecutionSteps": 1}
