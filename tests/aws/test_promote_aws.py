"""Opt-in: the promotion dry run against a real AWS account.

Runs only when HARNESS_AWS_ROLE_ARN and HARNESS_AWS_BUCKET are set (and the
standard boto3 credential chain finds credentials); skipped otherwise.
"""

import os
import subprocess
import sys

import pytest

pytestmark = [
    pytest.mark.aws,
    pytest.mark.skipif(
        not (os.environ.get("HARNESS_AWS_ROLE_ARN") and os.environ.get("HARNESS_AWS_BUCKET")),
        reason="set HARNESS_AWS_ROLE_ARN and HARNESS_AWS_BUCKET (and AWS credentials) to run against a real account",
    ),
]


def test_dry_run_against_a_real_account(project_root) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "promote",
            "--role-arn",
            os.environ["HARNESS_AWS_ROLE_ARN"],
            "--bucket",
            os.environ["HARNESS_AWS_BUCKET"],
        ],
        cwd=project_root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "Dry run: nothing was changed" in result.stdout
