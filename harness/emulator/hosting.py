"""Local real-time endpoints: CreateModel -> CreateEndpointConfig ->
CreateEndpoint, InvokeEndpoint, data capture, DeleteEndpoint.

Each endpoint is one inference container started with `serve`, its model
extracted into a folder the harness owns (never the user's), published on a
free 127.0.0.1 port, so several endpoints run at once.

DeleteEndpoint answers at once, as AWS does: the endpoint is `Deleting` while
its container stops on a background thread (SIGTERM, up to 30 s grace), then
it is gone. `drain()` waits for every deletion; `stop_all()` ends with it, so
no container outlives the run.
"""

from __future__ import annotations

import base64
import json
import shutil
import tarfile
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from harness.emulator.archives import safe_extract
from harness.emulator.arns import ACCOUNT, sagemaker_arn
from harness.emulator.awserrors import client_error, validation_error
from harness.emulator.inference_client import STARTUP_WINDOW_S, InferenceClient, wait_until_healthy
from harness.emulator.metrics import as_logged
from harness.emulator.storage import EmbeddedS3, S3Uri
from harness.engine.docker import Container, ContainerSpec, Mount, Scope
from harness.errors import ContractViolation, InfrastructureError

REALTIME_PAYLOAD_LIMIT = 6 * 1024 * 1024
ENDPOINT_LABEL = "com.sagemaker-local-harness.endpoint"
STOP_GRACE_S = 30  # SageMaker's shutdown contract: SIGTERM, then SIGKILL 30 s later
DRAIN_TIMEOUT_S = STOP_GRACE_S + 30  # the grace, plus time to remove the container


@dataclass(frozen=True)
class ModelDefinition:
    name: str
    image: str
    model_data_url: str
    environment: dict[str, str]


@dataclass(frozen=True)
class CaptureSettings:
    destination: S3Uri
    capture_input: bool
    capture_output: bool
    csv_types: tuple[str, ...]
    json_types: tuple[str, ...]

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> CaptureSettings | None:
        if not config or not config.get("EnableCapture", False):
            return None
        modes = {
            o.get("CaptureMode")
            for o in config.get("CaptureOptions") or [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]
        }
        header = config.get("CaptureContentTypeHeader") or {}
        return cls(
            S3Uri.parse(config["DestinationS3Uri"]),
            "Input" in modes,
            "Output" in modes,
            tuple(header.get("CsvContentTypes") or ["text/csv"]),
            tuple(header.get("JsonContentTypes") or ["application/json"]),
        )


@dataclass(frozen=True)
class Served:
    container: Container
    client: InferenceClient
    model_dir: Path
    seconds_to_healthy: float

    def close(self) -> None:
        """Stop (SIGTERM, grace), then remove the container and the model folder, even when stopping fails."""
        self.client.close()
        try:
            self.container.stop(grace_s=STOP_GRACE_S)
        finally:
            self.container.remove()
            shutil.rmtree(self.model_dir, ignore_errors=True)


@dataclass(frozen=True)
class Endpoint:
    name: str
    config_name: str
    variant: str
    served: Served
    capture: CaptureSettings | None
    created: datetime

    @property
    def client(self) -> InferenceClient:
        return self.served.client

    @property
    def container(self) -> Container:
        return self.served.container


LogStreamFactory = Callable[[str, str], Callable[[str], None]]  # (group, stream) -> a sink for its lines


def _no_log_streams(group: str, stream: str) -> Callable[[str], None]:
    return lambda line: None


