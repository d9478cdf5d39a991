"""Deploy the latest approved model package of the group to an endpoint, send it the test rows, delete it.

python deploy.py [test.csv]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import boto3
import sagemaker
from sagemaker import ModelPackage

ROLE = os.environ.get("SAGEMAKER_ROLE_ARN", "arn:aws:iam::111122223333:role/AcmeSageMakerExecution")
GROUP = "DiabetesPackageGroup"
ENDPOINT = "diabetes-xgboost"

if __name__ == "__main__":
    session = sagemaker.Session()
    sm = session.sagemaker_client
    approved = sm.list_model_packages(
        ModelPackageGroupName=GROUP, ModelApprovalStatus="Approved", SortBy="CreationTime", SortOrder="Descending"
    )["ModelPackageSummaryList"]
    if not approved:
        sys.exit(f"no approved model package in {GROUP}")
    arn = approved[0]["ModelPackageArn"]
    print(f"deploying {arn}")
    model = ModelPackage(role=ROLE, model_package_arn=arn, sagemaker_session=session)
    model.deploy(initial_instance_count=1, instance_type="ml.m5.large", endpoint_name=ENDPOINT)
    try:
        rows = Path(sys.argv[1] if len(sys.argv) > 1 else "data/payload.csv").read_text()
        response = boto3.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=ENDPOINT, ContentType="text/csv", Body=rows
        )
        predictions = response["Body"].read().decode().splitlines()
        print(f"{ENDPOINT} predicted {len(predictions)} rows: {', '.join(f'{float(p):.1f}' for p in predictions)}")
    finally:
        sm.delete_endpoint(EndpointName=ENDPOINT)
