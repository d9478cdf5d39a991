"""Model Monitor's record preprocessor for this project's endpoint (`record_preprocessor_script`).

The endpoint takes CSV rows or JSON (one row, a list of rows, or {"instances": [...]}) and answers CSV labels
(one a line) or JSON {"predictions": [{"label", "probability"}, ...]}. The data-quality baseline is the training
table as the pipeline writes it: the label, then the 30 features, no header (`_c0` .. `_c30`). Each captured
row becomes one record in that layout, with the label the endpoint served in the label's place.

Model Monitor calls `preprocess_handler(inference_record)` once per captured request; the standard library only
(it runs inside the monitoring container).
"""

from __future__ import annotations

import base64
import csv
import io
import json


def _text(side) -> str:
    data = side.data or ""
    return base64.b64decode(data).decode("utf-8") if side.encoding == "BASE64" else data


def _features(side) -> list[list[float]]:
    text = _text(side)
    if "json" not in (side.observed_content_type or ""):
        return [[float(v) for v in row] for row in csv.reader(io.StringIO(text)) if row]
    document = json.loads(text)
    rows = document["instances"] if isinstance(document, dict) else document
    return [rows] if rows and not isinstance(rows[0], list) else rows


def _labels(side) -> list[int]:
    text = _text(side)
    if "json" not in (side.observed_content_type or ""):
        return [int(float(line)) for line in text.split()]
    return [int(p["label"]) for p in json.loads(text)["predictions"]]


def preprocess_handler(inference_record):
    rows = _features(inference_record.endpoint_input)
    labels = _labels(inference_record.endpoint_output)
    return [{f"_c{i}": value for i, value in enumerate([label, *row])} for label, row in zip(labels, rows, strict=True)]
