"""Training metrics from the job's log, as SageMaker reads them: each MetricDefinitions regex applied to every
line as CloudWatch Logs holds it (a tab shows as `#011`), its first group the value; the last value of each
metric is its final one (FinalMetricDataList), stored as a 32-bit float."""

from __future__ import annotations

import re
import struct
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any


def as_logged(line: str) -> str:
    """A container's line as CloudWatch Logs stores it: the agent escapes control characters (a tab: #011)."""
    return line.replace("\t", "#011")


class MetricCollector:
    def __init__(self, definitions: Iterable[tuple[str, str]]) -> None:
        self._definitions = [(name, re.compile(regex)) for name, regex in definitions]
        self._final: dict[str, tuple[float, datetime]] = {}
        self._lock = threading.Lock()

    def feed(self, line: str) -> None:
        for name, pattern in self._definitions:
            match = pattern.search(line)
            if match is None or not match.groups():
                continue
            try:
                value = float(match.group(1))
            except ValueError:  # SageMaker skips a match that is not a number
                continue
            with self._lock:
                self._final[name] = (_float32(value), datetime.now(UTC))

    def final(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"MetricName": n, "Value": v, "Timestamp": t} for n, (v, t) in sorted(self._final.items())]


def _float32(value: float) -> float:
    return float(struct.unpack("f", struct.pack("f", value))[0])
