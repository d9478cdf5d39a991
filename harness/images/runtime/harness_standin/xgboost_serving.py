"""The built-in XGBoost algorithm's model server, and the XGBoost container's script-mode defaults.

As AWS's container (algorithm_mode/serve.py, serve_utils.py): every non-hidden file in /opt/ml/model is a model
(pickled first, else xgboost's own format), several are averaged; POST /invocations takes text/csv or
text/libsvm (none given: libsvm), answers 204 to an empty body, 415 to another content type or data that does
not parse, 400 when prediction fails, 406 to an Accept other than text/csv, application/json,
application/jsonlines, application/x-recordio-protobuf (checked after prediction); Accept missing or */* means
SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT (default text/csv). text/csv answers one prediction per line;
application/json answers {"predictions": [{"score": ...}]}.
"""

from __future__ import annotations

import csv
import io
import json
import math
import pickle
import tempfile
import threading
from pathlib import Path
from typing import Any

ACCEPTED = ("csv, libsvm, parquet, recordio-protobuf, text/csv, text/libsvm, text/x-libsvm, "
            "application/x-parquet, application/x-recordio-protobuf")  # fmt: skip
ACCEPTS = ["application/json", "application/jsonlines", "application/x-recordio-protobuf", "text/csv"]
CSV_TYPES = ("text/csv", "csv")
LIBSVM_TYPES = ("text/libsvm", "text/x-libsvm", "libsvm")


class UnsupportedFormatError(Exception):
    pass


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def to_dmatrix(body: bytes | str, content_type: str) -> Any:
    """CSV or LIBSVM request rows -> a DMatrix (labels in LIBSVM ignored), as the container parses them."""
    import numpy as np
    import xgboost as xgb

    text = (body.decode() if isinstance(body, bytes) else body).strip()
    kind = _media_type(content_type) or "libsvm"
    if kind in CSV_TYPES:
        try:
            first = text.split("\n", 1)[0]
            delimiter = csv.Sniffer().sniff(first).delimiter if first else ","
            delimiter = "," if delimiter.isalnum() else delimiter
            rows = [[math.nan if cell == "" else float(cell) for cell in line.split(delimiter)]
                    for line in text.split("\n")]  # fmt: skip
            return xgb.DMatrix(np.array(rows, dtype=float))
        except Exception as error:  # noqa: BLE001 (AWS's message carries the exception)
            raise UnsupportedFormatError(
                "Loading csv data failed with Exception, please ensure data is in csv format:\n "
                f"{type(error)}\n {error}"
            ) from None
    if kind in LIBSVM_TYPES:
        with tempfile.TemporaryDirectory() as scratch:  # xgboost reads LIBSVM from a file
            request = Path(scratch) / "request.libsvm"
            request.write_text(text + "\n")
            try:
                return xgb.DMatrix(f"{request}?format=libsvm")
            except Exception as error:  # noqa: BLE001
                raise UnsupportedFormatError(
                    "Loading libsvm data failed with Exception, please ensure data is in libsvm format:\n "
                    f"{type(error)}\n {error}"
                ) from None
    if kind == "application/x-parquet":
        raise UnsupportedFormatError("Content-type application/x-parquet is not supported.")
    raise UnsupportedFormatError(f"{kind} is not an accepted ContentType: {ACCEPTED}.")


def load_boosters(model_dir: Path) -> list[Any]:
    import xgboost as xgb

    boosters = []
    for path in sorted(p for p in model_dir.iterdir() if p.is_file() and not p.name.startswith(".")):
        try:
            with path.open("rb") as file:
                booster = pickle.load(file)
        except Exception:  # noqa: BLE001 (not a pickle: xgboost's own format)
            booster = xgb.Booster()
            booster.load_model(str(path))
        booster.set_param("nthread", 1)
        boosters.append(booster)
    if not boosters:
        raise ValueError(f"no model file in {model_dir}")
    return boosters


class AlgorithmHandlers:
    def __init__(self, model_dir: str) -> None:
        self._model_dir = Path(model_dir)
        self._boosters: list[Any] | None = None
        self._lock = threading.Lock()

    def model(self) -> list[Any]:
        with self._lock:
            if self._boosters is None:
                self._boosters = load_boosters(self._model_dir)
            return self._boosters

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[int, bytes, str]:
        import numpy as np

        if not body:
            return 204, b"", "text/plain"
        try:
            boosters = self.model()
        except Exception as error:  # noqa: BLE001
            return 500, f"Unable to load model: {error}".encode(), "text/plain"
        try:
            dmatrix = to_dmatrix(body, content_type)
        except UnsupportedFormatError as error:
            return 415, str(error).encode(), "text/plain"
        try:
            predictions = np.mean([_predict(booster, dmatrix) for booster in boosters], axis=0)
        except Exception as error:  # noqa: BLE001
            return 400, f"Unable to evaluate payload provided: {error}".encode(), "text/plain"
        accept = _media_type(accept)
        if accept not in ACCEPTS:
            return (
                406,
                f"Accept type {accept} is not supported. Please use supported accept types: {ACCEPTS}".encode(),
                "text/plain",
            )
        values = predictions.tolist()
        if accept == "application/json":
            return 200, json.dumps({"predictions": [{"score": value} for value in values]}).encode(), accept
        if accept == "text/csv":
            stream = io.StringIO()
            writer = csv.writer(stream, lineterminator="\n")
            writer.writerows([[v] for v in values] if predictions.ndim == 1 else values)
            return 200, stream.getvalue().encode(), accept
        raise UnsupportedFormatError(accept)  # jsonlines, recordio-protobuf: 500, as AWS's container


def _predict(booster: Any, dmatrix: Any) -> Any:
    best = getattr(booster, "best_ntree_limit", None)  # xgboost 1.7 with early stopping
    if best:
        return booster.predict(dmatrix, iteration_range=(0, best), validate_features=False)
    return booster.predict(dmatrix, validate_features=False)


def default_input_fn(input_data: bytes | str, content_type: str) -> Any:
    """Script mode: CSV and LIBSVM become a DMatrix; anything else is unsupported (a 500, as AWS's)."""
    if _media_type(content_type) in CSV_TYPES + LIBSVM_TYPES:
        return to_dmatrix(input_data, content_type)
    raise UnsupportedFormatError(f"Content type {content_type} is not supported by this framework.")


def default_predict_fn(data: Any, model: Any) -> Any:
    return model.predict(data, validate_features=False)
