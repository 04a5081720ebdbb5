"""Incremental event scans: each call reads only the blocks since the last one.

Providers cap ``eth_getLogs`` ranges, and a node must not rescan a chain's history on every
lookup: :class:`EventCursor` starts at ``[chain] events_from_block``, asks for at most
``events_block_range`` blocks at a time up to the head, and remembers where it stopped. Logs come
back in chain order, so a caller folding them keeps the latest state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from web3 import AsyncWeb3


class EventCursor:
    """Where one event's scan has reached; :meth:`fetch_new` returns the logs since."""

    def __init__(
        self,
        w3: AsyncWeb3[Any],
        event: Any,
        *,
        from_block: int = 0,
        block_range: int = 10_000,
        head: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        """``head`` says how far to scan (default: ``eth_blockNumber`` each time); a recent
        head another loop has read will do, and costs no call."""
        if from_block < 0 or block_range < 1:
            raise ValueError("from_block must be >= 0 and block_range >= 1")
        self._w3 = w3
        self._head = head
        self._event = event
        self._block_range = block_range
        self.from_block = from_block
        self._scanned_to = from_block - 1

    async def fetch_new(self) -> list[Any]:
        """The event's logs from the block after the last scan up to the head, in chain order.

        If a range fails it raises, and the next call starts again where this one started: no
        log is skipped, whatever the caller did not receive.
        """
        head = int(await (self._w3.eth.block_number if self._head is None else self._head()))
        logs: list[Any] = []
        position = self._scanned_to
        while position < head:
            end = min(head, position + self._block_range)
            logs += await self._event.get_logs(from_block=position + 1, to_block=end)
            position = end
        self._scanned_to = position
        return logs
