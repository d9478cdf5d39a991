"""The SDK's config validation (jsonschema, ~0.1 s a call) runs once per distinct config, whichever SDK module asks."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sagemaker.config.config as sdk_config
import sagemaker.local.local_session as sdk_local_session
import sagemaker.utils as sdk_utils

from harness.emulator.sdk_session import validate_config_once


def test_local_session_and_config_lookups_share_one_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    original = sdk_config.jsonschema.validate
    monkeypatch.setattr(
        sdk_config.jsonschema, "validate", lambda *args, **kw: (calls.append(args), original(*args, **kw))
    )
    validate_config_once()
    # A config no other test used (the cache is per content); telemetry off, as the harness's.
    config = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}
    config["CustomParameters"] = {"test": uuid.uuid4().hex}
    sdk_local_session.validate_sagemaker_config(config)  # LocalSession.__init__ calls it twice by this name
    sdk_local_session.validate_sagemaker_config(config)
    sdk_utils.validate_sagemaker_config(config)  # every config lookup, by this one
    assert len(calls) == 1
