"""The local AWS endpoint: one HTTP server that speaks what boto3 sends.

    X-Amz-Target: SageMaker.<Op>          -> the SageMaker control plane
    X-Amz-Target: Logs_20140328.<Op>      -> the jobs' CloudWatch Logs
    X-Amz-Target: Harness.<Op>            -> the harness's own calls (no AWS service has them)
    POST /endpoints/<name>/invocations    -> the local endpoints (sagemaker-runtime)
    anything else (S3, STS, IAM, ECR...)  -> moto's server, in the same process

It listens on 127.0.0.1 and, for containers, on the Docker bridge's gateway
address (not on every interface: other hosts cannot reach it). Every request
moto serves is pinned to the local account, so moto never needs to look the
caller's access key up in its IAM model.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from harness.emulator.arns import ACCOUNT
from harness.emulator.logs import LogStore
from harness.emulator.protocol import (
    AwsFault,
    Reply,
    error_reply,
    fault_reply,
    json_reply,
    parse_body,
    unknown_operation,
)
from harness.emulator.replies import reply_deadline_s, reply_within
from harness.errors import InfrastructureError, UserError

if TYPE_CHECKING:
    from harness.emulator.hosting import EndpointHost

_LOG = logging.getLogger(__name__)
_INVOCATIONS = re.compile(
    r"^/endpoints/(?P<name>[^/]+)/(?P<kind>invocations|async-invocations|invocations-response-stream)$"
)
StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
_STATUS_TEXT = {200: "OK", 400: "Bad Request", 404: "Not Found", 424: "Failed Dependency", 500: "Internal Server Error"}


@dataclass
class Routes:
    """The services behind the endpoint; the SageMaker and runtime parts attach once the emulator is built."""

    logs: LogStore = field(default_factory=LogStore)
    sagemaker: Any = None  # SageMakerControlPlane
    endpoints: EndpointHost | None = None
    requests: list[str] = field(default_factory=list)  # "Service.Operation" of every request, for the run record


class LocalAwsApp:
    """The WSGI application: route by target header or path, else hand the request to moto."""

    def __init__(self, moto_app: WsgiApp, routes: Routes) -> None:
        self._moto = moto_app
        self.routes = routes

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        path = environ.get("PATH_INFO", "")
        invocation = _INVOCATIONS.match(path) if environ.get("REQUEST_METHOD") == "POST" else None
        if target.startswith("SageMaker."):
            reply = self._json(target.removeprefix("SageMaker."), environ, self._sagemaker)
        elif target.startswith("Harness."):  # the harness's own calls (`sagemaker-harness monitor run`)
            reply = self._json(target.removeprefix("Harness."), environ, self._harness)
        elif target.startswith("Logs_20140328."):
            reply = self._json(target.removeprefix("Logs_20140328."), environ, self._logs)
        elif invocation is not None and "sagemaker" in environ.get("HTTP_AUTHORIZATION", "sagemaker"):
            reply = self._guarded("sagemaker-runtime", lambda: self._invoke(invocation, environ))
        else:
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = ACCOUNT  # moto's answer for "whose account": never its IAM lookup
            return self._moto(environ, start_response)
        status = f"{reply.status} {_STATUS_TEXT.get(reply.status, 'Error')}"
        start_response(status, [*reply.headers.items(), ("Content-Length", str(len(reply.body)))])
        return [reply.body]

    # -- JSON 1.1 services -------------------------------------------------------------
    def _json(self, operation: str, environ: dict[str, Any], handler: Callable[[str, dict[str, Any]], Any]) -> Reply:
        def answer() -> Reply:
            return json_reply(handler(operation, parse_body(_body(environ))))

        return self._guarded(operation, answer)

    def _sagemaker(self, operation: str, request: dict[str, Any]) -> Any:
        self.routes.requests.append(f"SageMaker.{operation}")
        if self.routes.sagemaker is None:
            raise AwsFault("ServiceUnavailable", "the local SageMaker is starting; retry", 503)
        with reply_within(reply_deadline_s()):  # below the client's read timeout: work still running is InProgress
            return self.routes.sagemaker.call(operation, request)

    def _harness(self, operation: str, request: dict[str, Any]) -> Any:
        self.routes.requests.append(f"Harness.{operation}")
        if self.routes.sagemaker is None:
            raise AwsFault("ServiceUnavailable", "the local SageMaker is starting; retry", 503)
        return self.routes.sagemaker.harness_call(operation, request)

    def _logs(self, operation: str, request: dict[str, Any]) -> Any:
        self.routes.requests.append(f"Logs.{operation}")
        if operation == "DescribeLogStreams":
            return self.routes.logs.describe_log_streams(request)
        if operation == "GetLogEvents":
            return self.routes.logs.get_log_events(request)
        raise unknown_operation("CloudWatch Logs", operation)

    # -- sagemaker-runtime (REST JSON) -------------------------------------------------
    def _invoke(self, match: re.Match[str], environ: dict[str, Any]) -> Reply:
        self.routes.requests.append("SageMakerRuntime.InvokeEndpoint")
        if match["kind"] != "invocations":
            operation = (
                "InvokeEndpointAsync" if match["kind"] == "async-invocations" else "InvokeEndpointWithResponseStream"
            )
            raise unknown_operation("SageMaker Runtime", operation)
        if self.routes.endpoints is None:
            raise AwsFault("ServiceUnavailable", "the local endpoints are starting; retry", 503)
        answer = self.routes.endpoints.invoke(
            match["name"],
            _body(environ),
            environ.get("CONTENT_TYPE") or "application/octet-stream",
            environ.get("HTTP_ACCEPT"),
            environ.get("HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES"),
            environ.get("HTTP_X_AMZN_SAGEMAKER_INFERENCE_ID"),
        )
        headers = {
            "Content-Type": answer.get("ContentType") or "application/octet-stream",
            "x-Amzn-Invoked-Production-Variant": answer["InvokedProductionVariant"],
        }
        if answer.get("CustomAttributes"):
            headers["X-Amzn-SageMaker-Custom-Attributes"] = answer["CustomAttributes"]
        return Reply(200, answer["Body"], headers)

    # -- errors ------------------------------------------------------------------------
    def _guarded(self, operation: str, answer: Callable[[], Reply]) -> Reply:
        """Every failure answers in AWS's shape; a bug in the harness is an InternalFailure naming itself."""
        try:
            return answer()
        except (AwsFault, ClientError, UserError) as error:
            reply = fault_reply(error)
            if isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") == "ModelError":
                reply = _model_error_reply(error)
            return reply
        except InfrastructureError as error:  # Docker gone, or the run shutting down: not a bug of the harness
            return error_reply("ServiceUnavailable", error.problem, 503)
        except Exception as error:  # noqa: BLE001 (the caller gets an AWS-shaped 500 instead of a dropped connection)
            _LOG.error("the local endpoint failed on %s:\n%s", operation, traceback.format_exc())
            return error_reply(
                "InternalFailure",
                f"the local harness failed on {operation} ({type(error).__name__}: {error}); this is a bug in the "
                "harness, please report it with the log above",
                500,
            )


