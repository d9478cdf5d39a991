"""Pipeline definitions for promotion: rebuilt from jobs/pipeline.py without
touching AWS, compared with the verified one, with the documented
substitutions applied (local image tags -> ECR URIs, local bucket -> cloud
bucket, local role -> cloud role, local pipeline name -> cloud name)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from harness.emulator.sdk_session import HarnessSession
from harness.emulator.storage import EmbeddedS3


@dataclass(frozen=True)
class Substitutions:
    bucket: tuple[str, str]
    role: tuple[str, str]
    pipeline_name: tuple[str, str]
    images: dict[str, str]  # local tag -> cloud image URI

    def apply(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self.apply(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.apply(item) for item in value]
        if isinstance(value, str):
            return self._text(value)
        return value

    def _text(self, text: str) -> str:
        if text.startswith("s3://"):
            segments = text[len("s3://") :].split("/")
            segments[0] = self.bucket[1] if segments[0] == self.bucket[0] else segments[0]
            return "s3://" + "/".join(self.pipeline_name[1] if s == self.pipeline_name[0] else s for s in segments)
        exact = {
            self.bucket[0]: self.bucket[1],
            self.role[0]: self.role[1],
            self.pipeline_name[0]: self.pipeline_name[1],
            **self.images,
        }
        return exact.get(text, text)


def build_definition(module: ModuleType, name: str, bucket: str, images: dict[str, str], role: str) -> str:
    """The configured pipeline's definition for these settings (`images`: PipelineSettings field -> image),
    built against a throwaway local S3."""
    with EmbeddedS3() as s3:
        session = HarnessSession(s3, bucket, client=None, runtime=None)
        settings = module.PipelineSettings(bucket=bucket, role=role, name=name, **images)
        return str(module.build_pipeline(session, settings).definition())


def differences(expected: Any, actual: Any, path: str = "$", limit: int = 10) -> list[str]:
    """Where two JSON documents differ, as `path: expected -> actual` lines."""
    found: list[str] = []
    _walk(expected, actual, path, found, limit)
    return found


def _walk(expected: Any, actual: Any, path: str, found: list[str], limit: int) -> None:
    if len(found) >= limit:
        return
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            name = expected.get("Name", "") if key == "Name" else key
            _walk(expected.get(key), actual.get(key), f"{path}.{name}", found, limit)
    elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            label = left.get("Name", index) if isinstance(left, dict) else index
            _walk(left, right, f"{path}[{label}]", found, limit)
    elif expected != actual:
        found.append(f"{path}: {json.dumps(expected)[:80]} -> {json.dumps(actual)[:80]}")
