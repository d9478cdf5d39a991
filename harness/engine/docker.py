"""Engine adapter: the only module that talks to the Docker SDK.

Every container it starts carries the owner label and the label of the scope
(run, test session, check) that started it, so the scope can reap all of them
on success, failure or Ctrl-C. Published ports bind to 127.0.0.1 on a free
port chosen by Docker.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import docker as docker_sdk
import requests
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from urllib3.exceptions import ReadTimeoutError

from harness.errors import ContainerTimeout, InfrastructureError, UserError

OWNER_LABEL = "com.sagemaker-local-harness.owner"
SCOPE_LABEL = "com.sagemaker-local-harness.scope"
OWNER = "sagemaker-local-harness"
LOG_TAIL_LINES = 60


@dataclass(frozen=True)
class Mount:
    host: Path
    container: str
    read_only: bool = False


@dataclass(frozen=True)
class ContainerSpec:
    image: str
    command: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()
    ports: tuple[int, ...] = ()
    network_disabled: bool = False
    network: str | None = None
    hostname: str | None = None
    name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


def _same_image(image: str) -> str:
    return image


@dataclass(frozen=True)
class Platform:
    """What the platform gives every container of a scope, as SageMaker gives its own: an environment (the
    local AWS endpoint, region, dummy credentials) and the local image that stands for a cloud image URI."""

    environment: Mapping[str, str] = field(default_factory=dict)
    resolve_image: Callable[[str], str] = _same_image
    mounts: tuple[Mount, ...] = ()  # beside the spec's own (a wheelhouse), never under /opt/ml


@dataclass(frozen=True)
class ImageInfo:
    id: str
    tags: tuple[str, ...]
    size_bytes: int
    labels: Mapping[str, str]
    architecture: str


class Container:
    """A started container; the scope that created it removes it."""

    def __init__(self, sdk_container: Any) -> None:
        self._c = sdk_container

    @property
    def id(self) -> str:
        return str(self._c.id)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def scope(self) -> str:
        """The scope label, '' for containers the harness did not start."""
        return str((self._c.labels or {}).get(SCOPE_LABEL, ""))

    def host_port(self, container_port: int) -> int:
        self._c.reload()
        bindings = (self._c.attrs["NetworkSettings"]["Ports"] or {}).get(f"{container_port}/tcp") or []
        if not bindings:
            raise InfrastructureError(f"container {self.short_id} publishes no port {container_port}")
        return int(bindings[0]["HostPort"])

    def status(self) -> str:
        self._c.reload()
        return str(self._c.status)

    def wait(self, timeout_s: float | None = None) -> int:
        """The exit code; ContainerTimeout (with the log tail) when it runs past `timeout_s`,
        InfrastructureError when the daemon errors or stops answering meanwhile."""
        try:
            result = self._c.wait(timeout=timeout_s)
        except (requests.RequestException, DockerException) as error:
            if not _timed_out(error):
                raise InfrastructureError(
                    f"the Docker daemon stopped answering while waiting for container {self.short_id}",
                    fix="check that dockerd still runs (`docker info`; `harness provision` restarts it), then re-run",
                    details=str(error),
                ) from error
            raise ContainerTimeout(
                f"container {self.short_id} did not exit within {timeout_s} s", details=self.logs_tail()
            ) from error
        return int(result.get("StatusCode", -1))

    def logs(self) -> str:
        return str(self._c.logs(stdout=True, stderr=True).decode("utf-8", "replace"))

    def logs_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self._c.logs(stdout=True, stderr=True, tail=lines).decode("utf-8", "replace")
        except DockerException:
            return "(container logs unavailable)"
        return text or "(container wrote no logs)"

    def stream_logs(self, on_line: Callable[[str], None]) -> threading.Thread:
        """Follow the logs on a daemon thread, one decoded line at a time."""

        def follow() -> None:
            with contextlib.suppress(DockerException):
                for chunk in self._c.logs(stream=True, follow=True):
                    for line in chunk.decode("utf-8", "replace").splitlines():
                        on_line(line)

        thread = threading.Thread(target=follow, daemon=True)
        thread.start()
        return thread

    def start(self) -> None:
        try:
            self._c.start()
        except APIError as error:
            raise InfrastructureError(f"could not start container {self.short_id}: {error.explanation}") from error

    def signal(self, name: str) -> None:
        with contextlib.suppress(NotFound, APIError):  # already gone: nothing to signal
            self._c.kill(signal=name)

    def stop(self, grace_s: int = 30) -> None:
        """SIGTERM, then SIGKILL after `grace_s` (SageMaker's shutdown contract)."""
        with contextlib.suppress(NotFound, APIError):
            self._c.stop(timeout=grace_s)

    def exec(self, command: list[str]) -> tuple[int, str]:
        code, output = self._c.exec_run(command, demux=False)
        return int(code), (output or b"").decode("utf-8", "replace")

    def inspect(self) -> Mapping[str, Any]:
        """The daemon's current view of the container (`docker inspect`)."""
        self._c.reload()
        return dict(self._c.attrs)

    def try_exec(self, command: list[str]) -> tuple[int, str] | None:
        """Like exec, but None when the daemon cannot run it (the container stopped or is gone)."""
        try:
            return self.exec(command)
        except DockerException:
            return None

    def changed_paths(self) -> list[str]:
        """Paths added to the container's own file system (mounts excluded)."""
        return sorted(str(change["Path"]) for change in (self._c.diff() or []) if change.get("Kind") == 1)

    def remove(self) -> None:
        with contextlib.suppress(NotFound):
            self._c.remove(force=True, v=True)


def _timed_out(error: BaseException) -> bool:
    """A read timeout: requests raises ReadTimeout, or a ConnectionError around urllib3's ReadTimeoutError."""
    if isinstance(error, requests.Timeout):
        return True
    reason = error.args[0] if isinstance(error, requests.ConnectionError) and error.args else None
    return isinstance(reason, ReadTimeoutError) or isinstance(getattr(reason, "reason", None), ReadTimeoutError)


def _label_filter(labels: Mapping[str, str]) -> dict[str, list[str]]:
    return {"label": [f"{key}={value}" for key, value in labels.items()]}


class Engine:
    """A connected Docker engine."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @classmethod
    def connect(cls, timeout_s: float = 120.0) -> Engine:
        try:
            client = docker_sdk.from_env(timeout=int(timeout_s))
            client.ping()
        except DockerException as error:
            raise InfrastructureError(
                "no Docker daemon answers",
                fix="run `harness provision` (installs and starts Docker on Debian as root), "
                "or start Docker yourself (Docker Desktop, `sudo systemctl start docker`)",
                details=str(error),
            ) from error
        return cls(client)

    @property
    def client(self) -> Any:
        return self._client

    def info(self) -> dict[str, Any]:
        return dict(self._client.info())

    def architecture(self) -> str:
        return str(self.info().get("Architecture", "x86_64"))

    def bridge_gateway(self) -> str | None:
        """The default bridge's IPv4 gateway: the host as containers reach it (None if Docker has no bridge)."""
        try:
            configs = self._client.networks.get("bridge").attrs.get("IPAM", {}).get("Config") or []
        except DockerException:
            return None
        gateways = [str(c["Gateway"]) for c in configs if c.get("Gateway") and ":" not in str(c["Gateway"])]
        return gateways[0] if gateways else None

    def remove_container(self, container_id: str) -> None:
        """Force-remove a container by id; one already gone is fine."""
        with contextlib.suppress(NotFound):
            self._client.containers.get(container_id).remove(force=True, v=True)

    def image(self, name: str) -> ImageInfo | None:
        try:
            image = self._client.images.get(name)
        except ImageNotFound:
            return None
        attrs = image.attrs
        return ImageInfo(
            id=str(image.id),
            tags=tuple(image.tags),
            size_bytes=int(attrs.get("Size", 0)),
            labels=dict((attrs.get("Config") or {}).get("Labels") or {}),
            architecture=str(attrs.get("Architecture", "")),
        )

    def try_pull(self, name: str) -> bool:
        """Pull an image; False (not an error) when no registry is reachable."""
        repository, _, tag = name.rpartition(":") if ":" in name.split("/")[-1] else (name, "", "latest")
        try:
            self._client.images.pull(repository, tag=tag)
        except (APIError, DockerException):
            return False
        return True

    def import_rootfs(self, tar_path: Path, repository: str, tag: str) -> str:
        self._client.api.import_image_from_file(str(tar_path), repository=repository, tag=tag)
        info = self.image(f"{repository}:{tag}")
        if info is None:
            raise InfrastructureError(f"importing {tar_path} as {repository}:{tag} produced no image")
        return info.id

    def build(
        self,
        context: Path,
        tag: str,
        target: str,
        build_args: Mapping[str, str],
        labels: Mapping[str, str],
        on_line: Callable[[str], None],
        dockerfile: str | None = None,
    ) -> ImageInfo:
        """Build with the classic builder, streaming its output line by line."""
        tail: list[str] = []
        stream = self._client.api.build(
            path=str(context),
            tag=tag,
            target=target or None,
            dockerfile=dockerfile,
            buildargs=dict(build_args),
            rm=True,
            forcerm=True,
            decode=True,
            labels={**labels, OWNER_LABEL: OWNER},
        )
        for event in stream:
            if "error" in event:
                raise InfrastructureError(
                    f"building {tag} failed: {str(event['error']).strip()}",
                    fix="read the build output above; a missing wheel means containers/requirements.lock "
                    "is incomplete for this platform",
                    details="\n".join(tail[-30:]),
                )
            for line in str(event.get("stream", "")).splitlines():
                if line.strip():
                    tail.append(line)
                    on_line(line)
        info = self.image(tag)
        if info is None:
            raise InfrastructureError(f"build of {tag} finished but the image is missing")
        return info

    def tag(self, image: str, repository: str, tag: str) -> None:
        self._client.images.get(image).tag(repository, tag)

    def untag(self, reference: str) -> None:
        """Remove a tag only; the image stays while another tag or ID names it."""
        with contextlib.suppress(ImageNotFound, APIError):
            self._client.images.remove(reference, noprune=True)

    def login(self, username: str, password: str, registry: str) -> None:
        try:
            self._client.login(username=username, password=password, registry=registry, reauth=True)
        except APIError as error:
            raise InfrastructureError(f"docker login to {registry} failed: {error.explanation}") from error

    def push(self, repository: str, tag: str, on_line: Callable[[str], None]) -> str:
        """Push and return the manifest digest the registry reported."""
        digest = ""
        for event in self._client.api.push(repository, tag=tag, stream=True, decode=True):
            if "error" in event:
                raise InfrastructureError(
                    f"pushing {repository}:{tag} failed: {event['error']}",
                    fix="check the registry address and the login",
                )
            digest = event.get("aux", {}).get("Digest", digest)
            if event.get("status") and not event.get("progressDetail"):
                on_line(f"{repository}:{tag}: {event['status']}")
        if not digest:
            raise InfrastructureError(f"pushing {repository}:{tag} reported no digest")
        return str(digest)

    def create_network(self, name: str, labels: Mapping[str, str]) -> str:
        return str(self._client.networks.create(name, driver="bridge", labels=dict(labels)).id)

    def remove_networks(self, labels: Mapping[str, str]) -> None:
        for network in self._client.networks.list(filters=_label_filter(labels)):
            with contextlib.suppress(NotFound, APIError):
                network.remove()

    def networks(self, labels: Mapping[str, str]) -> list[str]:
        return [str(n.name) for n in self._client.networks.list(filters=_label_filter(labels))]

    def containers(self, labels: Mapping[str, str]) -> list[Container]:
        # A container removed between the listing and its inspection (another deletion, a scope closing) is skipped.
        listed = self._client.containers.list(all=True, filters=_label_filter(labels), ignore_removed=True)
        return [Container(c) for c in listed]

    def start(self, spec: ContainerSpec, scope_labels: Mapping[str, str]) -> Container:
        container = self.create(spec, scope_labels)
        container.start()
        return container

    def create(self, spec: ContainerSpec, scope_labels: Mapping[str, str]) -> Container:
        """A created, not yet started container (start several hosts together)."""
        try:
            sdk_container = self._client.containers.create(
                spec.image,
                command=list(spec.command) or None,
                entrypoint=list(spec.entrypoint) if spec.entrypoint is not None else None,
                environment=dict(spec.environment),
                volumes={
                    str(m.host): {"bind": m.container, "mode": "ro" if m.read_only else "rw"} for m in spec.mounts
                },
                ports={f"{p}/tcp": ("127.0.0.1", None) for p in spec.ports},
                network_disabled=spec.network_disabled,
                network=spec.network,
                # Docker's DNS resolves aliases, not hostnames: algo-1 must reach algo-2 by name.
                networking_config=(
                    {spec.network: self._client.api.create_endpoint_config(aliases=[spec.hostname])}
                    if spec.network and spec.hostname
                    else None
                ),
                hostname=spec.hostname,
                name=spec.name,
                labels={**spec.labels, **scope_labels},
            )
        except ImageNotFound as error:
            raise UserError(
                f"image {spec.image} does not exist locally",
                fix="build it (`harness images build` for this project's images) or `docker pull` it",
            ) from error
        except APIError as error:
            raise InfrastructureError(f"could not start a container from {spec.image}: {error.explanation}") from error
        return Container(sdk_container)


class Scope:
    """Owns every container started through it and removes them all on close."""

    def __init__(self, engine: Engine, name: str = "run", platform: Platform | None = None) -> None:
        self.engine = engine
        self.id = f"{name}-{uuid.uuid4().hex[:12]}"
        self.labels = {OWNER_LABEL: OWNER, SCOPE_LABEL: self.id}
        self.platform = platform or Platform()
        self._closed = False
        self._kept: set[str] = set()  # ids close() leaves in place (--keep-on-failure)

    def keep(self, container: Container) -> None:
        """Leave this container in place when the scope closes (a failed job kept for `harness debug`)."""
        self._kept.add(container.id)

    @property
    def closing(self) -> bool:
        return self._closed

    def keep_nothing(self) -> None:
        """close() removes the kept containers too (the run was interrupted: no record will name them)."""
        self._kept.clear()

    def start(self, spec: ContainerSpec) -> Container:
        return self._owned(self.engine.start(self._on_platform(self._open(spec)), self.labels))

    def create(self, spec: ContainerSpec) -> Container:
        return self._owned(self.engine.create(self._on_platform(self._open(spec)), self.labels))

    def _open(self, spec: ContainerSpec) -> ContainerSpec:
        if self._closed:
            raise InfrastructureError(f"the run is shutting down: no container starts in scope {self.id}")
        return spec

    def _owned(self, container: Container) -> Container:
        """A container whose creation raced close() (Ctrl-C as a job starts) is removed here, not left running
        until the job's own end: close() may have listed the scope's containers before it existed."""
        if self._closed:
            container.remove()
            raise InfrastructureError(f"the run is shutting down: no container starts in scope {self.id}")
        return container

    def _on_platform(self, spec: ContainerSpec) -> ContainerSpec:
        """The spec with the local image for its (cloud) image and the platform's environment under its own."""
        environment = {**self.platform.environment, **spec.environment}
        mounts = (*spec.mounts, *self.platform.mounts)
        return replace(spec, image=self.platform.resolve_image(spec.image), environment=environment, mounts=mounts)

    def network(self, name: str) -> str:
        """A bridge network owned by this scope, so hosts reach each other by name."""
        full_name = f"{self.id}-{name}"
        self.engine.create_network(full_name, self.labels)
        return full_name

    def leftovers(self) -> list[Container]:
        return [c for c in self.engine.containers(self.labels) if c.id not in self._kept]

    def run_to_exit(self, spec: ContainerSpec, timeout_s: float) -> tuple[int, str]:
        """Run a container to completion: (exit code, logs); it is removed after."""
        container = self.start(spec)
        try:
            return container.wait(timeout_s), container.logs()
        finally:
            container.remove()

    def close(self) -> None:
        # Look containers up by label rather than trusting a list kept in
        # memory: a container created just before Ctrl-C is still found.
        self._closed = True  # first: a creation still under way removes its own container (_owned)
        for container in self.leftovers():
            container.remove()
        self.engine.remove_networks(self.labels)

    def __enter__(self) -> Scope:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
