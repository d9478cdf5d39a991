"""Step caching (`CacheConfig`), with the service's semantics, kept on disk between runs.

The service reuses a step's earlier successful run, within the step's ExpireAfter, when the attributes it
lists for the step's type are equal after parameters and upstream properties are resolved
(docs.aws.amazon.com/sagemaker/latest/dg/pipelines-default-keys.html); only those attributes count (a job's
output location, which the SDK makes per execution, does not). Beyond the service's rule, and said so in the
README: the local image each job would run is compared by its ID, so a rebuilt image with other content misses.

A local server's S3 lives only as long as the server (a `run` command's lasts as long as the command), so an
entry keeps a copy of the objects the job wrote (its outputs), content-addressed under the state folder, and a
hit puts them back at the same URIs before the step's properties point downstream steps at them. Entries past
every expiry are pruned when a pipeline run opens the cache, and then, while the copies take more than
HARNESS_STEP_CACHE_MB (default 2048), the entries used least recently (a hit counts as a use): a step whose
inputs or code change gets a new entry every run, and the service's cache, which keeps no copies, has no such
limit to follow. An entry evicted is only a miss later.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from harness.emulator.storage import EmbeddedS3, S3Uri, sha256_file
from harness.env_limits import positive_whole
from harness.errors import UserError
from harness.statefiles import write_atomically

# The attributes the service compares, by step type (its documentation's list).
CACHE_KEY_ATTRIBUTES: Mapping[str, tuple[str, ...]] = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": ("AlgorithmSpecification", "CheckpointConfig", "DebugHookConfig", "DebugRuleConfigurations",
                 "Environment", "HyperParameters", "InputDataConfig"),
    "Transform": ("DataProcessing", "Environment", "ModelName", "TransformInput"),
    "Tuning": ("HyperParameterTuningJobConfig", "TrainingJobDefinition", "TrainingJobDefinitions"),
    # Its processing job's, and the check's own settings (resolved; the step's members beside its Arguments).
    "QualityCheck": ("AppSpecification", "Environment", "ProcessingInputs", "CheckType", "SkipCheck",
                     "RegisterNewBaseline", "FailOnViolation", "ModelPackageGroupName", "SuppliedBaselineStatistics",
                     "SuppliedBaselineConstraints"),
}  # fmt: skip
_DURATION = re.compile(
    r"^P?(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$",
    re.IGNORECASE,
)
_DAYS = {"years": 365, "months": 30, "weeks": 7, "days": 1}
_SECONDS = {"hours": 3600, "minutes": 60, "seconds": 1}
_LOG = logging.getLogger(__name__)
DEFAULT_MAX_MB = 2048  # HARNESS_STEP_CACHE_MB: the copies of cached steps' outputs, together
ImageIdentity = Callable[[str], "str | None"]  # an image URI -> the ID of the local image that would run it


@dataclass(frozen=True)
class CachePolicy:
    """A step's CacheConfig: caching on, and for how long an earlier run counts (None: no expiry)."""

    expire_after: timedelta | None

    @classmethod
    def of(cls, step: Mapping[str, Any]) -> CachePolicy | None:
        """The step's policy, None when caching is off; a bad CacheConfig is refused, naming the step."""
        config = step.get("CacheConfig")
        if not config or not config.get("Enabled"):
            return None
        name, kind = step.get("Name"), step.get("Type")
        if kind not in CACHE_KEY_ATTRIBUTES:
            raise UserError(
                f"step {name!r}: CacheConfig on a {kind} step, which the local harness does not cache",
                fix=f"remove its cache_config (the harness caches {', '.join(CACHE_KEY_ATTRIBUTES)} steps)",
            )
        expire = config.get("ExpireAfter")
        return cls(None if expire is None else parse_duration(str(expire), str(name)))


def parse_duration(text: str, step: str) -> timedelta:
    """ISO 8601 durations as the service takes them ("PT1H", "P30D"; its documentation also writes "30d",
    "T16m", "30dT5h"); a year counts 365 days, a month 30."""
    match = _DURATION.match(text.strip())
    if not text.strip() or text.strip().upper() in ("P", "PT") or match is None or not any(match.groupdict().values()):
        raise UserError(
            f"step {step!r}: CacheConfig ExpireAfter {text!r} is not an ISO 8601 duration",
            fix='write it as "PT1H" (an hour), "P30D" (30 days), "P1Y" or "PT30M"',
        )
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    days = sum(_DAYS[k] * v for k, v in parts.items() if k in _DAYS)
    seconds = sum(_SECONDS[k] * v for k, v in parts.items() if k in _SECONDS)
    return timedelta(days=days, seconds=seconds)


