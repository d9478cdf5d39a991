"""No door reaches the network: while a local environment is open, the process
may connect only to loopback, Unix sockets and the Docker bridge.

The guard is a `sys.addaudithook` hook. Audit hooks cannot be removed, so it is
installed once per process (the first time a seal opens) and consults the
seals open at that moment; with none open it returns at once. It refuses before
the operating system is asked: a refused name lookup sends no DNS query and a
refused connect opens nothing. One gap it cannot close: `sock.connect((name, port))`
resolves the name inside CPython before the audit event fires, so that lookup is
sent and only the connect is refused (HTTP clients and `socket.create_connection`
call the audited `getaddrinfo` first, so they send nothing). The refusal is an `EgressRefused`, a
`ConnectionRefusedError`, so libraries' own connection-error paths still run
(botocore turns it into `EndpointConnectionError` naming the URL), and its
message names the host:port and the line of code that tried.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import logging
import os
import socket
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from harness.errors import UserError

if TYPE_CHECKING:
    from harness.engine.docker import Engine

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOG = logging.getLogger("harness.engine.egress")
# Audit events that reach another host (a connect, a datagram, a name or address lookup).
WATCHED = frozenset(
    {
        "socket.connect",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
    }
)
_ADDRESSED = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg"})
_INET = (socket.AF_INET, socket.AF_INET6)
# Names the system answers without DNS: glibc finds "localhost" in every /etc/hosts (Docker writes it too). Not
# *.localhost, "localhost." or ip6-localhost: with "hosts: files dns" and no nss-myhostname they go to DNS (measured).
LOCAL_NAMES = frozenset({"", "localhost"})
# Frames of these packages are the plumbing between the caller and the socket, not the caller.
_PLUMBING = frozenset(
    {
        "socket",
        "ssl",
        "http",
        "urllib",
        "urllib3",
        "requests",
        "botocore",
        "boto3",
        "s3transfer",
        "httpx",
        "httpcore",
        "aiohttp",
        "aiobotocore",
        "asyncio",
        "selectors",
        "importlib",
        "runpy",
        "logging",
        "contextlib",
    }
)


class EgressRefused(UserError, ConnectionRefusedError):
    """A connection outside loopback, Unix sockets and the Docker bridge, refused while a local environment is open."""


@dataclass(frozen=True)
class Refusal:
    operation: str  # connect, lookup, send
    target: str  # host:port, or the name looked up
    caller: str  # file:line in function, the first frame outside the network plumbing

    def __str__(self) -> str:
        return f"{self.operation} {self.target} from {self.caller}"


@dataclass(frozen=True)
class Allowance:
    """Where the process may connect besides loopback and Unix sockets."""

    networks: tuple[Network, ...] = ()
    names: frozenset[str] = frozenset()

    def admits(self, host: str) -> bool:
        host = host.strip("[]").split("%")[0].lower()
        if host in LOCAL_NAMES or host in self.names:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False  # a name: looking it up is itself traffic (DNS)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return address.is_loopback or address.is_unspecified or any(address in n for n in self.networks)

    def describe(self) -> str:
        extra = [str(n) for n in self.networks] + sorted(self.names)
        return ", ".join(["loopback", "Unix sockets", *extra])


@dataclass(frozen=True)
class Seal:
    """One activation of the guard: what it allows and what it refused."""

    allowance: Allowance
    _refusals: list[Refusal] = field(default_factory=list)

    @property
    def refusals(self) -> tuple[Refusal, ...]:
        return tuple(self._refusals)


class Guard:
    """The process's one audit hook; inert unless a seal is open."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seals: tuple[Seal, ...] = ()  # replaced whole, so the hook reads it without the lock
        self._installed = False

    def install(self) -> None:
        with self._lock:
            if not self._installed:
                sys.addaudithook(self)
                self._installed = True

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        seals = self._seals
        if not seals or event not in WATCHED:
            return  # the hook sees every audit event of the process: the common case must be cheap
        target = _target(event, args)
        if target is None:
            return
        refusing = tuple(seal for seal in seals if not seal.allowance.admits(target[0]))
        if refusing:
            self._refuse(refusing, event, target)

    def _refuse(self, refusing: tuple[Seal, ...], event: str, target: tuple[str, Any]) -> None:
        """Record on, and describe, only the refusing seals: an enclosing seal admitting the target is not to blame."""
        host, port = target
        operation = "connect" if event == "socket.connect" else "send" if event in _ADDRESSED else "lookup"
        shown = host if port is None else f"{host}:{port}"
        refusal = Refusal(operation, shown, _caller(sys._getframe()))
        for seal in refusing:
            seal._refusals.append(refusal)
        LOG.warning("refused %s", refusal)
        raise EgressRefused(
            f"refused to {operation} {shown} (from {refusal.caller}): a local environment is open and "
            f"{_allowed(refusing)}",
            fix="point the code at the local services (env.session, env.s3.endpoint_url, the fixtures' servers); "
            "make real AWS calls outside the local environment",
        )

    @contextlib.contextmanager
    def sealed(self, allowance: Allowance) -> Iterator[Seal]:
        self.install()
        seal = Seal(allowance)
        with self._lock:
            self._seals = (*self._seals, seal)
        try:
            yield seal
        finally:
            with self._lock:
                self._seals = tuple(s for s in self._seals if s is not seal)


