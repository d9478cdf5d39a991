"""`serve` in the stand-ins: the framework containers' handler contract on port 8080.

As AWS's scikit-learn container (aws/sagemaker-scikit-learn-container with sagemaker-containers 2.8.6):
- the user's module is SAGEMAKER_PROGRAM, found in SAGEMAKER_SUBMIT_DIRECTORY (the SDK's sourcedir.tar.gz in
  S3, or a folder such as /opt/ml/model/code), put in /opt/ml/code with its requirements.txt installed;
- model_fn(model_dir) loads the model (the default raises: there is no default model file);
- input_fn(body, content_type) -> predict_fn(data, model) -> output_fn(prediction, accept), each the user's or
  the default: text/csv, application/json and application/x-npy, matched exactly; JSON and CSV cast to float32;
  or transform_fn(model, body, content_type, accept) alone;
- Accept missing or */* means SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT (default application/json);
- GET /ping answers 200 with an empty body once model_fn has run; any error in a handler answers 500 with the
  web server's HTML error page (AWS's container never reaches its 415/406 branches), its traceback in the log.

One process with a thread per request stands for AWS's nginx + gunicorn workers (said in the README).
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

CODE_DIR = Path("/opt/ml/code")
MODEL_DIR = "/opt/ml/model"
JSON, CSV, NPY = "application/json", "text/csv", "application/x-npy"
BINARY_TYPES = (NPY, "application/x-recordio-protobuf")
# Werkzeug's page for an exception escaping the view: what AWS's container answers.
ERROR_PAGE = (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n<title>500 Internal Server Error</title>\n'
    "<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable to complete your "
    "request. Either the server is overloaded or there is an error in the application.</p>\n"
)


class UnsupportedFormatError(Exception):
    def __init__(self, content_type: str) -> None:
        super().__init__(
            f"Content type {content_type} is not supported by this framework.\n\n"
            "            Please implement input_fn to to deserialize the request data or an output_fn to\n"
            "            serialize the response. For more information, see the SageMaker Python SDK README."
        )


def default_model_fn(model_dir: str) -> Any:
    raise NotImplementedError(
        "\nPlease provide a model_fn implementation.\nSee documentation for model_fn at "
        "https://github.com/aws/sagemaker-python-sdk\n"
    )


def default_input_fn(input_data: bytes | str, content_type: str) -> Any:
    array = decode(input_data, content_type)
    return array.astype(np.float32) if content_type in (JSON, CSV) else array


def default_predict_fn(data: Any, model: Any) -> Any:
    return model.predict(data)


def default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    return encode(prediction, accept), accept


def decode(data: bytes | str, content_type: str) -> Any:
    if content_type == JSON:
        return np.array(json.loads(_text(data)))
    if content_type == CSV:
        rows = list(csv.reader(io.StringIO(_text(data)), delimiter=",", quotechar='"', doublequote=True, strict=True))
        return np.array(rows).squeeze().astype(None)  # as sagemaker-containers: one row becomes 1-D
    if content_type == NPY:
        return np.load(io.BytesIO(data if isinstance(data, bytes) else data.encode()), allow_pickle=True)
    raise UnsupportedFormatError(content_type)


def encode(prediction: Any, accept: str) -> bytes:
    if accept == JSON:
        return json.dumps(prediction, default=_tolist).encode()
    if accept == CSV:
        stream = io.StringIO()
        writer = csv.writer(stream, lineterminator="\n")
        array = np.asarray(prediction)
        writer.writerows(array.reshape(-1, 1) if array.ndim == 1 else array)
        return stream.getvalue().encode()
    if accept == NPY:
        buffer = io.BytesIO()
        np.save(buffer, prediction)
        return buffer.getvalue()
    raise UnsupportedFormatError(accept)


def _tolist(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else value


def _text(data: bytes | str) -> str:
    return data.decode() if isinstance(data, bytes) else data


class Handlers:
    """The user's module's functions, or the defaults; the model loaded once, on first use."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.transform_fn = getattr(module, "transform_fn", None)
        pipeline = [getattr(module, name, None) for name in ("input_fn", "predict_fn", "output_fn")]
        if self.transform_fn and any(pipeline):
            raise ValueError("Cannot use transform_fn implementation with input_fn, predict_fn, and/or output_fn")
        self.model_fn = getattr(module, "model_fn", None) or default_model_fn
        self.input_fn = pipeline[0] or default_input_fn
        self.predict_fn = pipeline[1] or default_predict_fn
        self.output_fn = pipeline[2] or default_output_fn
        self._model: Any = None
        self._loaded = False
        self._lock = threading.Lock()

    def model(self) -> Any:
        with self._lock:
            if not self._loaded:
                self._model = self.model_fn(MODEL_DIR)
                self._loaded = True
            return self._model

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[int, bytes, str]:
        content_type = content_type or JSON  # sagemaker-containers' default
        model = self.model()
        if self.transform_fn:
            result = self.transform_fn(model, body, content_type, accept)
            return (200, *_response(result, accept))
        data = self.input_fn(body if content_type in BINARY_TYPES else body.decode(), content_type)
        prediction = self.predict_fn(data, model)
        return (200, *_response(self.output_fn(prediction, accept), accept))


