"""The service manager's disperser allow-list, held as a set the node answers from at no cost.

``isDisperser(address)`` answers one address at a time, and a forged StoreChunks signature
recovers to a fresh address every time: asking the chain per request would let anyone make the
node call its RPC (and, with the RPC hanging, hold its request slots). Instead the node keeps the
whole set, built from the service manager's ``DisperserStatusChanged(address indexed disperser,
bool allowed)`` events (scanned like sockets: from ``[chain] events_from_block``, in ranges of at
most ``events_block_range`` blocks, then only the blocks since), and answers every lookup from
memory, an unknown address as cheaply as a known one.

The set is refreshed at most every ``max_age`` seconds, in the background: a lookup never waits
for the chain, except the very first, which waits for the first scan (one at a time). A failed
scan opens a breaker (``chain.breaker``) for ``retry_after`` seconds: until then a lookup with
no set at all fails at once instead of waiting for the RPC, and one with a set answers from it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from web3.exceptions import Web3Exception

from operator_node.chain.breaker import CircuitBreaker
from operator_node.chain.errors import ChainError
from operator_node.chain.events import EventCursor


class DisperserSetUnavailable(ChainError):
    """The allow-list has never been read and cannot be now (the breaker is open or the scan
    failed)."""


class DisperserSet:
    """Allowed dispersers from ``DisperserStatusChanged`` events; lookups answered from memory."""

    def __init__(
        self,
        cursor: EventCursor,
        *,
        max_age: float = 30.0,
        retry_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``cursor`` scans the service manager's ``DisperserStatusChanged`` events."""
        self._cursor = cursor
        self._max_age = max_age
        self._clock = clock
        # Scans run one at a time under the lock: only whether it is open is asked of it.
        self._breaker = CircuitBreaker(retry_after, clock)
        self._allowed: set[str] = set()
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()
        self._refreshing: asyncio.Task[None] | None = None

    @property
    def loaded(self) -> bool:
        """Whether a scan has succeeded (the set can answer)."""
        return self._loaded_at is not None

    @property
    def last_error(self) -> str:
        """Why the last scan failed ("" after a success)."""
        return self._breaker.error

    async def contains(self, address: str) -> bool:
        """Whether ``address`` (any case) is allowed, as of the last scan.

        Raises :class:`DisperserSetUnavailable` when no scan has succeeded yet and one cannot
        succeed now.
        """
        now = self._clock()
        if self._loaded_at is None:
            await self._load_first()
        elif now - self._loaded_at >= self._max_age and not self._breaker.is_open():
            self._refresh_in_background()
        return address.lower() in self._allowed

    async def _load_first(self) -> None:
        if self._breaker.is_open():
            raise DisperserSetUnavailable(
                f"the disperser allow-list could not be read ({self._breaker.error}); "
                f"retrying at most every {self._breaker.retry_after:g} s"
            )
        await self.refresh()
        if self._loaded_at is None:
            raise DisperserSetUnavailable(
                f"the disperser allow-list could not be read ({self._breaker.error})"
            )

    def _refresh_in_background(self) -> None:
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self.refresh())

    async def refresh(self) -> None:
        """Scan the blocks since the last scan; on failure, note it and open the breaker (never
        raises, so a background refresh cannot fail unseen)."""
        async with self._lock:
            now = self._clock()
            if self._loaded_at is not None and now - self._loaded_at < self._max_age:
                return  # another caller has just done it
            if self._breaker.is_open():
                return  # another caller has just failed: do not wait for the RPC again
            try:
                await self._scan()
            except (ChainError, Web3Exception) as exc:
                self._breaker.failed(str(exc))
                return
            self._breaker.succeeded()
            self._loaded_at = self._clock()

    async def _scan(self) -> None:
        for log in await self._cursor.fetch_new():
            address = str(log["args"]["disperser"]).lower()
            if log["args"]["allowed"]:
                self._allowed.add(address)
            else:
                self._allowed.discard(address)
