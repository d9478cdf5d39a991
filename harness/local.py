"""The library door: `from harness.local import LocalEnvironment` in a user's own Python.

Importing this module imports the SageMaker SDK first, with instance metadata
off and dummy keys (the SDK builds a boto3 session at import): a script that
imports the harness before `sagemaker`, as the README shows, never sends the
SDK's import to the instance-metadata address. The doors that run other
processes (`run`, `up`) use harness.emulator.environment directly and never
import the SDK themselves.
"""

from __future__ import annotations

import harness.emulator.sdk_session  # noqa: F401 (imported for its effect: the SDK, imported offline)
from harness.emulator.environment import EnvironmentOptions, LocalEnvironment

__all__ = ["EnvironmentOptions", "LocalEnvironment"]
