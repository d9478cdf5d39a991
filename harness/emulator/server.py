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

Its sockets (`Listener`) can be bound before the server exists: `run` starts
its command against the endpoint's URL at once and opens the environment
while the command imports the SDK. Until the environment is ready (its data
seeded), clients' requests wait; the harness's own are marked and pass.
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
    xml_error_reply,
)
from harness.emulator.replies import reply_deadline_s, reply_within
from harness.errors import InfrastructureError, UserError

if TYPE_CHECKING:
    from harness.emulator.hosting import EndpointHost

_LOG = logging.getLogger(__name__)
_INVOCATIONS = re.compile(
    r"^/endpoints/(?P<name>[^/]+)/(?P<kind>invocations|async-invocations|invocations-response-stream)$"
)
_SIGNED_SERVICE = re.compile(r"Credential=[^/]*/[^/]*/[^/]*/(?P<service>[^/]+)/aws4_request")  # SigV4's scope
StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
_STATUS_TEXT = {
    200: "OK", 400: "Bad Request", 404: "Not Found", 424: "Failed Dependency", 500: "Internal Server Error",
    503: "Service Unavailable",
}  # fmt: skip
# The harness's own requests carry this header: they pass while clients wait for the environment to be ready.
INTERNAL_HEADER = "X-Harness-Internal"
_INTERNAL_KEY = "HTTP_" + INTERNAL_HEADER.upper().replace("-", "_")
READY_WAIT_S = 120.0  # how long a client's request waits for the environment to open (it takes about a second)
LISTEN_BACKLOG = 128  # connections waiting while the server is not yet serving


def _ready_now() -> threading.Event:
    ready = threading.Event()
    ready.set()
    return ready


@dataclass
class Routes:
    """The services behind the endpoint; the SageMaker and runtime parts attach once the emulator is built."""

    logs: LogStore = field(default_factory=LogStore)
    sagemaker: Any = None  # SageMakerControlPlane
    endpoints: EndpointHost | None = None
    requests: list[str] = field(default_factory=list)  # "Service.Operation" of every request, for the run record
    # Set once clients may be answered (`run` clears it until its data is seeded); the harness's own requests
    # (INTERNAL_HEADER) never wait for it.
    ready: threading.Event = field(default_factory=_ready_now)
    stopped: bool = False  # the server is stopping: a request that waited for `ready` is refused


class LocalAwsApp:
    """The WSGI application: route by target header or path, else hand the request to moto."""

    def __init__(self, moto_app: WsgiApp, routes: Routes) -> None:
        self._moto = moto_app
        self.routes = routes

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        path = environ.get("PATH_INFO", "")
        invocation = _INVOCATIONS.match(path) if environ.get("REQUEST_METHOD") == "POST" else None
        if _INTERNAL_KEY not in environ and (not self.routes.ready.wait(READY_WAIT_S) or self.routes.stopped):
            reply = _not_ready(environ, target, invocation is not None)
        elif target.startswith("SageMaker."):
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


def _not_ready(environ: dict[str, Any], target: str, invocation: bool) -> Reply:
    """503 in the protocol the request spoke: the environment did not open in time, or the endpoint is stopping."""
    message = "the local AWS endpoint is not ready (starting or stopping); retry"
    if target or invocation:
        return error_reply("ServiceUnavailable", message, 503)
    scope = _SIGNED_SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return xml_error_reply("ServiceUnavailable", message, 503, s3=scope is None or scope["service"] == "s3")


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


def _body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ["wsgi.input"]
    return bytes(stream.read(length)) if length else b""


class Listener:
    """The endpoint's listening sockets: 127.0.0.1, and the Docker bridge's gateway (where containers reach it) on
    the same port. Binding needs no slow import, so a command can be pointed at the URL before the server exists;
    a connection made meanwhile waits in the backlog until the server serves it."""

    def __init__(self, sockets: list[socket.socket], bridge_address: str | None) -> None:
        self.sockets = sockets
        self.port = int(sockets[0].getsockname()[1])
        self._bridge_address = bridge_address

    @classmethod
    def bind(cls, bridge_address: str | None = None, port: int = 0) -> Listener:
        try:
            first = _listening("127.0.0.1", port)
        except OSError as error:
            raise UserError(
                f"cannot listen on 127.0.0.1:{port}: {error.strerror or error}",
                fix="choose another port (--port), or stop what listens there (`ss -ltnp | grep :PORT`)",
            ) from None
        sockets = [first]
        if bridge_address:
            bound = int(first.getsockname()[1])
            try:
                sockets.append(_listening(bridge_address, bound))
            except OSError as error:
                first.close()
                raise InfrastructureError(
                    f"cannot listen on the Docker bridge {bridge_address}:{bound}: {error.strerror or error}",
                    fix="retry (another program took the port), or check `ip addr show docker0`",
                ) from None
        return cls(sockets, bridge_address)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def container_url(self) -> str:
        """The URL containers use: the bridge gateway, where the second socket listens."""
        return f"http://{self._bridge_address}:{self.port}" if self._bridge_address else self.url

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


def _listening(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as an HTTP server binds: TIME_WAIT is no problem
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


class LocalAwsServer:
    """The endpoint's server: one app behind the listener's sockets (bound here, unless given already bound)."""

    def __init__(
        self, routes: Routes, bridge_address: str | None = None, port: int = 0, listener: Listener | None = None
    ) -> None:
        self.routes = routes
        self._bridge_address = bridge_address
        self._port = port
        self._listener = listener
        self._servers: list[Any] = []
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        return self._listener.port if self._listener else 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def container_url(self) -> str:
        """The URL containers use: the bridge gateway, where the second socket listens."""
        return self._listener.container_url if self._listener else self.url

    def start(self) -> LocalAwsServer:
        if self._listener is None:
            self._listener = Listener.bind(self._bridge_address, self._port)
        # Slow imports: only when a server is started.
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        app = LocalAwsApp(DomainDispatcherApplication(create_backend_app), self.routes)
        for sock in self._listener.sockets:
            host, port = sock.getsockname()[:2]
            self._serve(make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler,
                                    fd=sock.fileno()))  # fmt: skip
        threading.Thread(target=_warm_up, args=(app,), name="moto-warm-up", daemon=True).start()
        return self

    def _serve(self, server: Any) -> None:
        # A short poll interval: stop() returns within 50 ms instead of 500.
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        self._servers.append(server)
        self._threads.append(thread)

    def stop(self) -> None:
        self.routes.stopped = True
        self.routes.ready.set()  # a client still waiting is answered now, not after READY_WAIT_S
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)
        self._servers, self._threads = [], []
        if self._listener is not None:
            self._listener.close()


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
            client.open(path, method=method, data=body,
                        headers={**headers, "Authorization": authorization, INTERNAL_HEADER: "1"})  # fmt: skip