@dataclass(frozen=True)
class CacheHit:
    source_execution_arn: str
    description: dict[str, Any]  # the source job's description: the step's properties


def cache_limit(environment: Mapping[str, str] = os.environ) -> int:
    """The bytes the cache's copies may take (HARNESS_STEP_CACHE_MB); a bad value is refused."""
    return positive_whole("HARNESS_STEP_CACHE_MB", DEFAULT_MAX_MB, environment) * 1024 * 1024


class StepCache:
    """Entries under `folder`: one JSON file per (pipeline, key), blobs by sha256 beside them."""

    def __init__(self, folder: Path, s3: EmbeddedS3, image_identity: ImageIdentity, max_bytes: int) -> None:
        self.folder = folder
        self._s3 = s3
        self._image_identity = image_identity
        self._max_bytes = max_bytes
        self._lock = threading.Lock()

    def key(self, pipeline: str, step: Mapping[str, Any], arguments: Mapping[str, Any]) -> str:
        """What the service compares, plus the local image's ID, as one digest."""
        kind = str(step["Type"])
        compared = {attribute: arguments.get(attribute) for attribute in CACHE_KEY_ATTRIBUTES[kind]}
        document = {
            "pipeline": pipeline,
            "step": step["Name"],
            "type": kind,
            "attributes": compared,
            "image": {uri: self._image_identity(uri) for uri in _images(kind, arguments)},
        }
        return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()

    def find(self, pipeline: str, key: str, policy: CachePolicy, now: datetime) -> CacheHit | None:
        """The earlier successful run with this key, within the policy's expiry; its objects put back in S3."""
        with self._lock:
            return self._find(pipeline, key, policy, now)

    def _find(self, pipeline: str, key: str, policy: CachePolicy, now: datetime) -> CacheHit | None:
        entry_file = self._entry_file(pipeline, key)
        if not entry_file.is_file():
            return None
        entry = _read(entry_file)
        if entry is None:
            return None
        created = datetime.fromisoformat(entry["created"])
        if policy.expire_after is not None and now - created > policy.expire_after:
            return None
        for item in entry["objects"]:
            blob = self._blob(item["sha256"])
            if not blob.is_file():  # pruned or deleted by hand: the entry no longer stands
                return None
        for item in entry["objects"]:
            self._s3.put_file(self._blob(item["sha256"]), S3Uri.parse(item["uri"]))
        with contextlib.suppress(OSError):  # its last use: the least recently used entries go first when full
            entry_file.touch()
        return CacheHit(entry["source_execution_arn"], entry["description"])

    def store(
        self,
        pipeline: str,
        key: str,
        execution_arn: str,
        description: Mapping[str, Any],
        policy: CachePolicy,
        now: datetime,
    ) -> int:
        """Keep a successful run: its description and a copy of every object it wrote. Returns the objects kept."""
        with self._lock:  # a prune meanwhile would take the new blobs for orphans
            return len(self._keep(pipeline, key, execution_arn, description, policy, now))

    def _keep(self, pipeline: str, key: str, execution_arn: str, description: Mapping[str, Any],
              policy: CachePolicy, now: datetime) -> list[dict[str, str]]:  # fmt: skip
        objects = []
        blobs = self.folder / "blobs"
        blobs.mkdir(parents=True, exist_ok=True)
        for prefix in written_prefixes(description):
            for key_name in self._s3.keys(prefix):
                uri = S3Uri(prefix.bucket, key_name)
                staging = blobs / f".incoming-{threading.get_ident()}"
                self._s3.get_file(uri, staging)
                digest = sha256_file(staging)
                staging.replace(self._blob(digest))
                objects.append({"uri": str(uri), "sha256": digest})
        expires = None if policy.expire_after is None else (now + policy.expire_after).isoformat()
        entry = {"created": now.isoformat(), "expires": expires, "source_execution_arn": execution_arn,
                 "objects": objects, "description": json.loads(json.dumps(description, default=str))}  # fmt: skip
        entry_file = self._entry_file(pipeline, key)
        entry_file.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(entry_file, json.dumps(entry, indent=1))
        return objects

    def prune(self, now: datetime) -> None:
        """Remove entries past the expiry they were stored with, then the least recently used while the copies
        take more than the limit, then the blobs no entry names."""
        with self._lock:
            entries = self.folder / "entries"
            alive: list[tuple[float, Path, set[str]]] = []  # (last use, entry file, its blobs)
            for entry_file in sorted(entries.glob("*/*.json")) if entries.is_dir() else []:
                try:
                    entry = json.loads(entry_file.read_text())
                    expired = entry.get("expires") and datetime.fromisoformat(entry["expires"]) < now
                    digests = {str(item["sha256"]) for item in entry.get("objects", [])}
                except (ValueError, TypeError, AttributeError, KeyError):
                    expired = True  # unreadable: it cannot be a hit anyway
                if expired:
                    entry_file.unlink(missing_ok=True)
                    continue
                with contextlib.suppress(OSError):  # another run's prune removed it meanwhile
                    alive.append((entry_file.stat().st_mtime, entry_file, digests))
            kept = self._within_limit(sorted(alive, key=lambda item: item[0]))
            blobs = self.folder / "blobs"
            for blob in blobs.iterdir() if blobs.is_dir() else []:
                if blob.name not in kept and not blob.name.startswith(".incoming-"):
                    blob.unlink(missing_ok=True)

    def _within_limit(self, by_last_use: list[tuple[float, Path, set[str]]]) -> set[str]:
        """Evict the oldest-used entries while the blobs the entries name take more than the limit; the blobs
        the remaining entries name."""
        users: dict[str, int] = {}
        for _, _, digests in by_last_use:
            for digest in digests:
                users[digest] = users.get(digest, 0) + 1
        sizes = {digest: self._size(digest) for digest in users}
        total = sum(sizes.values())
        for _, entry_file, digests in by_last_use:
            if total <= self._max_bytes:
                break
            entry_file.unlink(missing_ok=True)
            for digest in digests:
                users[digest] -= 1
                if users[digest] == 0:  # no other entry shares this copy
                    total -= sizes[digest]
        return {digest for digest, count in users.items() if count > 0}

    def _size(self, digest: str) -> int:
        try:
            return self._blob(digest).stat().st_size
        except OSError:
            return 0

    def _entry_file(self, pipeline: str, key: str) -> Path:
        return self.folder / "entries" / _safe(pipeline) / f"{key}.json"

    def _blob(self, digest: str) -> Path:
        return self.folder / "blobs" / digest


