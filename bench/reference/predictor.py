"""Reference predictor, after the classic AWS scikit_bring_your_own example.

Kept deliberately close to the original (lazy model load per worker,
pandas.read_csv on every request, CSV only) so the benchmark measures the
classic style. Differences: the model file is model.joblib (the file our
training image writes), and the per-request print is dropped so the
reference is not slowed by logging.
"""

from __future__ import annotations

import io
import os

import flask
import joblib
import pandas as pd

MODEL_PATH = os.path.join("/opt/ml", "model", "model.joblib")


class ScoringService:
    model = None

    @classmethod
    def get_model(cls):
        # Loaded on first use, in each worker process (the classic behaviour).
        if cls.model is None:
            cls.model = joblib.load(MODEL_PATH)
        return cls.model

    @classmethod
    def predict(cls, data):
        return cls.get_model().predict(data)


app = flask.Flask(__name__)


@app.route("/ping", methods=["GET"])
def ping():
    healthy = ScoringService.get_model() is not None
    return flask.Response(response="\n", status=200 if healthy else 404, mimetype="application/json")


@app.route("/invocations", methods=["POST"])
def transformation():
    if flask.request.content_type != "text/csv":
        return flask.Response(response="This predictor only supports CSV data", status=415, mimetype="text/plain")
    data = pd.read_csv(io.StringIO(flask.request.data.decode("utf-8")), header=None)
    predictions = ScoringService.predict(data)
    out = io.StringIO()
    pd.DataFrame({"results": predictions}).to_csv(out, header=False, index=False)
    return flask.Response(response=out.getvalue(), status=200, mimetype="text/csv")
