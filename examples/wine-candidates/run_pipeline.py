"""Upsert the pipeline, start it (four steps at a time at most), wait, and print each step as it ran.

    python run_pipeline.py [--min-accuracy N]

AWS credentials and region come from boto3's default chain; SAGEMAKER_ROLE_ARN names the execution role.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from botocore.exceptions import WaiterError
from pipelines.pipeline import get_pipeline
from sagemaker.workflow.parallelism_config import ParallelismConfiguration

ROLE = os.environ.get("SAGEMAKER_ROLE_ARN", "arn:aws:iam::111122223333:role/AcmeSageMakerExecution")

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--min-accuracy", type=float)
    args = parser.parse_args()
    pipeline = get_pipeline(role=ROLE)
    pipeline.upsert(role_arn=ROLE, parallelism_config=ParallelismConfiguration(max_parallel_execution_steps=4))
    parameters = {} if args.min_accuracy is None else {"MinAccuracy": args.min_accuracy}
    execution = pipeline.start(parameters=parameters)
    with contextlib.suppress(WaiterError):  # a failed execution: its steps say why, below
        execution.wait(delay=30, max_attempts=120)
    for step in reversed(execution.list_steps()):
        notes = []
        if step.get("CacheHitResult"):
            notes.append("cached")
        if step.get("AttemptCount", 1) > 1:
            notes.append(f"attempt {step['AttemptCount']}")
        if step.get("FailureReason"):
            notes.append(step["FailureReason"])
        print(f"{step['StepName']}: {step['StepStatus']}" + (f" ({'; '.join(notes)})" if notes else ""))
    lambda_outputs = next(
        (
            s["Metadata"]["Lambda"]["OutputParameters"]
            for s in execution.list_steps()
            if "Lambda" in s.get("Metadata", {})
        ),
        [],
    )
    print("winner: " + ", ".join(f"{o['Name']}={o['Value']}" for o in lambda_outputs))
    status = execution.describe()["PipelineExecutionStatus"]
    print(f"{pipeline.name}: {status}")
    sys.exit(0 if status == "Succeeded" else 1)