def _response(result: Any, accept: str) -> tuple[bytes, str]:
    if isinstance(result, tuple):
        body, mimetype = result[0], result[1]
    else:
        body, mimetype = result, accept
    if isinstance(body, str):
        body = body.encode()
    return bytes(body), str(mimetype)


def load_user_module() -> Any:
    """SAGEMAKER_PROGRAM from SAGEMAKER_SUBMIT_DIRECTORY, put in /opt/ml/code; None without a program."""
    program = os.environ.get("SAGEMAKER_PROGRAM", "")
    if not program:
        return None
    source = os.environ.get("SAGEMAKER_SUBMIT_DIRECTORY", str(CODE_DIR))
    CODE_DIR.mkdir(parents=True, exist_ok=True)
    if not any(CODE_DIR.iterdir()):  # as the toolkit: only into an empty code folder
        _fetch_code(source)
    requirements = CODE_DIR / "requirements.txt"
    if requirements.is_file():
        print(f"installing {requirements}", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-r", str(requirements)], cwd=CODE_DIR, check=True)
    sys.path.insert(0, str(CODE_DIR))
    return importlib.import_module(program.removesuffix(".py"))


def _fetch_code(source: str) -> None:
    if source.startswith("s3://"):
        import boto3

        bucket, _, key = source[len("s3://") :].partition("/")
        endpoint = os.environ.get("S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
        region = os.environ.get("AWS_REGION", os.environ.get("SAGEMAKER_REGION"))
        with tempfile.TemporaryDirectory() as scratch:
            archive = Path(scratch) / "sourcedir.tar.gz"
            boto3.resource("s3", region_name=region, endpoint_url=endpoint).Bucket(bucket).download_file(key, archive)
            _extract(archive)
    elif Path(source).is_dir() and Path(source) != CODE_DIR:
        for item in Path(source).iterdir():
            target = CODE_DIR / item.name
            if item.is_dir():
                shutil.copytree(item, target)
            else:
                target.write_bytes(item.read_bytes())
    elif Path(source).is_file() and tarfile.is_tarfile(source):
        _extract(Path(source))


def _extract(archive: Path) -> None:
    with tarfile.open(archive, mode="r:gz") as tar:
        if hasattr(tarfile, "data_filter"):  # CPython >= 3.11.4: refuse members that leave the folder
            tar.extractall(CODE_DIR, filter="data")
        else:
            tar.extractall(CODE_DIR)  # as AWS's toolkit does (the SDK wrote this archive)


def make_handler(handlers: Any, default_accept: str) -> type[BaseHTTPRequestHandler]:
    """`handlers`: model() (loads once) and invoke(body, content_type, accept) -> (status, body, mimetype)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/ping":
                return self._send(404, b"{}", JSON)
            try:
                handlers.model()
            except Exception:  # noqa: BLE001 (the error page, as AWS's container)
                return self._fail()
            self._send(200, b"", "text/html")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.path.split("?")[0] != "/invocations":
                return self._send(404, b"{}", JSON)
            content_type = self.headers.get("ContentType") or self.headers.get("Content-Type") or ""
            accept = self.headers.get("Accept") or ""
            accept = default_accept if accept in ("", "*/*") else accept
            try:
                status, answer, mimetype = handlers.invoke(body, content_type, accept)
            except Exception:  # noqa: BLE001
                return self._fail()
            self._send(status, answer, mimetype + ("; charset=utf-8" if mimetype == CSV else ""))

        def _fail(self) -> None:
            traceback.print_exc()
            sys.stderr.flush()
            self._send(500, ERROR_PAGE.encode(), "text/html; charset=utf-8")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            print(f"{self.address_string()} {format % args}", file=sys.stderr, flush=True)

    return Handler


def main() -> None:
    # As AWS's `serve`: the user's code is fetched, installed and imported before the server starts, so code
    # that does not load ends the container (the endpoint fails to start) rather than answering errors.
    xgboost = os.environ.get("HARNESS_STANDIN_FRAMEWORK") == "xgboost"
    module = load_user_module()
    handlers: Any
    if xgboost and module is None:  # the built-in algorithm's model server
        from harness_standin.xgboost_serving import AlgorithmHandlers

        handlers, default_accept = AlgorithmHandlers(MODEL_DIR), CSV
    else:
        handlers, default_accept = Handlers(module), JSON
        if xgboost:
            from harness_standin.xgboost_serving import default_input_fn as xgboost_input_fn
            from harness_standin.xgboost_serving import default_predict_fn as xgboost_predict_fn

            handlers.input_fn = getattr(module, "input_fn", None) or xgboost_input_fn
            handlers.predict_fn = getattr(module, "predict_fn", None) or xgboost_predict_fn
    default_accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", default_accept)
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
    server = ThreadingHTTPServer(("0.0.0.0", port), make_handler(handlers, default_accept))
    print(f"stand-in model server listening on port {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