def _model_error_reply(error: ClientError) -> Reply:
    response: Any = error.response
    body = {
        "ErrorCode": "MODEL_ERROR",
        "Message": response["Error"]["Message"],
        "message": response["Error"]["Message"],
        "OriginalStatusCode": response.get("OriginalStatusCode", 0),
        "OriginalMessage": response.get("OriginalMessage", ""),
    }
    return Reply(424, json.dumps(body).encode(), {"Content-Type": "application/json", "x-amzn-ErrorType": "ModelError"})


def _bind_problem(host: str, port: int) -> str:
    """Why the server could not listen there ('' if it can): werkzeug would exit the process instead of raising."""
    if port == 0:
        return ""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is no problem
        try:
            probe.bind((host, port))
        except OSError as error:
            return error.strerror or str(error)
    return ""


def _body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ["wsgi.input"]
    return bytes(stream.read(length)) if length else b""


class LocalAwsServer:
    """The endpoint's listening sockets (loopback, and the bridge gateway for containers), one app behind both."""

    def __init__(self, routes: Routes, bridge_address: str | None = None, port: int = 0) -> None:
        self.routes = routes
        self._bridge_address = bridge_address
        self._port = port
        self._servers: list[Any] = []
        self._threads: list[threading.Thread] = []
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def container_url(self) -> str:
        """The URL containers use: the bridge gateway, where the second socket listens."""
        return f"http://{self._bridge_address}:{self.port}" if self._bridge_address else self.url

    def start(self) -> LocalAwsServer:
        # Slow imports: only when a server is started.
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        app = LocalAwsApp(DomainDispatcherApplication(create_backend_app), self.routes)
        problem = _bind_problem("127.0.0.1", self._port)
        if problem:
            raise UserError(
                f"cannot listen on 127.0.0.1:{self._port}: {problem}",
                fix="choose another port (--port), or stop what listens there (`ss -ltnp | grep :PORT`)",
            )
        first = make_server("127.0.0.1", self._port, app, threaded=True, request_handler=MotoRequestHandler)
        self._serve(first)
        self.port = first.server_port
        if self._bridge_address:
            problem = _bind_problem(self._bridge_address, self.port)
            if problem:
                self.stop()
                raise InfrastructureError(
                    f"cannot listen on the Docker bridge {self._bridge_address}:{self.port}: {problem}",
                    fix="retry (another program took the port), or check `ip addr show docker0`",
                )
            self._serve(make_server(self._bridge_address, self.port, app, threaded=True,
                                    request_handler=MotoRequestHandler))  # fmt: skip
        threading.Thread(target=_warm_up, args=(app,), name="moto-warm-up", daemon=True).start()
        return self

    def _serve(self, server: Any) -> None:
        # A short poll interval: stop() returns within 50 ms instead of 500.
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        self._servers.append(server)
        self._threads.append(thread)

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)
        self._servers, self._threads = [], []


# A signature's scope names the service; moto dispatches by it. The keys are the dummy ones every client gets.
_WARM_UP_REQUESTS = (
    ("GET", "/", {"Host": "s3.amazonaws.com"}, "s3"),
    ("POST", "/", {"Content-Type": "application/x-www-form-urlencoded"}, "sts"),
)


def _warm_up(app: WsgiApp) -> None:
    """Answer a first S3 ListBuckets and STS GetCallerIdentity in process, into the void: moto imports its models
    and builds its backends on a service's first request (~0.1 s), so do it while a command is still starting
    (its `import sagemaker` takes seconds) rather than on its first call. Read-only requests: no state changes."""
    from werkzeug.test import Client

    client = Client(app)
    for method, path, headers, service in _WARM_UP_REQUESTS:
        authorization = f"AWS4-HMAC-SHA256 Credential=harness/20260101/us-east-1/{service}/aws4_request, " \
            "SignedHeaders=host, Signature=0"  # fmt: skip
        body = "Action=GetCallerIdentity&Version=2011-06-15" if service == "sts" else ""
        with contextlib.suppress(Exception):  # an optimisation only: a real request does the same work
            client.open(path, method=method, headers={**headers, "Authorization": authorization}, data=body)
