"""List operations' shared rules: filters, sort order and NextToken pages, as SageMaker's List* calls take them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from harness.emulator.protocol import AwsFault

DEFAULT_MAX_RESULTS = 10  # most SageMaker List* calls return 10 items per page unless MaxResults says otherwise


def page(
    items: Sequence[Mapping[str, Any]],
    request: Mapping[str, Any],
    key: str,
    name_field: str,
    time_field: str = "CreationTime",
) -> dict[str, Any]:
    """`{key: [...], NextToken?}` for one page of `items`, filtered and sorted as the request asks."""
    chosen = [item for item in items if _matches(item, request, name_field)]
    sort_by = str(request.get("SortBy") or "CreationTime")
    field = name_field if sort_by == "Name" else time_field
    chosen.sort(key=_sort_key(field), reverse=request.get("SortOrder", "Descending") == "Descending")
    start = _start(request.get("NextToken"))
    size = int(request.get("MaxResults") or DEFAULT_MAX_RESULTS)
    reply: dict[str, Any] = {key: [dict(item) for item in chosen[start : start + size]]}
    if start + size < len(chosen):
        reply["NextToken"] = str(start + size)
    return reply


def _matches(item: Mapping[str, Any], request: Mapping[str, Any], name_field: str) -> bool:
    contains = request.get("NameContains")
    if contains and str(contains).lower() not in str(item.get(name_field, "")).lower():
        return False
    status = request.get("StatusEquals")
    if status and not any(v == status for k, v in item.items() if k.endswith("Status")):
        return False
    after, before = request.get("CreationTimeAfter"), request.get("CreationTimeBefore")
    created = item.get("CreationTime")
    if isinstance(created, datetime):
        if after is not None and created <= _as_time(after):
            return False
        if before is not None and created >= _as_time(before):
            return False
    return True


def _as_time(value: Any) -> datetime:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value))


def _sort_key(field: str) -> Callable[[Mapping[str, Any]], Any]:
    def key(item: Mapping[str, Any]) -> Any:
        value = item.get(field)
        return value.timestamp() if isinstance(value, datetime) else str(value or "")

    return key


def _start(token: Any) -> int:
    if not token:
        return 0
    try:
        return int(token)
    except (TypeError, ValueError):
        raise AwsFault("ValidationException", f"Invalid pagination token: {token}") from None
