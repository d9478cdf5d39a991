"""The environment a local run executes in: nothing in it can reach AWS.

The SageMaker SDK creates boto3 sessions of its own (one at import time, for
JumpStart), and boto3 then walks the host's credential chain: credential
files, SSO, and the EC2 instance metadata service on 169.254.169.254. A local
run therefore re-executes itself in an environment where that chain ends at
static dummy credentials, instance metadata is off, the host's AWS profile and
keys are absent, and the SDK's v2 banner is quiet.
"""

from __future__ import annotations

from collections.abc import Mapping

MARKER = "HARNESS_OFFLINE_SANDBOX"
_DROPPED_PREFIXES = ("AWS_",)
_FORCED = {
    "AWS_ACCESS_KEY_ID": "harness-local",
    "AWS_SECRET_ACCESS_KEY": "harness-local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
    MARKER: "1",
}


def sanitized(environ: Mapping[str, str]) -> dict[str, str]:
    """A copy of `environ` without the host's AWS settings, with the offline ones."""
    kept = {k: v for k, v in environ.items() if not k.startswith(_DROPPED_PREFIXES)}
    no_proxy = {h for h in kept.get("NO_PROXY", kept.get("no_proxy", "")).split(",") if h}
    loopback = ",".join(sorted(no_proxy | {"127.0.0.1", "localhost"}))
    return {**kept, **_FORCED, "NO_PROXY": loopback, "no_proxy": loopback}


def is_sanitized(environ: Mapping[str, str]) -> bool:
    return environ.get(MARKER) == "1"
