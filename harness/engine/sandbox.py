"""The environment a local run executes in: nothing in it can reach AWS.

The SageMaker SDK creates boto3 sessions of its own (one at import time, for
JumpStart), and boto3 then walks the host's credential chain: credential
files, SSO, and the EC2 instance metadata service on 169.254.169.254. A local
run therefore re-executes itself in an environment where that chain ends at
static dummy credentials, instance metadata is off, the host's AWS profile and
keys are absent, and the SDK's v2 banner is quiet.

The library door (`LocalEnvironment` in a user's own Python) cannot re-execute
the user's process, so `offline_sdk_import` gives the SDK's import alone that
environment (see there).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping, MutableMapping

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


def aws_overrides(environ: Mapping[str, str]) -> dict[str, str | None]:
    """The AWS_* changes `sanitized` makes: a value to set, or None to remove."""
    offline = {k: v for k, v in sanitized(environ).items() if k.startswith(_DROPPED_PREFIXES)}
    return {**{k: None for k in environ if k.startswith(_DROPPED_PREFIXES) and k not in offline}, **offline}


@contextlib.contextmanager
def overridden(environ: MutableMapping[str, str], changes: Mapping[str, str | None]) -> Iterator[None]:
    """Apply `changes` to `environ` for the block, then put every touched key back as it was."""
    saved = {key: environ.get(key) for key in changes}
    try:
        for key, value in changes.items():
            _put(environ, key, value)
        yield
    finally:
        for key, value in saved.items():
            _put(environ, key, value)


def _put(environ: MutableMapping[str, str], key: str, value: str | None) -> None:
    if value is None:
        environ.pop(key, None)
    else:
        environ[key] = value


def offline_sdk_import() -> contextlib.AbstractContextManager[None]:
    """The environment for importing the SDK (`with offline_sdk_import(): import sagemaker...`).

    `import sagemaker` builds a boto3 session for JumpStart, and creating its
    client walks the host's credential chain, which ends at the EC2 instance
    metadata service (169.254.169.254: an IMDSv2 token PUT, then the IMDSv1
    role GET). That session takes no configuration but the process
    environment, so for the import only (a process-level change is
    unavoidable here) the environment holds dummy keys with instance metadata
    off; every key is restored right after. Side effect: the SDK's default
    JumpStart session keeps the dummy keys. When the user's code imported the
    SDK first, it was imported under the user's own environment: nothing to do.
    """
    if "sagemaker" in sys.modules:
        return contextlib.nullcontext()
    return overridden(os.environ, aws_overrides(os.environ))
