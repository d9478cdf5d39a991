"""SelectiveExecutionConfig through the SDK, on real containers: only the selected step runs, the steps it depends
on reuse the reference execution's outputs (SelectiveExecutionResult), a selection with a gap is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.selective_execution_config import SelectiveExecutionConfig
from sagemaker.workflow.steps import ProcessingStep

from harness.emulator.environment import EnvironmentOptions, LocalEnvironment
from harness.emulator.storage import S3Uri
from harness.engine.docker import Engine
from harness.project.images import ImageKind

ROLE = "arn:aws:iam::000000000000:role/r"
COPY = """
import pathlib, sys
source = pathlib.Path("/opt/ml/processing/in/data.txt")
text = source.read_text() if source.exists() else "seed"
pathlib.Path("/opt/ml/processing/out/data.txt").write_text(text + " > " + sys.argv[1])
"""


def test_only_the_selected_step_runs_on_the_reference_executions_outputs(
    engine: Engine, images: dict[ImageKind, str], tmp_path: Path
) -> None:
    (tmp_path / "copy.py").write_text(COPY)
    with LocalEnvironment.open(tmp_path / "state", engine, lambda job, line: None, lambda r: None,
                               EnvironmentOptions(scope_name="selective-test")) as env:  # fmt: skip
        processor = ScriptProcessor(
            image_uri=images[ImageKind.PROCESSING], command=["python3"], role=ROLE, instance_count=1,
            instance_type="ml.m5.large", sagemaker_session=env.session,
        )  # fmt: skip
        steps: list[ProcessingStep] = []
        for name in ("Produce", "Middle", "Consume"):
            inputs = [ProcessingInput(source=steps[-1].properties.ProcessingOutputConfig.Outputs["out"].S3Output.S3Uri,
                                      destination="/opt/ml/processing/in")] if steps else []  # fmt: skip
            steps.append(ProcessingStep(name, step_args=processor.run(
                code=str(tmp_path / "copy.py"), arguments=[name], inputs=inputs,
                outputs=[ProcessingOutput(output_name="out", source="/opt/ml/processing/out")],
            )))  # fmt: skip
        pipeline = Pipeline(name="chain", steps=steps, sagemaker_session=env.session)
        pipeline.upsert(role_arn=ROLE)
        reference = pipeline.start()
        jobs = len(env.client.list_processing_jobs()["ProcessingJobSummaries"])

        again = pipeline.start(selective_execution_config=SelectiveExecutionConfig(selected_steps=["Consume"]))
        listed = {s["StepName"]: s for s in again.list_steps()}
        statuses = {n: s["StepStatus"] for n, s in listed.items()}
        assert statuses == dict.fromkeys(("Produce", "Middle", "Consume"), "Succeeded")
        assert listed["Middle"]["SelectiveExecutionResult"] == {"SourcePipelineExecutionArn": reference.arn}
        assert "SelectiveExecutionResult" not in listed["Consume"]
        assert len(env.client.list_processing_jobs()["ProcessingJobSummaries"]) == jobs + 1  # Consume's job only
        described = again.describe()["SelectiveExecutionConfig"]
        assert described["SourcePipelineExecutionArn"] == reference.arn  # the SDK chose the latest execution
        run = next(r for r in env.client.executions if r.arn == again.arn)
        out = run.properties()["Consume"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
        assert env.s3.get_bytes(S3Uri.parse(out).join("data.txt")) == b"seed > Produce > Middle > Consume"

        with pytest.raises(ClientError, match=r"also select \['Middle'\]"):
            pipeline.start(selective_execution_config=SelectiveExecutionConfig(
                selected_steps=["Produce", "Consume"], source_pipeline_execution_arn=reference.arn))  # fmt: skip
