"""What the local AWS endpoint implements, by service (`sagemaker-harness endpoint --operations`)."""

from __future__ import annotations

from harness.emulator.controlplane import implemented
from harness.emulator.logs import LOG_OPERATIONS

RUNTIME_OPERATIONS = ("InvokeEndpoint",)
MOTO_SERVICES = "S3, STS, IAM, ECR and every other service moto's server implements (https://docs.getmoto.org)"


def implemented_operations() -> dict[str, list[str]]:
    return {
        "SageMaker (the harness's control plane: jobs run in Docker)": implemented(),
        "SageMaker Runtime": list(RUNTIME_OPERATIONS),
        "CloudWatch Logs (the jobs' container logs)": list(LOG_OPERATIONS),
        f"everything else, through moto: {MOTO_SERVICES}": [],
    }
