"""The background loop that deletes expired batches, a few per transaction, time-boxed per pass.

Small transactions keep each pause of the writer thread short, so a StoreChunks request never
waits long behind expiry; the per-pass time box stops a large backlog (after a long downtime)
from hogging the writer: the rest is picked up by the next pass.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from operator_node.logging import get_logger
from operator_node.metrics import Metrics
from operator_node.store.async_store import AsyncStore
from operator_node.store.errors import StoreError

DEFAULT_BATCHES_PER_TXN = 8
DEFAULT_PASS_BUDGET = 1.0

_log = get_logger("store")


@dataclass(frozen=True)
class ExpiryPass:
    """What one pass deleted, and whether it stopped on its time box with work left."""

    batches: int
    freed_bytes: int
    transactions: int
    backlog: bool


class ExpiryService:
    """Deletes expired batches every ``interval`` seconds and reports to metrics."""

    def __init__(
        self,
        store: AsyncStore,
        metrics: Metrics,
        clock: Callable[[], float],
        *,
        interval: float,
        batches_per_txn: int = DEFAULT_BATCHES_PER_TXN,
        pass_budget: float = DEFAULT_PASS_BUDGET,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock`` is wall time (compared with expiries); ``monotonic`` times the pass budget."""
        if interval <= 0 or batches_per_txn < 1 or pass_budget < 0:
            raise ValueError("interval > 0, batches_per_txn >= 1 and pass_budget >= 0 required")
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._interval = interval
        self._batches_per_txn = batches_per_txn
        self._pass_budget = pass_budget
        self._monotonic = monotonic

    async def run(self) -> None:
        """Run passes forever, ``interval`` apart, until cancelled.

        A pass that fails with a StoreError is logged and retried at the next interval: expiry
        falling behind must not take down a node that can still serve reads.
        """
        while True:
            try:
                await self.run_pass()
            except StoreError as exc:
                _log.error("store_expiry_failed", error=str(exc))
            await asyncio.sleep(self._interval)

    async def run_pass(self) -> ExpiryPass:
        """Delete what is expired now (within the time box), then report deletions and usage."""
        now = self._clock()
        deadline = self._monotonic() + self._pass_budget
        batches = freed = transactions = 0
        backlog = False
        while True:
            deleted = await self._store.delete_expired(now, self._batches_per_txn)
            transactions += 1
            batches += deleted.batches
            freed += deleted.freed_bytes
            if deleted.batches < self._batches_per_txn:
                break
            if self._monotonic() >= deadline:
                backlog = True
                break
        self._metrics.record_expired(batches, freed)
        stats = await self._store.stats()
        self._metrics.set_store_usage(stats.used_bytes, stats.entries, stats.free_bytes)
        if batches or backlog:
            _log.info("store_expired", batches=batches, freed_bytes=freed, backlog=backlog)
        return ExpiryPass(batches, freed, transactions, backlog)
