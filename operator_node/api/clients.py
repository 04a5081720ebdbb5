"""Who a request comes from: its peer, or behind a trusted reverse proxy, the client it names.

Without configured proxies the client is the TCP peer, and ``X-Forwarded-For`` is ignored (anyone
can send it). When the peer is one of ``[api] trusted_proxies``, the header's addresses are read
from the right (each proxy appends the address it received the request from), skipping trusted
proxies; the first address that is not one is the client. Only hops a trusted proxy appended are
believed, so a client cannot choose its own bucket by writing the header itself. A header that
does not parse as addresses gives the last trusted hop, never a made-up key.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

FORWARDED_FOR = "X-Forwarded-For"
# More hops than this are not read: no real chain of proxies is that long.
MAX_HOPS = 16

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class ClientAddresses:
    """Resolves the client address of a request, given the trusted proxies."""

    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        self._trusted = [ipaddress.ip_network(net, strict=False) for net in trusted_proxies]

    def of(self, request: web.Request) -> str:
        """The client's address as text (the peer's when no trusted proxy forwarded it)."""
        peer = request.remote or "unknown"
        if not self._trusted or not self._is_trusted(_parse(peer)):
            return peer
        header = request.headers.get(FORWARDED_FOR, "")
        client = peer
        for hop in reversed(header.split(",")[-MAX_HOPS:]):
            address = _parse(hop.strip())
            if address is None:
                break
            client = str(address)
            if not self._is_trusted(address):
                break
        return client

    def _is_trusted(self, address: _Address | None) -> bool:
        return address is not None and any(address in net for net in self._trusted)


def _parse(text: str) -> _Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
