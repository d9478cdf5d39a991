"""Reading `dataset_source` into one table of text values (None: missing), as the analyzer's Spark reader would.

Column names: a CSV header's; `_c0`, `_c1`, ... for header-less CSV (Spark's names), or, in a monitoring run,
the baseline's feature names by position (AWS's reports name captured CSV columns after the baseline's, e.g. the
label column of a training set for the endpoint's output); flattened keys for JSON (nested objects joined with
'.', lists by index, keys sorted as Spark's JSON reader orders them). A captured record is its endpointOutput
followed by its endpointInput (the SDK's output_columns_position START). For model quality the columns of a
captured record are `<captureIndex>_<position or key>` (endpointOutput_0, groundTruthData_0, ...), the names
AWS's users give them in preprocessor scripts for merged records.
"""

from __future__ import annotations

import base64
import binascii
import csv
import importlib.util
import inspect
import json
import logging
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from harness_standin.model_monitor.contract import AnalyzerError, CaptureFormat, Config, CsvFormat, JsonFormat

Text = str | None
Cell = tuple[str, int | str, Text]  # (capture index, position or key, value)
_HOUR_FOLDER = re.compile(r"(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$")
PREPROCESSOR_FAILED = (
    "There is an exception raised in preprocessor script. Please double check the preprocessor script."
)

log = logging.getLogger("harness_standin.model_monitor")


class EventData:
    """One side of a captured record, with the attributes AWS's preprocessor contract documents."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.encoding = data.get("encoding")
        self.data = data.get("data")
        self.observedContentType = data.get("observedContentType")
        self.observed_content_type = self.observedContentType
        self.mode = data.get("mode")

    def as_dict(self) -> dict[str, Any]:
        return {"encoding": self.encoding, "data": self.data, "observedContentType": self.observedContentType}


class EventMetadata:
    def __init__(self, metadata: dict[str, Any]) -> None:
        self.event_id = metadata.get("eventId")
        self.event_time = metadata.get("inferenceTime")
        self.inference_id = metadata.get("inferenceId")
        self.custom_attribute = metadata.get("customAttributes")


class CapturedData:
    """The `inference_record` a `preprocess_handler` receives."""

    def __init__(self, event: dict[str, Any]) -> None:
        data = event.get("captureData") or {}
        self.event_dict = event
        self.event_metadata = EventMetadata(event.get("eventMetadata") or {})
        self.endpoint_input = EventData(data["endpointInput"]) if "endpointInput" in data else None
        self.endpoint_output = EventData(data["endpointOutput"]) if "endpointOutput" in data else None
        self.ground_truth = EventData(event["groundTruthData"]) if "groundTruthData" in event else None
        self.event_version = event.get("eventVersion")

    def as_dict(self) -> dict[str, Any]:
        return self.event_dict

    def __str__(self) -> str:
        return str(self.event_dict)


def load_handler(script: Path, name: str, missing: str) -> Callable[..., Any]:
    """A user script's handler, loaded from its file as AWS's container does."""
    spec = importlib.util.spec_from_file_location(script.stem, script)
    if spec is None or spec.loader is None or not script.is_file():
        raise AnalyzerError(f"script {script} cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # noqa: BLE001 - any failure of the user's module is the job's failure reason
        raise AnalyzerError(f"script {script} failed to load: {type(error).__name__}: {error}") from None
    handler = getattr(module, name, None)
    if not callable(handler):
        raise AnalyzerError(missing)
    return handler  # type: ignore[no-any-return]


def read(config: Config, baseline_names: Sequence[str] = ()) -> pd.DataFrame:
    """Every file under dataset_source (sorted, recursively) as one table."""
    files = sorted(p for p in config.dataset_source.rglob("*") if p.is_file()) if config.dataset_source.is_dir() else []
    log.info("Reading %d file(s) under %s", len(files), config.dataset_source)
    fmt = config.dataset_format
    if isinstance(fmt, CsvFormat):
        frame = _csv(files, fmt.header, baseline_names)
    elif isinstance(fmt, JsonFormat):
        frame = _frame([record for file in files for record in _json(file, fmt.lines)])
    else:
        frame = _capture(config, fmt, files, baseline_names)
    log.info("Read %d record(s) with %d column(s)", len(frame), len(frame.columns))
    return frame


def _frame(records: list[dict[str, Text]], columns: Sequence[str] = ()) -> pd.DataFrame:
    names = dict.fromkeys(columns)
    for record in records:
        names.update(dict.fromkeys(record))
    return pd.DataFrame(records, columns=list(names), dtype=object)


def _lines(file: Path) -> list[str]:
    try:
        return file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise AnalyzerError(f"{file} is not UTF-8 text") from None


def _positional(position: int, names: Sequence[str]) -> str:
    return names[position] if position < len(names) else f"_c{position}"


def _csv(files: list[Path], header: bool, names: Sequence[str]) -> pd.DataFrame:
    columns: list[str] | None = None
    records: list[dict[str, Text]] = []
    for file in files:
        reader = csv.reader(_lines(file), strict=True)
        file_header = not header
        try:
            for row in reader:
                if not row or row == [""]:
                    continue
                if not file_header:  # each file of a headed dataset starts with its header, as Spark reads them
                    file_header = True
                    if columns is not None and row != columns:
                        raise AnalyzerError(f"{file} line {reader.line_num}: its header differs from the first file's")
                    if len(set(row)) < len(row):
                        raise AnalyzerError(f"{file} line {reader.line_num}: the header names a column twice")
                    columns = row
                    continue
                if columns is None:
                    columns = [_positional(i, names) for i in range(len(row))]
                if len(row) != len(columns):
                    raise AnalyzerError(
                        f"{file} line {reader.line_num}: {len(row)} fields where the data has {len(columns)} columns"
                    )
                records.append({name: value or None for name, value in zip(columns, row, strict=True)})
        except csv.Error as error:
            raise AnalyzerError(f"{file} line {reader.line_num}: not valid CSV ({error})") from None
    return _frame(records, columns or [])


def _text(value: Any) -> Text:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _flatten(value: Any, prefix: str = "") -> dict[str, Text]:
    """Nested objects as `a.b`, lists as `a.0`; keys sorted as Spark's JSON reader orders its columns."""
    if isinstance(value, dict | list):
        items = sorted(value.items()) if isinstance(value, dict) else enumerate(value)
        flat: dict[str, Text] = {}
        for key, item in items:
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: _text(value)}


