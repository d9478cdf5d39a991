"""Inference entry point: `docker run IMAGE serve`.

Serves the Flask app with gunicorn (threaded workers, keep-alive) on port
8080, or on SAGEMAKER_BIND_TO_PORT (the image carries the
`accept-bind-to-port` label). Settings, all optional:
  SAGEMAKER_MODEL_SERVER_WORKERS   worker processes (default: CPU count)
  SAGEMAKER_MODEL_SERVER_THREADS   threads per worker (default: 2; see bench/README.md)
  SAGEMAKER_MODEL_SERVER_TIMEOUT   seconds per request (default: 60, SageMaker's limit)
  SAGEMAKER_MODEL_SERVER_KEEPALIVE_REQUESTS   a worker closes the connection of every
                                   N-th request it serves (default: 32; 0: never; this image's own)
  SAGEMAKER_BATCH / SAGEMAKER_MAX_PAYLOAD_IN_MB   batch transform payload size
  SAGEMAKER_MODEL_DIR              model folder (default: /opt/ml/model)
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from inference_app import create_app, load

REALTIME_LIMIT_MB = 6
BATCH_LIMIT_MB = 100
KEEPALIVE_REQUESTS = 32


@dataclass(frozen=True)
class ServerSettings:
    port: int
    workers: int
    threads: int
    timeout_s: int
    max_payload_mb: int
    batch: bool
    model_dir: Path
    keepalive_requests: int = KEEPALIVE_REQUESTS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ServerSettings:
        batch = env.get("SAGEMAKER_BATCH", "false").lower() == "true"
        limit = int(env.get("SAGEMAKER_MAX_PAYLOAD_IN_MB", str(REALTIME_LIMIT_MB))) if batch else REALTIME_LIMIT_MB
        return cls(
            port=int(env.get("SAGEMAKER_BIND_TO_PORT", "8080")),
            workers=int(env.get("SAGEMAKER_MODEL_SERVER_WORKERS", str(len(os.sched_getaffinity(0))))),
            # Requests are CPU-bound and share one GIL per worker: 2 threads keep
            # /ping answered during a long request, while more only interleave
            # requests unfairly and stretch p99 (bench/serving.py).
            threads=int(env.get("SAGEMAKER_MODEL_SERVER_THREADS", "2")),
            timeout_s=int(env.get("SAGEMAKER_MODEL_SERVER_TIMEOUT", "60")),
            max_payload_mb=min(limit, BATCH_LIMIT_MB),
            batch=batch,
            model_dir=Path(env.get("SAGEMAKER_MODEL_DIR", "/opt/ml/model")),
            keepalive_requests=int(env.get("SAGEMAKER_MODEL_SERVER_KEEPALIVE_REQUESTS", str(KEEPALIVE_REQUESTS))),
        )

    def gunicorn_options(self) -> dict[str, Any]:
        hooks = {"pre_request": close_every(self.keepalive_requests)} if self.keepalive_requests > 0 else {}
        return hooks | {
            "bind": f"0.0.0.0:{self.port}",
            "workers": self.workers,
            "worker_class": "gthread",  # keep-alive and concurrent requests per worker
            "threads": self.threads,
            "timeout": self.timeout_s,
            "graceful_timeout": 20,  # SageMaker sends SIGKILL 30 s after SIGTERM
            "keepalive": 75,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "info",
        }


def close_every(requests: int) -> Callable[[Any, Any], None]:
    """A gunicorn pre_request hook: each worker closes the connection of every
    `requests`-th request it serves. A kept-alive connection stays with the
    worker that accepted it, and clients that connect together pile onto
    whichever worker woke first (16 of 16 seen), so the other one idles and
    p99 reaches 3x p50 and more. The client reconnects, usually to the less busy
    worker (the busy one must first win back its GIL to accept), so the split
    evens out: see bench/README.md. nginx's keepalive_requests is the same idea."""

    def hook(worker: Any, request: Any) -> None:
        if worker.nr % requests == requests - 1:  # worker.nr: requests this worker served before this one
            request.force_close()  # answered with "Connection: close"

    return hook


class _Gunicorn(BaseApplication):
    """Runs a ready WSGI app object in-process, so gunicorn is PID 1's child-free master."""

    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._app


def main(argv: list[str]) -> int:
    if argv not in ([], ["serve"]):
        print(
            f"usage: serve.py serve (SageMaker starts inference containers with 'serve'); got {argv}", file=sys.stderr
        )
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = ServerSettings.from_env(os.environ)
    loaded = load(settings.model_dir)  # once, in the master: workers share it after fork
    parameters = {
        "MaxConcurrentTransforms": settings.workers * settings.threads,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": settings.max_payload_mb,
    }
    app = create_app(loaded, settings.max_payload_mb * 1024 * 1024, parameters)
    _Gunicorn(app, settings.gunicorn_options()).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
