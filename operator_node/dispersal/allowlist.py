"""Which dispersers may push chunks: a static list from config and/or the chain's allow-list."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from operator_node.dispersal.chain_view import ChainView
from operator_node.protocol.errors import DisperserNotAllowed


class DisperserAllowlist:
    """Checks a recovered disperser address; chain answers are cached for ``ttl`` seconds.

    A positive chain answer is cached so a busy disperser costs one RPC per ``ttl``; a negative
    one too, so an unknown signer cannot make the node hammer its RPC.
    """

    def __init__(
        self,
        static: Iterable[str],
        chain: ChainView | None,
        *,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._static = {address.lower() for address in static}
        self._chain = chain
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[bool, float]] = {}

    async def validate(self, address: str) -> None:
        """Return None if ``address`` may disperse; raise :class:`DisperserNotAllowed` if not."""
        key = address.lower()
        if key in self._static:
            return
        if self._chain is not None and await self._is_chain_disperser(key):
            return
        raise DisperserNotAllowed(f"disperser {address} is not on this node's allow-list")

    async def _is_chain_disperser(self, key: str) -> bool:
        assert self._chain is not None
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        allowed = await self._chain.is_disperser(key)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (allowed, now + self._ttl)
        return allowed