def _json(file: Path, lines: bool) -> list[dict[str, Text]]:
    if lines:
        documents = []
        for number, line in enumerate(_lines(file), 1):
            if line.strip():
                documents.append((number, _parse(line, f"{file} line {number}")))
    else:
        parsed = _parse("\n".join(_lines(file)), str(file))
        documents = [(1, item) for item in (parsed if isinstance(parsed, list) else [parsed])]
    for number, document in documents:
        if not isinstance(document, dict):
            raise AnalyzerError(f"{file} line {number}: a record must be a JSON object")
    return [_flatten(document) for _, document in documents]


def _parse(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise AnalyzerError(f"{where}: not valid JSON ({error})") from None


def _capture(config: Config, fmt: CaptureFormat, files: list[Path], names: Sequence[str]) -> pd.DataFrame:
    preprocess = None
    if config.record_preprocessor_script:
        handler = load_handler(
            config.record_preprocessor_script, "preprocess_handler",
            "Preprocess Handler not implemented correctly in customer script.",
        )  # fmt: skip
        with_logger = "logger" in inspect.signature(handler).parameters
        preprocess = (lambda record: handler(record, log)) if with_logger else handler
    quality = config.model_quality is not None
    records: list[dict[str, Text]] = []
    for file in files:
        hour = _hour_folder(file, config.dataset_source)
        for number, line in enumerate(_lines(file), 1):
            if not line.strip():
                continue
            where = f"{file} line {number}"
            event = _parse(line, where)
            if not isinstance(event, dict) or "captureData" not in event:
                raise AnalyzerError(f"{where}: not a captured record (no captureData)")
            metadata = event.get("eventMetadata") or {}
            if metadata.get("invocationSource") == "ShadowExperiment" or not _in_window(config, metadata, hour):
                continue  # AWS's analyzer leaves shadow variants' records out
            if preprocess is None:
                records.extend(_named(cells, names, quality) for cells in _cells(event, fmt, where))
                continue
            try:
                result = preprocess(CapturedData(event))
            except Exception as error:  # noqa: BLE001 - the user's code: AWS reports any exception this way
                raise AnalyzerError(f"{PREPROCESSOR_FAILED} {where}: {type(error).__name__}: {error}") from None
            records.extend(_preprocessed(result, names))
    if config.start_time or config.end_time:
        log.info("Window [%s, %s): %d record(s)", config.start_time, config.end_time, len(records))
    return _frame(records)


def _hour_folder(file: Path, source: Path) -> datetime | None:
    match = _HOUR_FOLDER.search(file.relative_to(source).as_posix())
    if not match:
        return None
    year, month, day, hour = (int(part) for part in match.groups())
    return datetime(year, month, day, hour, tzinfo=UTC)


def _in_window(config: Config, metadata: dict[str, Any], hour: datetime | None) -> bool:
    """[start_time, end_time) on inferenceTime; a record without one is placed by its hour folder."""
    moment = hour
    if metadata.get("inferenceTime"):
        try:
            moment = datetime.fromisoformat(str(metadata["inferenceTime"]))
        except ValueError:
            raise AnalyzerError(f"inferenceTime {metadata['inferenceTime']!r} is not an ISO 8601 time") from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment is None:
        return True
    return (config.start_time is None or moment >= config.start_time) and (
        config.end_time is None or moment < config.end_time
    )


def _cells(event: dict[str, Any], fmt: CaptureFormat, where: str) -> list[list[Cell]]:
    """One record's rows (a CSV request may hold several), endpointOutput first, then endpointInput."""
    order = [index for index in ("endpointOutput", "endpointInput") if index in fmt.index_names]
    parts = [(index, event["captureData"].get(index)) for index in order]
    parts.append(("groundTruthData", event.get("groundTruthData")))  # present in records merged with ground truth
    sides = [(index, _decode(part, f"{where} {index}")) for index, part in parts if part]
    count = max((len(rows) for _, rows in sides), default=0)
    if any(len(rows) not in (1, count) for _, rows in sides):
        raise AnalyzerError(f"{where}: its sides hold different numbers of rows")
    return [
        [cell for index, rows in sides for cell in _row_cells(index, rows[min(i, len(rows) - 1)])] for i in range(count)
    ]


def _row_cells(index: str, row: list[Text] | dict[str, Text]) -> list[Cell]:
    items = row.items() if isinstance(row, dict) else enumerate(row)
    return [(index, slot, value) for slot, value in items]


def _decode(part: dict[str, Any], where: str) -> list[list[Text]] | list[dict[str, Text]]:
    """A side's rows: CSV lines as positional values, JSON objects as flattened keys."""
    encoding, data = str(part.get("encoding", "CSV")).upper(), part.get("data") or ""
    kind = encoding
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise AnalyzerError(f"{where}: data is not BASE64-encoded UTF-8 text") from None
        content_type = str(part.get("observedContentType", "")).lower()
        kind = "JSON" if "json" in content_type else "CSV" if "csv" in content_type else ""
        if not kind:
            raise AnalyzerError(f"{where}: cannot read BASE64 data of content type {content_type or 'unknown'}")
    if kind == "CSV":
        try:
            return [[_text(v) for v in row] for row in csv.reader(str(data).splitlines(), strict=True) if row]
        except csv.Error as error:
            raise AnalyzerError(f"{where}: not valid CSV ({error})") from None
    if kind != "JSON":
        raise AnalyzerError(f"{where}: encoding {encoding!r} is not CSV, JSON or BASE64")
    value = _parse(str(data), where)
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [_flatten(v) for v in value]
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        return [[_text(x) for x in v] for v in value]
    if isinstance(value, dict):
        return [_flatten(value)]
    return [[_text(v) for v in (value if isinstance(value, list) else [value])]]


def _named(cells: list[Cell], names: Sequence[str], quality: bool) -> dict[str, Text]:
    record: dict[str, Text] = {}
    position = 0
    for index, slot, value in cells:
        if quality:
            record[f"{index}_{slot}"] = value
        elif isinstance(slot, int):
            record[_positional(position, names)] = value
            position += 1
        else:
            record[slot] = value
    return record


def _preprocessed(result: Any, names: Sequence[str]) -> list[dict[str, Text]]:
    """A handler's answer: a dict (one record), a list of dicts, a list of values or a CSV line; [] drops it."""
    if isinstance(result, dict):
        return [{str(key): _text(value) for key, value in result.items()}]
    if isinstance(result, str):
        result = next(csv.reader([result]), [])
    if isinstance(result, list) and all(isinstance(item, dict) for item in result):
        return [record for item in result for record in _preprocessed(item, names)]
    if isinstance(result, list | tuple):
        return [{_positional(i, names): _text(value) for i, value in enumerate(result)}] if result else []
    raise AnalyzerError(f"preprocess_handler returned {type(result).__name__}; expected a dict, a list or a string")
