"""The egress guard on its own: what it admits, what it refuses, and that nothing leaves when it refuses."""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from harness.emulator.storage import boto_session
from harness.engine.egress import Allowance, EgressRefused, sealed
from harness.engine.sandbox import aws_overrides, overridden

BRIDGE = Allowance(networks=(ipaddress.ip_network("172.17.0.0/16"),))
# TEST-NET-1 (RFC 5737): never routed, so a connect that got through would hang, not succeed.
UNROUTED = "192.0.2.10"


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.8.9.1",
        "::1",
        "[::1]",
        "::ffff:127.0.0.1",
        "localhost",
        "LOCALHOST",
        "172.17.0.2",
        "0.0.0.0",
        "",
    ],
)
def test_loopback_and_the_bridge_are_admitted(host: str) -> None:
    assert BRIDGE.admits(host)


@pytest.mark.parametrize(
    "host",
    [
        "169.254.169.254",
        "10.0.0.1",
        "172.18.0.2",
        "8.8.8.8",
        "2001:db8::1",
        "s3.amazonaws.com",
        "sts.us-east-1.amazonaws.com",
        "localhost.evil.com",
        # Resolved over DNS unless /etc/hosts or nss-myhostname has them, so looking them up is traffic.
        "api.localhost",
        "localhost.",
        "ip6-localhost",
        "localhost.localdomain",
    ],
)
def test_everything_else_is_refused(host: str) -> None:
    assert not BRIDGE.admits(host)


def test_a_lookup_of_an_aws_host_is_refused_with_host_and_caller() -> None:
    with sealed(BRIDGE) as seal, pytest.raises(EgressRefused) as caught:
        socket.getaddrinfo("s3.amazonaws.com", 443)
    assert "refused to lookup s3.amazonaws.com:443" in caught.value.problem
    assert f"{__file__}:" in caught.value.problem and "local services" in caught.value.fix
    assert isinstance(caught.value, ConnectionRefusedError)  # libraries' connection-error paths still run
    (refusal,) = seal.refusals
    assert refusal.operation == "lookup" and refusal.target == "s3.amazonaws.com:443"
    assert refusal.caller.startswith(f"{__file__}:")


def test_a_connect_outside_is_refused_before_the_system_is_asked() -> None:
    with socket.socket() as sock, sealed(BRIDGE) as seal:
        sock.settimeout(5)
        started = time.monotonic()
        with pytest.raises(EgressRefused, match=re.escape(f"refused to connect {UNROUTED}:443")):
            sock.connect((UNROUTED, 443))
        assert time.monotonic() - started < 0.5  # not a timeout: nothing was sent
    assert [r.operation for r in seal.refusals] == ["connect"]


def test_loopback_connections_pass(listener: int) -> None:
    with sealed(BRIDGE) as seal, socket.create_connection(("127.0.0.1", listener), timeout=5):
        pass
    assert seal.refusals == ()


def test_a_datagram_outside_is_refused() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
        sealed(BRIDGE),
        pytest.raises(EgressRefused, match=re.escape("refused to send 8.8.8.8:53")),
    ):
        sock.sendto(b"\0", ("8.8.8.8", 53))


def test_other_threads_are_guarded_too() -> None:
    caught: list[BaseException] = []

    def lookup() -> None:
        try:
            socket.getaddrinfo("sts.amazonaws.com", 443)
        except EgressRefused as error:
            caught.append(error)

    with sealed(BRIDGE) as seal:
        thread = threading.Thread(target=lookup)
        thread.start()
        thread.join(timeout=10)
    assert len(caught) == 1 and seal.refusals[0].target == "sts.amazonaws.com:443"


def test_seals_nest_and_the_guard_is_inert_once_all_are_closed() -> None:
    with sealed(BRIDGE) as outer:
        with sealed(Allowance()) as inner, pytest.raises(EgressRefused) as caught:
            socket.getaddrinfo("172.17.0.2", 80)  # the outer allows the bridge; the inner does not
        socket.getaddrinfo("172.17.0.2", 80)  # the inner is closed
        with pytest.raises(EgressRefused):
            socket.getaddrinfo(UNROUTED, 80)
    # Each refusal is on the seal that refused it, and the message names that seal's allowance, not the outer's.
    assert [r.target for r in inner.refusals] == ["172.17.0.2:80"]
    assert [r.target for r in outer.refusals] == [f"{UNROUTED}:80"]
    assert "only loopback, Unix sockets may be reached" in caught.value.problem
    assert "172.17.0.0/16" not in caught.value.problem
    assert socket.getaddrinfo(UNROUTED, 80)  # numeric: no DNS; allowed again outside any seal


def test_a_target_outside_two_different_seals_names_both_allowances() -> None:
    other = Allowance(networks=(ipaddress.ip_network("10.1.0.0/16"),))
    with sealed(BRIDGE) as outer, sealed(other) as inner, pytest.raises(EgressRefused) as caught:
        socket.getaddrinfo(UNROUTED, 80)
    assert len(outer.refusals) == len(inner.refusals) == 1
    assert "172.17.0.0/16" in caught.value.problem and "10.1.0.0/16" in caught.value.problem


def test_nested_seals_with_one_allowance_describe_it_once() -> None:
    with sealed(BRIDGE), sealed(BRIDGE), pytest.raises(EgressRefused) as caught:
        socket.getaddrinfo(UNROUTED, 80)
    assert "only loopback, Unix sockets, 172.17.0.0/16 may be reached" in caught.value.problem


def test_a_real_boto3_client_fails_naming_the_host() -> None:
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="AKIAUSERSOWN",
        aws_secret_access_key="own",
        config=Config(retries={"max_attempts": 1}),
    )
    with sealed(BRIDGE) as seal, pytest.raises(EndpointConnectionError, match=re.escape("s3.amazonaws.com")) as caught:
        client.list_buckets()
    assert "refused to lookup s3.amazonaws.com:443" in str(caught.value.__context__)
    assert seal.refusals and seal.refusals[0].caller.startswith(f"{__file__}:")  # this test, not botocore


def test_the_sdk_import_settings_are_offline_and_put_back() -> None:
    environ = {"AWS_PROFILE": "prod", "AWS_SESSION_TOKEN": "t", "AWS_ACCESS_KEY_ID": "AKIAHOST", "PATH": "/bin"}
    changes = aws_overrides(environ)
    assert changes["AWS_PROFILE"] is None and changes["AWS_SESSION_TOKEN"] is None
    assert changes["AWS_EC2_METADATA_DISABLED"] == "true" and changes["AWS_ACCESS_KEY_ID"] == "harness-local"
    assert "PATH" not in changes
    before = dict(environ)
    with overridden(environ, changes):
        assert "AWS_PROFILE" not in environ and environ["AWS_CONFIG_FILE"] == "/dev/null"
    assert environ == before


def test_the_local_session_reads_nothing_of_the_hosts_aws_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "a-profile-this-machine-lacks")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://10.9.9.9")
    session = boto_session()
    client = session.client("sts")
    assert client.meta.endpoint_url == "https://sts.us-east-1.amazonaws.com"  # not the host's endpoint
    assert session.get_credentials().access_key == "harness-local"
    assert session._session.get_config_variable("ec2_metadata_disabled") is True
