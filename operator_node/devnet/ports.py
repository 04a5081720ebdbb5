"""Loopback ports for the devnet's processes and the tests' daemons.

A port found free by ``bind(0)`` lies in the kernel's ephemeral range, so any outgoing connection
made before its user binds it (a devnet registers its operators over dozens of RPC connections
between picking the nodes' ports and starting them) may be given the same port as its local end,
and the node then fails with "address already in use". Ports are therefore picked outside that
range, where the kernel never assigns one on its own, and never twice by one process.
"""

from __future__ import annotations

import secrets
import socket
from functools import cache
from pathlib import Path

_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_DEFAULT_EPHEMERAL = (32768, 60999)
_LOWEST = 10000
_handed_out: set[int] = set()


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for automatically assigned local ports (inclusive)."""
    try:
        low, high = (int(part) for part in _RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        return _DEFAULT_EPHEMERAL
    return low, high


@cache
def _candidates() -> list[int]:
    low, high = ephemeral_range()
    ports = [p for p in range(_LOWEST, 65536) if not low <= p <= high]
    return ports or list(range(_LOWEST, 65536))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that was free a moment ago, outside the ephemeral range and not
    handed out before by this process."""
    candidates = _candidates()
    for _ in range(200):
        port = secrets.choice(candidates)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    # Every try taken: fall back to the kernel's choice rather than fail.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
