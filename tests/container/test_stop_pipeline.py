"""StopPipelineExecution while a step's job runs: the job stops as StopProcessingJob stops it (SIGTERM), the step
and the execution end Stopped, and no later step starts."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sagemaker.processing import ScriptProcessor
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import ProcessingStep

from harness.emulator.environment import EnvironmentOptions, LocalEnvironment
from harness.engine.docker import Engine
from harness.project.images import ImageKind

ROLE = "arn:aws:iam::000000000000:role/r"


def test_stopping_an_execution_stops_its_running_job(
    engine: Engine, images: dict[ImageKind, str], tmp_path: Path
) -> None:
    # As PID 1 the script must handle SIGTERM itself (the kernel ignores it otherwise; both here and in AWS the
    # container would then be killed 120 s later).
    (tmp_path / "long.py").write_text(
        "import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *_: sys.exit(143))\n"
        "print('working', flush=True)\ntime.sleep(300)\n"
    )
    (tmp_path / "later.py").write_text("print('never')\n")
    with LocalEnvironment.open(tmp_path / "state", engine, lambda job, line: None, lambda r: None,
                               EnvironmentOptions(scope_name="stop-test")) as env:  # fmt: skip
        processor = ScriptProcessor(
            image_uri=images[ImageKind.PROCESSING], command=["python3"], role=ROLE, instance_count=1,
            instance_type="ml.m5.large", sagemaker_session=env.session,
        )  # fmt: skip
        long = ProcessingStep("Long", step_args=processor.run(code=str(tmp_path / "long.py")))
        later = ProcessingStep("Later", step_args=processor.run(code=str(tmp_path / "later.py")), depends_on=[long])
        pipeline = Pipeline(name="stoppable", steps=[long, later], sagemaker_session=env.session)
        pipeline.upsert(role_arn=ROLE)
        thread = threading.Thread(target=pipeline.start, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            jobs = env.client.list_processing_jobs()["ProcessingJobSummaries"]
            if jobs and jobs[0]["ProcessingJobStatus"] == "InProgress":
                break
            time.sleep(0.1)
        run = env.client.executions[-1]
        time.sleep(1)  # the container runs its script now
        began = time.monotonic()
        env.client.stop_pipeline_execution(PipelineExecutionArn=run.arn)
        thread.join(timeout=60)
        assert not thread.is_alive() and time.monotonic() - began < 30  # SIGTERM ends the sleep at once
        assert run.status == "Stopped"
        assert [(s.name, s.status) for s in run.steps] == [("Long", "Stopped")]
        (job,) = env.client.list_processing_jobs()["ProcessingJobSummaries"]
        assert job["ProcessingJobStatus"] == "Stopped"