class EndpointHost:
    """Runs endpoints' containers inside `scope`, model folders under `work_dir`."""

    def __init__(
        self, scope: Scope, s3: EmbeddedS3, work_dir: Path, log_streams: LogStreamFactory = _no_log_streams
    ) -> None:
        self._scope = scope
        self._s3 = s3
        self._work_dir = work_dir
        self._log_streams = log_streams
        self.endpoints: dict[str, Endpoint] = {}  # InService
        self._creating: dict[str, tuple[str, datetime]] = {}  # reserved names: (config, since) while starting
        self._deleting: dict[str, tuple[Endpoint, Future[None]]] = {}  # their containers are stopping
        self._lock = threading.Lock()  # deletions finish on their own threads; creations may run concurrently
        self._deleter: ThreadPoolExecutor | None = None  # started with the first deletion, ended by drain()

    def reserve(self, name: str, config_name: str) -> None:
        """Claim `name` for an endpoint about to start (`creating()` reports it until `release()`); refused as
        the service refuses it when an endpoint of that name exists, starts or is being deleted."""
        with self._lock:
            if name in self.endpoints or name in self._deleting or name in self._creating:
                raise validation_error(
                    "CreateEndpoint", f'Cannot create already existing endpoint "{sagemaker_arn("endpoint", name)}".'
                )
            self._creating[name] = (config_name, datetime.now(UTC))

    def release(self, name: str) -> None:
        with self._lock:
            self._creating.pop(name, None)

    def creating(self, name: str) -> tuple[str, datetime] | None:
        """(config, since) of a reserved endpoint whose container is still starting, else None."""
        with self._lock:
            return self._creating.get(name)

    def start(self, name: str, config_name: str, config: dict[str, Any], model: ModelDefinition) -> Endpoint:
        """Serve `name` (which the caller reserved) until it is stopped."""
        variant = config["ProductionVariants"][0]  # exactly one: the control plane refused any other count
        window = float(variant.get("ContainerStartupHealthCheckTimeoutInSeconds", STARTUP_WINDOW_S))
        variant_name = str(variant.get("VariantName", "AllTraffic"))
        served = self.serve(name, model, {}, window, (f"/aws/sagemaker/Endpoints/{name}", f"{variant_name}/i-{{id}}"))
        endpoint = Endpoint(
            name,
            config_name,
            variant_name,
            served,
            CaptureSettings.from_config(config.get("DataCaptureConfig")),
            datetime.now(UTC),
        )
        with self._lock:
            self.endpoints[name] = endpoint
        return endpoint

    def serve(
        self,
        name: str,
        model: ModelDefinition,
        environment: dict[str, str],
        window_s: float,
        log_to: tuple[str, str] | None = None,
    ) -> Served:
        """A healthy inference container for `model`; removed again if it never gets healthy. `log_to`: the
        CloudWatch Logs group and stream its log goes to (`{id}` in the stream: the container's short ID, the
        local instance ID)."""
        model_dir = self._fetch_model(name, model)
        spec = ContainerSpec(
            image=model.image,
            command=("serve",),
            environment={**model.environment, **environment},
            ports=(8080,),
            mounts=(Mount(model_dir, "/opt/ml/model", read_only=True),),
            labels={ENDPOINT_LABEL: name},
        )
        container = self._scope.start(spec)
        if log_to is not None:
            group, stream = log_to
            sink = self._log_streams(group, stream.format(id=container.short_id))
            container.stream_logs(lambda line: sink(as_logged(line)))
        client = InferenceClient(container.host_port(8080))
        try:
            seconds = wait_until_healthy(container, client, window_s, port=8080)
        except ContractViolation as error:
            container.remove()
            shutil.rmtree(model_dir, ignore_errors=True)
            raise client_error(
                "CreateEndpoint",
                "ValidationException",
                f"{name} failed its health check: {error.problem}\n{error.details}",
            ) from error
        return Served(container, client, model_dir, seconds)

    def _fetch_model(self, endpoint: str, model: ModelDefinition) -> Path:
        """Check the artifact exists and is a valid tar.gz, then extract it."""
        uri = S3Uri.parse(model.model_data_url)
        if not self._s3.exists(uri):
            raise validation_error(
                "CreateEndpoint",
                f"Could not find model data at {uri}: the training job "
                "that writes it has not finished (wait for the pipeline execution and "
                "check ModelArtifacts.S3ModelArtifacts before deploying)",
            )
        target = self._work_dir / "endpoints" / f"{endpoint}-{uuid.uuid4().hex[:8]}"
        target.mkdir(parents=True)
        archive = target.with_suffix(".tar.gz")
        try:
            self._s3.get_file(uri, archive)
            safe_extract(archive, target)
        except (tarfile.TarError, EOFError, OSError, ValueError) as error:
            shutil.rmtree(target, ignore_errors=True)
            raise validation_error("CreateEndpoint", f"model data at {uri} is not a valid tar.gz: {error}") from error
        finally:
            archive.unlink(missing_ok=True)
        return target

    def invoke(
        self, name: str, body: bytes, content_type: str, accept: str | None, custom_attributes: str | None,
        inference_id: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            # sagemaker-runtime's code for this is ValidationError, not the control plane's ValidationException.
            raise client_error("InvokeEndpoint", "ValidationError", f"Endpoint {name} of account {ACCOUNT} not found.")
        if len(body) > REALTIME_PAYLOAD_LIMIT:
            raise validation_error(
                "InvokeEndpoint",
                f"Request payload of {len(body)} bytes exceeds the "
                f"{REALTIME_PAYLOAD_LIMIT}-byte limit for real-time endpoints",
            )
        headers = {"Content-Type": content_type}
        if accept:
            headers["Accept"] = accept
        if custom_attributes:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = custom_attributes
        try:
            response = requests.post(f"{endpoint.client.base_url}/invocations", data=body, headers=headers, timeout=60)
        except requests.RequestException as error:
            raise _model_error(endpoint, 0, f"no response from the container: {type(error).__name__}") from error
        if response.status_code >= 400:
            raise _model_error(endpoint, response.status_code, response.text[:2000])
        answer_type = response.headers.get("Content-Type", "")
        if endpoint.capture:
            self._capture(endpoint, body, content_type, response.content, answer_type, inference_id)
        return {
            "Body": response.content,
            "ContentType": answer_type,
            "InvokedProductionVariant": endpoint.variant,
            "CustomAttributes": response.headers.get("X-Amzn-SageMaker-Custom-Attributes"),
        }

    def _capture(self, endpoint: Endpoint, body: bytes, content_type: str, answer: bytes, answer_type: str,
                 inference_id: str | None) -> None:  # fmt: skip
        """One JSONL record in the Model Monitor layout {endpoint}/{variant}/yyyy/mm/dd/hh/."""
        capture = endpoint.capture
        assert capture is not None
        now = datetime.now(UTC)
        data: dict[str, Any] = {}
        if capture.capture_input:
            data["endpointInput"] = _captured(body, content_type, "INPUT", capture)
        if capture.capture_output:
            data["endpointOutput"] = _captured(answer, answer_type, "OUTPUT", capture)
        metadata = {"eventId": str(uuid.uuid4()), "inferenceTime": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if inference_id:  # InvokeEndpoint's InferenceId: what ground truth records name to be merged with it
            metadata["inferenceId"] = inference_id
        record = {"captureData": data, "eventMetadata": metadata, "eventVersion": "0"}
        key = capture.destination.join(
            endpoint.name,
            endpoint.variant,
            now.strftime("%Y/%m/%d/%H"),
            f"{now.strftime('%M-%S-%f')}-{uuid.uuid4().hex[:8]}.jsonl",
        )
        self._s3.put_bytes((json.dumps(record) + "\n").encode(), key)

    def status(self, name: str) -> tuple[Endpoint, str] | None:
        """The endpoint and its EndpointStatus (InService, Deleting, or Failed when its deletion failed), or None
        once it is gone."""
        self._forget_deleted()
        with self._lock:
            if name in self.endpoints:
                return self.endpoints[name], "InService"
            if name in self._deleting:
                endpoint, done = self._deleting[name]
                return endpoint, "Failed" if done.done() else "Deleting"
        return None

    def stop(self, name: str) -> None:
        """Start deleting: the endpoint is Deleting until its container is removed."""
        with self._lock:
            endpoint = self.endpoints.pop(name, None)
            if endpoint is None:
                if name in self._deleting:
                    return  # already being deleted
                raise not_found_endpoint("DeleteEndpoint", name)
            if self._deleter is None:
                # Stops mostly wait (SIGTERM grace): enough threads that none queues behind another.
                self._deleter = ThreadPoolExecutor(max_workers=32, thread_name_prefix="delete-endpoint")
            self._deleting[name] = (endpoint, self._deleter.submit(endpoint.served.close))

    def wait_deleted(self, name: str, timeout_s: float = DRAIN_TIMEOUT_S) -> bool:
        """Block until `name` is gone (True), or the timeout passes while it is still there (False)."""
        with self._lock:
            deleting = self._deleting.get(name)
        if deleting is not None:
            wait([deleting[1]], timeout=timeout_s)
        return self.status(name) is None

    def _forget_deleted(self) -> None:
        """Drop the deletions that finished well; failed ones stay for drain() to report."""
        with self._lock:
            for name, (_, done) in list(self._deleting.items()):
                if done.done() and done.exception() is None:
                    del self._deleting[name]

    def drain(self, timeout_s: float = DRAIN_TIMEOUT_S) -> None:
        """Wait until every deleted endpoint's container is stopped and removed; report each one that was not."""
        with self._lock:
            pending = [done for _, done in self._deleting.values()]
        wait(pending, timeout=timeout_s)
        self._forget_deleted()
        with self._lock:
            problems = [
                _deletion_problem(name, endpoint, done, timeout_s) for name, (endpoint, done) in self._deleting.items()
            ]
            self._deleting = {n: d for n, d in self._deleting.items() if not d[1].done()}  # failed: reported now
            deleter = self._deleter if not self._deleting else None
            if deleter is not None:
                self._deleter = None
        if deleter is not None:
            deleter.shutdown(wait=True)  # every deletion finished: no thread outlives the environment
        if problems:
            raise InfrastructureError(
                f"{len(problems)} endpoint container(s) could not be removed: " + "; ".join(problems),
                fix="check `docker ps -a`; the run's scope removes what is left",
            )

    def image_id(self, image: str) -> str:
        info = self._scope.engine.image(image)
        return info.id if info else ""

    def stop_all(self) -> None:
        """Delete every endpoint and wait until their containers are gone."""
        for name in list(self.endpoints):
            self.stop(name)
        self.drain()


def _deletion_problem(name: str, endpoint: Endpoint, done: Future[None], timeout_s: float) -> str:
    where = f"{name} (container {endpoint.container.short_id})"
    if not done.done():
        return f"{where}: still stopping after {timeout_s:.0f} s"
    error = done.exception()
    return f"{where}: {type(error).__name__}: {error}"


def not_found_endpoint(operation: str, name: str) -> Exception:
    """SageMaker's answer for an endpoint that does not exist (or no longer does)."""
    return validation_error(operation, f'Could not find endpoint "{sagemaker_arn("endpoint", name)}".')


def _captured(data: bytes, content_type: str, mode: str, capture: CaptureSettings) -> dict[str, str]:
    kind = content_type.split(";")[0].strip()
    if kind in capture.csv_types or kind in capture.json_types:
        encoding, text = ("CSV" if kind in capture.csv_types else "JSON"), data.decode("utf-8", "replace")
    else:
        encoding, text = "BASE64", base64.b64encode(data).decode()
    return {"observedContentType": content_type, "mode": mode, "data": text, "encoding": encoding}


def _model_error(endpoint: Endpoint, status: int, message: str) -> Exception:
    kind = "client" if 400 <= status < 500 else "server"
    return client_error(
        "InvokeEndpoint",
        "ModelError",
        f'Received {kind} error ({status}) from primary with message "{message}". '
        f"See the logs of endpoint {endpoint.name} (container {endpoint.container.short_id}).",
        status=424,
        OriginalStatusCode=status,
        OriginalMessage=message,
    )
