"""CacheConfig as the service reads it: its ExpireAfter durations, the attributes a step's key compares, and the
steps and values it refuses when the pipeline is created."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from harness.emulator.executor import validate
from harness.emulator.step_cache import (
    DEFAULT_MAX_MB,
    CachePolicy,
    StepCache,
    cache_limit,
    parse_duration,
    written_prefixes,
)
from harness.errors import UserError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT1H", timedelta(hours=1)),
        ("P30D", timedelta(days=30)),
        ("30d", timedelta(days=30)),  # the service's documentation writes them without the P too
        ("T16m", timedelta(minutes=16)),
        ("30dT5h", timedelta(days=30, hours=5)),
        ("P1Y", timedelta(days=365)),
        ("P2W", timedelta(days=14)),
        ("PT90S", timedelta(seconds=90)),
    ],
)
def test_expire_after_reads_iso_8601_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text, "Step") == expected


@pytest.mark.parametrize("text", ["", "P", "PT", "1 hour", "PT1.5H", "H1", "-P1D"])
def test_an_expire_after_that_is_not_a_duration_is_refused_naming_the_step(text: str) -> None:
    with pytest.raises(UserError, match=f"step 'Prep': CacheConfig ExpireAfter {text!r} is not an ISO 8601"):
        parse_duration(text, "Prep")


def _processing(name: str, cache: dict[str, Any] | None, **arguments: Any) -> dict[str, Any]:
    step: dict[str, Any] = {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "AppSpecification": {"ImageUri": "img:1"},
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                                      "VolumeSizeInGB": 30}},
            "RoleArn": "arn:aws:iam::000000000000:role/r",
            **arguments,
        },
    }  # fmt: skip
    if cache is not None:
        step["CacheConfig"] = cache
    return step


def test_a_bad_cache_config_is_refused_when_the_pipeline_is_created() -> None:
    with pytest.raises(UserError, match="step 'Prep': CacheConfig ExpireAfter 'soon'"):
        validate({"Steps": [_processing("Prep", {"Enabled": True, "ExpireAfter": "soon"})]})
    with pytest.raises(UserError, match="step 'Gate': CacheConfig on a Condition step"):
        validate({"Steps": [{"Name": "Gate", "Type": "Condition", "Arguments": {"Conditions": []},
                             "CacheConfig": {"Enabled": True}}]})  # fmt: skip
    assert CachePolicy.of(_processing("Prep", {"Enabled": False, "ExpireAfter": "soon"})) is None  # off: unread
    assert CachePolicy.of(_processing("Prep", {"Enabled": True})) == CachePolicy(None)  # no expiry given


def test_the_key_compares_the_services_attributes_and_the_local_image_only(tmp_path: Path) -> None:
    images = {"img:1": "sha256:aaa"}
    cache = StepCache(tmp_path, s3=None, image_identity=images.get, max_bytes=1 << 30)  # type: ignore[arg-type]
    step = _processing("Prep", {"Enabled": True})
    inputs = [{"InputName": "code", "S3Input": {"S3Uri": "s3://b/p/code/abc/prep.py"}}]
    base = cache.key("p", step, {**step["Arguments"], "ProcessingInputs": inputs})

    other_output = {"Outputs": [{"OutputName": "o", "S3Output": {"S3Uri": "s3://b/p/exec-2/Prep/o"}}]}
    same = cache.key("p", step, {**step["Arguments"], "ProcessingInputs": inputs,
                                 "ProcessingOutputConfig": other_output})  # fmt: skip
    assert same == base  # where the job writes is not compared (the SDK makes it per execution)

    new_code = [{"InputName": "code", "S3Input": {"S3Uri": "s3://b/p/code/def/prep.py"}}]
    assert cache.key("p", step, {**step["Arguments"], "ProcessingInputs": new_code}) != base
    assert cache.key("p", step, {**step["Arguments"], "ProcessingInputs": inputs, "Environment": {"A": "1"}}) != base
    assert cache.key("other-pipeline", step, {**step["Arguments"], "ProcessingInputs": inputs}) != base
    images["img:1"] = "sha256:bbb"  # the same tag, rebuilt with other content
    assert cache.key("p", step, {**step["Arguments"], "ProcessingInputs": inputs}) != base


def test_what_a_job_wrote_is_found_from_its_description() -> None:
    processing = {"ProcessingOutputConfig": {"Outputs": [{"S3Output": {"S3Uri": "s3://b/run/Prep/train"}}]}}
    training = {"TrainingJobName": "pipelines-x-Fit", "OutputDataConfig": {"S3OutputPath": "s3://b/models/"}}
    transform = {"TransformOutput": {"S3OutputPath": "s3://b/scored"}}
    assert [str(p) for p in written_prefixes(processing)] == ["s3://b/run/Prep/train/"]
    assert [str(p) for p in written_prefixes(training)] == ["s3://b/models/pipelines-x-Fit/"]
    assert [str(p) for p in written_prefixes(transform)] == ["s3://b/scored/"]


def test_the_run_local_summary_marks_cached_and_retried_steps() -> None:
    import io

    from harness.progress import Progress
    from harness.project.summary import print_summary

    out = io.StringIO()
    record = {"run_id": "r", "status": "Succeeded", "seconds": 1.0, "path": "p", "steps": [
        {"name": "Train", "type": "Training", "status": "Succeeded", "seconds": 0.0, "metadata": {},
         "cache_hit": "arn:aws:sagemaker:us-east-1:000000000000:pipeline/p/execution/abc123def456"},
        {"name": "Evaluate", "type": "Processing", "status": "Succeeded", "seconds": 2.0, "metadata": {},
         "attempts": 2},
    ]}  # fmt: skip
    print_summary(Progress(stream=out), record)
    text = out.getvalue()
    assert "Succeeded (cached)" in text and "the outputs of execution abc123def456, no container" in text
    assert "Succeeded (attempt 2)" in text


def _entry(cache_folder: Path, name: str, blobs: dict[str, bytes], last_used: float) -> Path:
    """An entry as the cache stores it, naming blobs (written too), last used at `last_used` (its mtime)."""
    (cache_folder / "blobs").mkdir(parents=True, exist_ok=True)
    for digest, body in blobs.items():
        (cache_folder / "blobs" / digest).write_bytes(body)
    entry = cache_folder / "entries" / "team-pipeline" / f"{name}.json"
    entry.parent.mkdir(parents=True, exist_ok=True)
    objects = [{"uri": f"s3://b/{name}/{digest}", "sha256": digest} for digest in blobs]
    entry.write_text(json.dumps({"created": "2026-12-01T00:00:00+00:00", "expires": None,
                                 "source_execution_arn": "arn", "objects": objects, "description": {}}))  # fmt: skip
    os.utime(entry, (last_used, last_used))
    return entry


def test_a_full_cache_evicts_the_least_recently_used_entries_and_keeps_shared_copies(tmp_path: Path) -> None:
    cache = StepCache(tmp_path, s3=None, image_identity={}.get, max_bytes=250)  # type: ignore[arg-type]
    oldest = _entry(tmp_path, "oldest", {"a" * 64: b"x" * 100, "s" * 64: b"y" * 50}, last_used=1000)
    middle = _entry(tmp_path, "middle", {"b" * 64: b"x" * 100}, last_used=2000)
    newest = _entry(tmp_path, "newest", {"c" * 64: b"x" * 100, "s" * 64: b"y" * 50}, last_used=3000)
    cache.prune(datetime.now(UTC))  # 350 bytes of copies for a 250-byte cache: the oldest-used entry goes
    assert (oldest.exists(), middle.exists(), newest.exists()) == (False, True, True)
    assert sorted(p.name[0] for p in (tmp_path / "blobs").iterdir()) == ["b", "c", "s"]  # "s" is newest's too
    cache.prune(datetime.now(UTC))  # within the limit now: nothing more goes
    assert middle.exists() and newest.exists()


def test_the_cache_limit_is_read_from_the_environment_and_a_bad_one_refused() -> None:
    assert cache_limit({}) == DEFAULT_MAX_MB * 1024 * 1024
    assert cache_limit({"HARNESS_STEP_CACHE_MB": "10"}) == 10 * 1024 * 1024
    with pytest.raises(UserError, match="HARNESS_STEP_CACHE_MB='lots' is not a whole number"):
        cache_limit({"HARNESS_STEP_CACHE_MB": "lots"})