@functools.cache
def process_guard() -> Guard:
    """The guard of this process. One per process because audit hooks are: they cannot be removed."""
    return Guard()


def install() -> None:
    """Install the (inert) hook now, so that audit hooks added later run after it."""
    process_guard().install()


def sealed(allowance: Allowance) -> contextlib.AbstractContextManager[Seal]:
    """While the block runs, refuse every connection and lookup the allowance does not admit (all threads)."""
    return process_guard().sealed(allowance)


def local_allowance(engine: Engine) -> Allowance:
    """Loopback, Unix sockets, the Docker bridge's subnets and a remote daemon's own address, if any."""
    names, addresses = _daemon_host(os.environ.get("DOCKER_HOST", ""))
    return Allowance(networks=(*_bridge_subnets(engine), *addresses), names=names)


def _bridge_subnets(engine: Engine) -> Iterator[Network]:
    from docker.errors import DockerException

    try:
        configs = engine.client.networks.get("bridge").attrs.get("IPAM", {}).get("Config") or []
    except DockerException:
        return  # no default bridge (some engines): loopback only
    for config in configs:
        if config.get("Subnet"):
            yield ipaddress.ip_network(config["Subnet"], strict=False)


def _daemon_host(docker_host: str) -> tuple[frozenset[str], tuple[Network, ...]]:
    """A daemon reached over TCP or SSH must stay reachable: its name and addresses, looked up now."""
    host = urlparse(docker_host).hostname if docker_host.startswith(("tcp://", "ssh://", "https://")) else None
    if not host or Allowance().admits(host):
        return frozenset(), ()
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        infos = []
    return frozenset({host.lower()}), tuple(ipaddress.ip_network(info[4][0]) for info in infos)


def _allowed(refusing: tuple[Seal, ...]) -> str:
    """What the refusing seals allow; nested seals with the same allowance are one description."""
    described = list(dict.fromkeys(seal.allowance.describe() for seal in refusing))
    if len(described) == 1:
        return f"only {described[0]} may be reached"
    return "the target is outside every open seal (" + "; ".join(f"one admits only {d}" for d in described) + ")"


def _target(event: str, args: tuple[Any, ...]) -> tuple[str, Any] | None:
    """(host, port) an event reaches, or None when it reaches no other host (Unix sockets, passive lookups)."""
    if event in _ADDRESSED:
        sock, address = args[0], args[1]
        if address is None or getattr(sock, "family", None) not in _INET:
            return None
        return str(address[0]), address[1]
    if event == "socket.getnameinfo":
        return str(args[0][0]), None
    host = args[0]
    if host is None:
        return None
    host = host.decode() if isinstance(host, bytes) else str(host)
    return host, args[1] if event == "socket.getaddrinfo" else None


def _caller(frame: FrameType | None) -> str:
    """The first frame outside the network plumbing (sockets, HTTP clients, the AWS SDK, this module)."""
    for current in _frames(frame):
        module = str(current.f_globals.get("__name__", ""))
        if module.split(".")[0] not in _PLUMBING and module != __name__:
            return f"{current.f_code.co_filename}:{current.f_lineno} in {current.f_code.co_name}"
    return "an unknown caller"


def _frames(frame: FrameType | None) -> Iterable[FrameType]:
    while frame is not None:
        yield frame
        frame = frame.f_back
