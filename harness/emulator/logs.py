"""CloudWatch Logs for the local jobs: each container's log under the group and
stream names SageMaker uses, so the SDK's `logs=True` prints them as in the cloud.

SageMaker writes a job's log to `/aws/sagemaker/<Kind>Jobs`, one stream per
instance named `<job>/<host>-<epoch seconds>` (a transform job's:
`<job>/<instance id>-<epoch seconds>`); the SDK finds the streams with
DescribeLogStreams (prefix `<job>/`) and reads them with GetLogEvents until a
page comes back empty. An endpoint's containers log to
`/aws/sagemaker/Endpoints/<endpoint>`, stream `<variant>/<instance id>`. A
stream exists once its container wrote a line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.emulator.arns import ACCOUNT, REGION
from harness.emulator.protocol import AwsFault

JOB_LOG_GROUPS = {
    "Processing": "/aws/sagemaker/ProcessingJobs",
    "Training": "/aws/sagemaker/TrainingJobs",
    "Transform": "/aws/sagemaker/TransformJobs",
}
PAGE_LIMIT = 10_000  # GetLogEvents: at most 10,000 events per page
STREAMS_LIMIT = 50  # DescribeLogStreams: at most 50 streams per page


@dataclass
class _Stream:
    name: str
    created_ms: int
    events: list[tuple[int, str]] = field(default_factory=list)


def _now_ms() -> int:
    return int(time.time() * 1000)


class LogStore:
    """Log groups of streams of (timestamp, message) events; thread-safe (containers log from their own threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: dict[str, dict[str, _Stream]] = {}

    def job_writer(self, kind: str, job: str, host: str) -> Callable[[str], None]:
        """A sink for one job container's lines; its stream appears with the first line, as in CloudWatch."""
        group, stream = JOB_LOG_GROUPS[kind], f"{job}/{host}-{int(time.time())}"
        return lambda line: self.append(group, stream, line)

    def writer(self, group: str, stream: str) -> Callable[[str], None]:
        """A sink for one container's lines (an endpoint's, a transform job's), under names the caller chose."""
        return lambda line: self.append(group, stream, line)

    def append(self, group: str, stream: str, message: str) -> None:
        now = _now_ms()
        with self._lock:
            streams = self._groups.setdefault(group, {})
            streams.setdefault(stream, _Stream(stream, now)).events.append((now, message))

    def lines(self, group: str, stream_prefix: str) -> list[str]:
        """Every message of the streams under a prefix, stream by stream (for reports and tests)."""
        with self._lock:
            streams = sorted(self._groups.get(group, {}).values(), key=lambda s: s.name)
            return [message for s in streams if s.name.startswith(stream_prefix) for _, message in s.events]

    # -- the CloudWatch Logs operations the SDK calls ----------------------------------
    def describe_log_streams(self, request: Mapping[str, Any]) -> dict[str, Any]:
        group = self._group(request.get("logGroupName", ""))
        prefix = str(request.get("logStreamNamePrefix", ""))
        with self._lock:
            streams = [s for s in group.values() if s.name.startswith(prefix)]
            if request.get("orderBy") == "LastEventTime":
                streams.sort(key=lambda s: s.events[-1][0] if s.events else s.created_ms)
            else:
                streams.sort(key=lambda s: s.name)
            if request.get("descending"):
                streams.reverse()
            start = int(request.get("nextToken") or 0)
            limit = min(int(request.get("limit") or STREAMS_LIMIT), STREAMS_LIMIT)
            page = streams[start : start + limit]
            described = [self._describe(request["logGroupName"], s) for s in page]
        reply: dict[str, Any] = {"logStreams": described}
        if start + limit < len(streams):
            reply["nextToken"] = str(start + limit)
        return reply

    def get_log_events(self, request: Mapping[str, Any]) -> dict[str, Any]:
        group = self._group(request.get("logGroupName", ""))
        name = str(request.get("logStreamName", ""))
        with self._lock:
            if name not in group:
                raise AwsFault("ResourceNotFoundException", "The specified log stream does not exist.")
            start_ms, end_ms = int(request.get("startTime") or 0), request.get("endTime")
            events = [
                (i, ts, msg)
                for i, (ts, msg) in enumerate(group[name].events)
                if ts >= start_ms and (end_ms is None or ts < int(end_ms))
            ]
        position = _position(request.get("nextToken"), default=0 if request.get("startFromHead") else None)
        limit = min(int(request.get("limit") or PAGE_LIMIT), PAGE_LIMIT)
        if position is None:  # newest first page, as CloudWatch reads without startFromHead
            position = max(0, len(events) - limit)
        page = events[position : position + limit]
        after = position + len(page)
        return {
            "events": [{"timestamp": ts, "message": msg, "ingestionTime": ts} for _, ts, msg in page],
            "nextForwardToken": f"f/{after:056d}",
            "nextBackwardToken": f"b/{position:056d}",
        }

    def _group(self, name: str) -> dict[str, _Stream]:
        with self._lock:
            if name not in self._groups:
                raise AwsFault("ResourceNotFoundException", "The specified log group does not exist.")
            return self._groups[name]

    @staticmethod
    def _describe(group: str, stream: _Stream) -> dict[str, Any]:
        described: dict[str, Any] = {
            "logStreamName": stream.name,
            "creationTime": stream.created_ms,
            "arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:log-stream:{stream.name}",
            "storedBytes": 0,  # CloudWatch reports 0 here since 2019
        }
        if stream.events:
            described |= {
                "firstEventTimestamp": stream.events[0][0],
                "lastEventTimestamp": stream.events[-1][0],
                "lastIngestionTime": stream.events[-1][0],
            }
        return described


def _position(token: Any, default: int | None) -> int | None:
    if not token:
        return default
    try:
        return int(str(token)[2:])
    except ValueError:
        raise AwsFault("InvalidParameterException", f"The specified nextToken is invalid: {token}") from None


LOG_OPERATIONS = ("DescribeLogStreams", "GetLogEvents")
