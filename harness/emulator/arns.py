"""The local account's ARNs: one region and one account for every resource the emulator names."""

from __future__ import annotations

REGION = "us-east-1"
ACCOUNT = "000000000000"


def sagemaker_arn(resource: str, name: str) -> str:
    """`arn:aws:sagemaker:<region>:<account>:<resource>/<name>`; SageMaker lowercases names in its ARNs."""
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{resource}/{name.lower()}"
