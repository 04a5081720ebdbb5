"""The systemd notify protocol (sd_notify), spoken directly over the datagram socket.

Nothing happens unless ``NOTIFY_SOCKET`` is set, so the same binary runs under systemd, in a
container or in a terminal.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Mapping


class SystemdNotifier:
    """Sends READY/STOPPING/WATCHDOG/STATUS messages to the service manager, if there is one."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        # "@name" is an abstract socket: the leading byte is NUL on the wire.
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._watchdog_usec = _parse_watchdog(environ)

    @property
    def enabled(self) -> bool:
        """True when a service manager listens."""
        return bool(self._address)

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between watchdog pings (half of ``WATCHDOG_USEC``), or None when not asked."""
        if not self.enabled or self._watchdog_usec is None:
            return None
        return self._watchdog_usec / 2_000_000

    def notify(self, message: str) -> None:
        """Send one message (e.g. ``"READY=1"``); a no-op without ``NOTIFY_SOCKET``."""
        if not self.enabled:
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(message.encode(), self._address)

    async def run_watchdog(self) -> None:
        """Ping ``WATCHDOG=1`` every half interval until cancelled; returns at once if not asked."""
        interval = self.watchdog_interval
        if interval is None:
            return
        while True:
            self.notify("WATCHDOG=1")
            await asyncio.sleep(interval)


def _parse_watchdog(environ: Mapping[str, str]) -> int | None:
    usec = environ.get("WATCHDOG_USEC", "")
    pid = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    # WATCHDOG_PID names the process the watchdog is meant for; a child must not ping for it.
    if pid and pid != str(os.getpid()):
        return None
    return int(usec)
