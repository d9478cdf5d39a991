"""What a started container listens on, read from its network namespace.

Serving code uses it to tell a server on the wrong port from one still starting. It needs no tools
in the image: the kernel's /proc/<pid>/net/tcp{,6} is read on the host when the daemon runs on this
machine, else `cat` inside the container reads its own /proc/net.
"""

from __future__ import annotations

from pathlib import Path

from harness.engine.docker import Container

LISTEN = "0A"  # the TCP state column of /proc/net/tcp


def listening_ports(container: Container) -> frozenset[int]:
    """TCP ports with a LISTEN socket in the container's network namespace; empty when unreadable."""
    return frozenset(listen_ports(_host_proc_net(container) or _exec_proc_net(container)))


def ip_address(container: Container) -> str:
    """The container's address on its first network ('' without one)."""
    settings = container.inspect().get("NetworkSettings") or {}
    addresses = [n.get("IPAddress") for n in (settings.get("Networks") or {}).values()]
    return next((a for a in addresses if a), "") or str(settings.get("IPAddress") or "")


def listen_ports(proc_net_tcp: str) -> set[int]:
    """Local ports of the LISTEN rows of /proc/net/tcp and tcp6."""
    ports = set()
    for line in proc_net_tcp.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[3] == LISTEN and ":" in fields[1]:
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _host_proc_net(container: Container) -> str:
    proc = Path("/proc") / str((container.inspect().get("State") or {}).get("Pid") or 0)
    try:  # the PID is the daemon's: trust it only if that process is in this container's cgroup
        if container.id not in (proc / "cgroup").read_text():
            return ""
        return "".join((proc / "net" / name).read_text() for name in ("tcp", "tcp6"))
    except OSError:
        return ""


def _exec_proc_net(container: Container) -> str:
    # tcp6 may be missing (IPv6 off): cat then exits 1 but has printed tcp
    done = container.try_exec(["cat", "/proc/net/tcp", "/proc/net/tcp6"])
    output = done[1] if done else ""
    return output if "local_address" in output else ""