def written_prefixes(description: Mapping[str, Any]) -> list[S3Uri]:
    """Where a job wrote its outputs, from its description: processing outputs, a training job's own folder
    under its output path, a transform's output path."""
    found: list[str] = []
    for output in (description.get("ProcessingOutputConfig") or {}).get("Outputs", []):
        uri = (output.get("S3Output") or {}).get("S3Uri")
        if uri:
            found.append(uri)
    training_output = (description.get("OutputDataConfig") or {}).get("S3OutputPath")
    if training_output and description.get("TrainingJobName"):
        found.append(f"{str(training_output).rstrip('/')}/{description['TrainingJobName']}")
    tuning_output = ((description.get("TrainingJobDefinition") or {}).get("OutputDataConfig") or {}).get("S3OutputPath")
    for summary in description.get("TrainingJobSummaries", []) if tuning_output else []:
        found.append(f"{str(tuning_output).rstrip('/')}/{summary['TrainingJobName']}")
    transform_output = (description.get("TransformOutput") or {}).get("S3OutputPath")
    if transform_output:
        found.append(str(transform_output))
    return [S3Uri.parse(uri.rstrip("/") + "/") for uri in found if str(uri).startswith("s3://")]


def _images(kind: str, arguments: Mapping[str, Any]) -> list[str]:
    if kind in ("Processing", "QualityCheck"):
        image = (arguments.get("AppSpecification") or {}).get("ImageUri")
    elif kind == "Training":
        image = (arguments.get("AlgorithmSpecification") or {}).get("TrainingImage")
    elif kind == "Tuning":
        image = ((arguments.get("TrainingJobDefinition") or {}).get("AlgorithmSpecification") or {}).get(
            "TrainingImage"
        )
    else:
        image = None  # a transform's image is its model's, and its ModelName is compared already
    return [str(image)] if image else []


def _read(entry_file: Path) -> dict[str, Any] | None:
    """An entry, or None when it cannot be read back (hand-edited, cut short): a miss, overwritten by the rerun."""
    try:
        entry: dict[str, Any] = json.loads(entry_file.read_text())
        datetime.fromisoformat(entry["created"])
        return entry
    except (ValueError, KeyError, TypeError) as error:
        _LOG.warning("the step cache entry %s is unreadable (%s): the step runs again", entry_file, error)
        return None


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "_"
