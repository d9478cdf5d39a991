"""Reading listening ports from /proc/net/tcp{,6}, as harness.engine.netprobe does for a container's namespace."""

from __future__ import annotations

import socket
from pathlib import Path

from harness.engine.netprobe import listen_ports


def _proc_net() -> str:
    return "".join(
        (Path("/proc/self/net") / name).read_text()
        for name in ("tcp", "tcp6")
        if Path(f"/proc/self/net/{name}").exists()
    )


def test_a_listening_socket_is_found_and_a_connected_one_is_not() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = server.accept()
            with accepted:
                ports = listen_ports(_proc_net())
                local = client.getsockname()[1]
    assert port in ports and local not in ports  # the client's ESTABLISHED row is not a LISTEN row


def test_header_and_short_lines_are_ignored() -> None:
    text = (
        "  sl  local_address rem_address   st tx_queue rx_queue\n"
        "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000\n"
        "   1: 0100007F:1F91 0100007F:D431 01 00000000:00000000\n"
        "garbage\n"
    )
    assert listen_ports(text) == {8080}
