"""Which dispersers may push chunks: a static list from config and/or the chain's allow-list."""

from __future__ import annotations

from collections.abc import Iterable

from operator_node.dispersal.chain_view import ChainView
from operator_node.protocol.errors import DisperserNotAllowed


class DisperserAllowlist:
    """Checks a recovered disperser address against the static list, then the chain's.

    The chain's answer comes from ``ChainView.is_disperser``, which answers from a set it keeps
    (no chain call per request), so a forged signature, which recovers to a fresh address each
    time, costs no more than a known one.
    """

    def __init__(self, static: Iterable[str], chain: ChainView | None) -> None:
        self._static = {address.lower() for address in static}
        self._chain = chain

    async def validate(self, address: str) -> None:
        """Return None if ``address`` may disperse; raise :class:`DisperserNotAllowed` if not."""
        if address.lower() in self._static:
            return
        if self._chain is not None and await self._chain.is_disperser(address):
            return
        raise DisperserNotAllowed(f"disperser {address} is not on this node's allow-list")
