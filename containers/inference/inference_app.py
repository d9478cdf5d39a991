"""The Flask app behind /ping and /invocations.

The model is loaded once, before the server forks its workers; if loading
fails (missing files, library versions that differ from this image's) /ping
answers 503 with the reason and /invocations refuses, instead of serving a
model that could predict wrongly.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import payloads
from flask import Flask, Response, request
from model_artifact import load_model
from werkzeug.exceptions import HTTPException

LOG = logging.getLogger("inference")


@dataclass(frozen=True)
class LoadedModel:
    model: Any | None
    n_features: int
    failure: str = ""

    @property
    def ready(self) -> bool:
        return self.model is not None


def load(model_dir: Path) -> LoadedModel:
    try:
        model, meta = load_model(model_dir)
    except Exception as error:  # noqa: BLE001 (any load problem keeps the server up but unhealthy: /ping says why)
        reason = f"model in {model_dir} not loaded: {type(error).__name__}: {error}"
        LOG.error(reason)
        return LoadedModel(None, 0, reason)
    LOG.info("model loaded from %s (%s features)", model_dir, meta["n_features"])
    return LoadedModel(model, int(meta["n_features"]))


def predict(model: Any, rows: np.ndarray, with_probabilities: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Labels, and positive-class probabilities when asked. Finite features can still
    overflow inside the model (e.g. 1e307 after scaling): that is the client's input,
    so it becomes a 400 instead of a 500."""
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # overflow is checked below
            labels = model.predict(rows)
            # CSV answers carry labels only: skip predict_proba, a quarter of a request's CPU.
            probabilities = model.predict_proba(rows)[:, 1] if with_probabilities else None
    except ValueError as error:  # scikit-learn's input validation, e.g. infinity after scaling
        raise payloads.PayloadError(400, f"the model cannot score these features: {error}") from None
    if probabilities is not None and not np.isfinite(probabilities).all():
        raise payloads.PayloadError(
            400, "the model's probability for these features is not a number: their magnitude overflows its arithmetic"
        )
    return labels, probabilities


def _json(status: int, text: str) -> Response:
    return Response(text, status=status, mimetype=payloads.JSON)


def _error(status: int, message: str) -> Response:
    return _json(status, json.dumps({"error": message}))


DRAIN_FACTOR = 4  # how far past the limit a refused body is still read (and dropped) before answering


def _discard_body(at_most: int) -> None:
    """Read a refused request's body before answering, as nginx's lingering close does: a server that answers
    and closes while the client is still sending makes the client see a reset instead of the 413."""
    stream = request.environ.get("wsgi.input")
    left = min(request.content_length or 0, at_most)
    while stream is not None and left > 0:
        chunk = stream.read(min(left, 1 << 16))
        if not chunk:
            break
        left -= len(chunk)


def create_app(loaded: LoadedModel, max_payload_bytes: int, execution_parameters: dict[str, Any]) -> Flask:
    app = Flask("inference")
    app.config["MAX_CONTENT_LENGTH"] = max_payload_bytes

    @app.get("/ping")
    def ping() -> Response:
        if loaded.ready:
            return _json(200, '{"status": "healthy"}')
        return _error(503, loaded.failure)

    @app.get("/execution-parameters")
    def parameters() -> Response:
        return _json(200, json.dumps(execution_parameters))

    @app.post("/invocations")
    def invocations() -> Response:
        if not loaded.ready:
            return _error(503, loaded.failure)
        try:
            kind = payloads.request_format(request.content_type)
            answer = payloads.response_format(request.headers.get("Accept"), kind)
            rows = payloads.decode(request.get_data(cache=False), kind, loaded.n_features)
        except payloads.PayloadError as error:
            return _error(error.status, error.message)
        try:
            labels, probabilities = predict(loaded.model, rows, with_probabilities=answer == payloads.JSON)
        except payloads.PayloadError as error:
            return _error(error.status, error.message)
        return Response(payloads.encode(labels, probabilities, answer), mimetype=answer)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        message = error.description or error.name
        if error.code == 413:
            message = f"payload larger than the {max_payload_bytes // (1024 * 1024)} MB limit"
            _discard_body(max_payload_bytes * DRAIN_FACTOR)
        return _error(error.code or 500, message)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        LOG.exception("unexpected error while serving a request")
        return _error(500, f"internal error: {type(error).__name__}")

    return app
