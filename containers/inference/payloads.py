"""Request decoding and response encoding for /invocations.

Pure functions, no Flask: every client mistake becomes a PayloadError that
carries its HTTP status, so the server answers 4xx and stays healthy.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np

CSV = "text/csv"
JSON = "application/json"
SUPPORTED = (CSV, JSON)
# A row is 1 level, a list of rows 2, {"instances": [[...]]} 3. json.loads recurses
# once per level and fails with RecursionError near 1,000, so deeper documents are
# refused before parsing.
MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # brackets inside strings do not nest
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


@dataclass(frozen=True)
class PayloadError(Exception):
    status: int
    message: str

    def __str__(self) -> str:
        return self.message


def media_type(header: str | None) -> str:
    """`text/csv; charset=utf-8` -> `text/csv`."""
    return (header or "").split(";", 1)[0].strip().lower()


def request_format(content_type: str | None) -> str:
    kind = media_type(content_type)
    if kind not in SUPPORTED:
        shown = kind or "(none)"
        raise PayloadError(415, f"unsupported Content-Type {shown}; send one of {', '.join(SUPPORTED)}")
    return kind


def response_format(accept: str | None, request_kind: str) -> str:
    """The first supported type in Accept; `*/*` or no Accept echoes the request's."""
    if not accept:
        return request_kind
    for part in accept.split(","):
        kind = media_type(part)
        if kind in SUPPORTED:
            return kind
        if kind in ("*/*", "text/*" if request_kind == CSV else "application/*"):
            return request_kind
    raise PayloadError(406, f"cannot answer with Accept {accept!r}; accept one of {', '.join(SUPPORTED)}")


def _text(body: bytes) -> str:
    if not body or not body.strip():
        raise PayloadError(400, "empty request body; send at least one row of features")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PayloadError(400, f"request body is not UTF-8 text (byte {error.start})") from None


def _checked(rows: np.ndarray, n_features: int) -> np.ndarray:
    if rows.ndim != 2 or rows.shape[1] != n_features:
        width = rows.shape[1] if rows.ndim == 2 else rows.size
        raise PayloadError(400, f"each row must have {n_features} features, got {width}")
    if not np.isfinite(rows).all():
        raise PayloadError(400, "features must be finite numbers (no NaN, no infinity, magnitude below 1.8e308)")
    return rows


def decode_csv(body: bytes, n_features: int) -> np.ndarray:
    lines = [line for line in _text(body).splitlines() if line.strip()]
    rows = [line.split(",") for line in lines]
    for number, row in enumerate(rows, start=1):
        if len(row) != n_features:
            raise PayloadError(400, f"CSV row {number} has {len(row)} columns; the model expects {n_features}")
    try:
        array = np.array(rows, dtype=np.float64)
    except ValueError:
        raise PayloadError(400, f"CSV holds a non-numeric value: {_first_non_numeric(rows)!r}") from None
    return _checked(array, n_features)


def _first_non_numeric(rows: list[list[str]]) -> str:
    for row in rows:
        for cell in row:
            try:
                float(cell)
            except ValueError:
                return cell.strip()
    return ""


def json_depth(body: bytes) -> int:
    """The deepest bracket nesting outside JSON strings, without parsing."""
    if b'"' in body:
        body = _JSON_STRING.sub(b"", body)
    codes = np.frombuffer(body.translate(None, _NOT_BRACKETS), dtype=np.uint8)  # ~20 us for a small body
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max(initial=0))


def _parse_json(body: bytes) -> object:
    text = _text(body)
    depth = json_depth(body)
    if depth > MAX_JSON_DEPTH:
        raise PayloadError(
            400,
            f"JSON nested {depth} levels deep; at most {MAX_JSON_DEPTH} are accepted "
            "(a list of rows needs 2, an instances object 3)",
        )
    try:
        # Integers as floats: a huge one becomes infinity (refused below), instead of
        # an OverflowError in numpy or a ValueError past Python's 4,300-digit limit.
        return json.loads(text, parse_int=float)
    except json.JSONDecodeError as error:
        raise PayloadError(400, f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}") from None


def decode_json(body: bytes, n_features: int) -> np.ndarray:
    document = _parse_json(body)
    if isinstance(document, dict):
        if "instances" not in document:
            raise PayloadError(400, 'JSON object must have an "instances" list of rows')
        document = document["instances"]
    if not isinstance(document, list) or not document:
        raise PayloadError(400, "JSON must be a row (list of numbers) or a non-empty list of rows")
    rows = document if isinstance(document[0], list) else [document]
    if any(not isinstance(v, (int, float)) or isinstance(v, bool) for row in rows for v in _cells(row)):
        raise PayloadError(400, "every JSON feature must be a number")
    for number, row in enumerate(rows, start=1):
        if len(row) != n_features:  # numpy refuses ragged rows with a ValueError
            raise PayloadError(400, f"JSON row {number} has {len(row)} features; the model expects {n_features}")
    return _checked(np.array(rows, dtype=np.float64), n_features)


def _cells(row: object) -> list[object]:
    if not isinstance(row, list):
        raise PayloadError(400, "every JSON row must be a list of numbers")
    return row


def decode(body: bytes, kind: str, n_features: int) -> np.ndarray:
    return decode_csv(body, n_features) if kind == CSV else decode_json(body, n_features)


def encode(labels: np.ndarray, probabilities: np.ndarray | None, kind: str) -> str:
    """CSV: one label per line. JSON: label and probability per row (probabilities required)."""
    if kind == CSV:
        return "".join(f"{int(label)}\n" for label in labels)
    if probabilities is None:
        raise ValueError("JSON answers need the probabilities")
    predictions = [
        {"label": int(label), "probability": round(float(p), 6)} for label, p in zip(labels, probabilities, strict=True)
    ]
    return json.dumps({"predictions": predictions})
