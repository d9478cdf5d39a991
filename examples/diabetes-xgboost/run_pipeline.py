"""Upsert the pipeline, start it, wait, and print each step's status.

    python run_pipeline.py [--approve] [--mse-threshold N]

AWS credentials and region come from boto3's default chain; SAGEMAKER_ROLE_ARN names the execution role.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

import boto3
from botocore.exceptions import WaiterError
from pipelines.pipeline import get_pipeline

ROLE = os.environ.get("SAGEMAKER_ROLE_ARN", "arn:aws:iam::111122223333:role/AcmeSageMakerExecution")

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--approve", action="store_true", help="register the model as Approved")
    parser.add_argument("--mse-threshold", type=float)
    args = parser.parse_args()
    region = boto3.Session().region_name or "us-east-1"
    pipeline = get_pipeline(region=region, role=ROLE)
    pipeline.upsert(role_arn=ROLE)
    parameters = {"ModelApprovalStatus": "Approved"} if args.approve else {}
    if args.mse_threshold is not None:
        parameters["MseThreshold"] = args.mse_threshold
    execution = pipeline.start(parameters=parameters)
    with contextlib.suppress(WaiterError):  # a failed execution: its steps say why, below
        execution.wait(delay=30, max_attempts=120)
    for step in reversed(execution.list_steps()):
        print(
            f"{step['StepName']}: {step['StepStatus']}"
            + (f" ({step['FailureReason']})" if step.get("FailureReason") else "")
        )
    status = execution.describe()["PipelineExecutionStatus"]
    print(f"{pipeline.name}: {status}")
    sys.exit(0 if status == "Succeeded" else 1)
