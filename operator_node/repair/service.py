"""Self-healing storage: the node finds the confirmed batches it should hold and does not, and
rebuilds them from its peers.

What it should hold comes from the chain: every ``BatchConfirmed`` of the service manager (its
``confirmBatch`` checked the operators' aggregate signature), from ``lookback_blocks`` before the
head at start (default: the store duration at 12 s a block), then the new blocks every
``interval``. A batch is repaired when:
- the store does not have it;
- it has not expired: confirmed less than ``[store] store_duration`` ago, by its block's
  timestamp;
- this operator has chunks in it, by the operator state at its reference block.

Repairs run one batch at a time (``repair.rebuild``), and their fetches are paced to ``rate``
bytes a second. A repaired batch is stored as StoreChunks would have stored it, expiring when
the original would have (its confirmation time plus the store duration), and is then served like
any other. A repair signs nothing.

While repairs are pending, the ``repair`` service of ``/eigen/node/services`` is Initializing,
and the node partially healthy (206). After a pass with failures it is Down until a pass
succeeds; failed batches are tried again at the next pass. A deployment whose service manager
confirms no batches (no ``batchId()``) has no record of what to hold: the service says so once
and leaves ``/eigen/node/services`` (nothing is wrong with the node).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from web3.exceptions import Web3Exception

from operator_node.chain.calls import probe_view
from operator_node.chain.client import ChainConnection
from operator_node.chain.errors import ChainError
from operator_node.chain.events import EventCursor
from operator_node.chain.view import ConnectionChainView
from operator_node.client.retriever import Retriever
from operator_node.dispersal.records import encode_batch_record, encode_blob_record
from operator_node.health import Health, ServiceStatus
from operator_node.logging import get_logger
from operator_node.metrics import Metrics
from operator_node.repair.rebuild import RebuiltBatch, RepairError, rebuild_batch
from operator_node.store import AsyncStore, StoredBlob, StoreError

REPAIR_SERVICE_ID = "repair"


Progress = Callable[[bytes, str, int], None]
"""Told of each batch a pass settles: (batch hash, outcome, batches still pending)."""


@dataclass(frozen=True)
class RepairSettings:
    """``[repair]`` as the service needs it, with the store's duration."""

    interval: float = 60.0
    lookback_blocks: int = 100_800
    rate: float = 16 << 20
    fanout: int = 2
    timeout: float = 10.0
    store_duration: float = 1_213_200.0
    block_range: int = 10_000


@dataclass(frozen=True)
class _Candidate:
    batch_hash: bytes
    block: int  # its BatchConfirmed's block; -1 when the time is known instead
    confirmed_at: float = 0.0


class RepairService:
    """Finds and rebuilds the confirmed batches this node lacks (see the module doc)."""

    def __init__(
        self,
        connection: ChainConnection,
        store: AsyncStore,
        *,
        operator_id: bytes,
        own_socket: str,
        metrics: Metrics,
        health: Health,
        settings: RepairSettings,
        clock: Callable[[], float] = time.time,
        progress: Progress | None = None,
    ) -> None:
        """``progress`` hears of each batch a pass settles (``store repair`` prints it)."""
        self._connection = connection
        self._store = store
        self._operator_id = operator_id
        self._own_socket = own_socket
        self._metrics = metrics
        self._health = health
        self._settings = settings
        self._clock = clock
        self._progress = progress
        self._view = ConnectionChainView(connection)
        self._retriever = Retriever(connection, timeout=settings.timeout, fanout=settings.fanout)
        self._cursor: EventCursor | None = None
        self._tracking: bool | None = None
        self._pending: dict[bytes, _Candidate] = {}
        self._settled: set[bytes] = set()  # judged for good: nothing to hold, or expired
        self._log = get_logger("repair")
        self._pace_started = 0.0
        self._pace_bytes = 0
        health.register(
            REPAIR_SERVICE_ID,
            "repair",
            "Finds the confirmed batches this node should hold and rebuilds missing ones from "
            "its peers",
            critical=False,
            status=ServiceStatus.INITIALIZING,
        )

    async def run(self) -> None:
        """A pass at start (the catch-up after downtime), then one every ``interval``."""
        while True:
            try:
                await self.run_pass()
            except (ChainError, Web3Exception, OSError, TimeoutError) as exc:
                self._log.warning("repair_pass_failed", error=str(exc))
                self._set_status(ServiceStatus.DOWN)
            if self._tracking is False:
                return
            await asyncio.sleep(self._settings.interval)

    async def run_pass(self) -> tuple[int, int]:
        """Find new confirmed batches, then repair every pending one; (repaired, failed)."""
        if not await self._find_candidates():
            return 0, 0
        self._metrics.set_repair_pending(len(self._pending))
        if self._pending:
            self._set_status(ServiceStatus.INITIALIZING)
        repaired = failed = 0
        sockets: list[str] | None = None
        for candidate in list(self._pending.values()):
            if sockets is None:
                sockets = await self._peer_sockets()
            outcome = await self._repair(candidate, sockets)
            if self._progress is not None:
                self._progress(candidate.batch_hash, outcome, len(self._pending))
            repaired += outcome == "repaired"
            failed += outcome == "failed"
            self._metrics.set_repair_pending(len(self._pending))
        self._set_status(ServiceStatus.DOWN if failed else ServiceStatus.UP)
        return repaired, failed

    async def _find_candidates(self) -> bool:
        """Add the confirmed batches since the last scan that the store lacks to the pending
        ones; False when the service manager confirms no batches."""
        reader = await self._connection.get_reader()
        service_manager = reader.contracts.service_manager
        if self._tracking is None:
            self._tracking, _ = await probe_view(service_manager.functions.batchId())
            if not self._tracking:
                self._log.warning(
                    "repair_unavailable",
                    reason=(
                        f"the service manager at {service_manager.address} confirms no batches "
                        "(no batchId()): the chain does not say what this node should hold, so "
                        "missing batches cannot be found; the audit still runs"
                    ),
                )
                # Not Down: nothing is wrong with the node, the deployment has no such record.
                self._health.unregister(REPAIR_SERVICE_ID)
                return False
        if self._cursor is None:
            head = await reader.get_current_block()
            # The scans stop at a head another loop read in the last 1.5 passes' time: with the
            # chain watcher's default 30 s polls they cost no eth_blockNumber of their own.
            recent = 1.5 * self._settings.interval
            self._cursor = EventCursor(
                reader.w3,
                service_manager.events.BatchConfirmed(),
                from_block=max(0, head - self._settings.lookback_blocks),
                block_range=self._settings.block_range,
                head=lambda: reader.get_recent_head(recent),
            )
        for log in await self._cursor.fetch_new():
            batch_hash = bytes(log["args"]["batchHeaderHash"])
            if batch_hash in self._settled or batch_hash in self._pending:
                continue
            if await self._store.has_batch(batch_hash):
                self._settled.add(batch_hash)
                continue
            self._pending[batch_hash] = _Candidate(batch_hash, int(log["blockNumber"]))
        return True

    def enqueue(self, batch_hash: bytes, expiry: float) -> None:
        """Repair a batch the store held and has lost (the audit quarantined it), at the next
        pass; ``expiry`` is when the store would have dropped it."""
        self._settled.discard(batch_hash)
        confirmed_at = expiry - self._settings.store_duration
        self._pending[batch_hash] = _Candidate(batch_hash, -1, confirmed_at)
        self._metrics.set_repair_pending(len(self._pending))
        self._set_status(ServiceStatus.INITIALIZING)

    async def _peer_sockets(self) -> list[str]:
        """Every other registered operator's socket, largest stake first, the first few
        rotated at random so that repairs spread over the peers."""
        sockets = [s for s in await self._retriever.fetch_sockets() if s != self._own_socket]
        head = sockets[: self._settings.fanout * 2]
        random.shuffle(head)
        return head + sockets[len(head) :]

    async def _repair(self, candidate: _Candidate, sockets: Sequence[str]) -> str:
        batch_hash = candidate.batch_hash
        log = self._log.bind(batch="0x" + batch_hash.hex())
        if await self._store.has_batch(batch_hash):  # stored since it was found missing
            del self._pending[batch_hash]
            self._settled.add(batch_hash)
            return "present"
        confirmed_at = candidate.confirmed_at
        if candidate.block >= 0:
            confirmed_at = await self._block_time(candidate.block)
        if confirmed_at + self._settings.store_duration <= self._clock():
            return self._settle(candidate, "expired")
        started = time.perf_counter()
        try:
            rebuilt = await rebuild_batch(
                self._retriever, batch_hash, self._operator_id, sockets,
                self._view.get_operator_state,
            )  # fmt: skip
            await self._pace(rebuilt.fetched_bytes)
            if not rebuilt.chunks:
                return self._settle(candidate, "not_assigned")
            await self._put(batch_hash, rebuilt, confirmed_at)
        except RepairError as exc:
            log.warning("repair_failed", cause=exc.cause, error=str(exc))
            self._metrics.count_repair("failed", cause=exc.cause)
            return "failed"
        except StoreError as exc:
            log.warning("repair_failed", cause="store", error=str(exc))
            self._metrics.count_repair("failed", cause="store")
            return "failed"
        del self._pending[batch_hash]
        self._settled.add(batch_hash)
        self._metrics.count_repair(
            "repaired", chunks=rebuilt.chunks, chunk_bytes=rebuilt.chunk_bytes,
            fetched_bytes=rebuilt.fetched_bytes,
        )  # fmt: skip
        log.info(
            "batch_repaired",
            blobs=len(rebuilt.blobs),
            chunks=rebuilt.chunks,
            chunk_bytes=rebuilt.chunk_bytes,
            fetched_bytes=rebuilt.fetched_bytes,
            duration_ms=round(1000 * (time.perf_counter() - started), 1),
            signed=False,
        )
        return "repaired"

    def _settle(self, candidate: _Candidate, outcome: str) -> str:
        del self._pending[candidate.batch_hash]
        self._settled.add(candidate.batch_hash)
        self._metrics.count_repair(outcome)
        return outcome

    async def _put(self, batch_hash: bytes, rebuilt: RebuiltBatch, confirmed_at: float) -> None:
        blobs = [
            StoredBlob(encode_blob_record(blob), dict(zip(blob.indices, blob.chunks, strict=True)))
            for blob in rebuilt.blobs
        ]
        # Stored "at" its confirmation: it expires when the original would have.
        await self._store.put_batch(
            batch_hash, encode_batch_record(rebuilt.header), blobs, now=confirmed_at
        )

    async def _block_time(self, block: int) -> float:
        reader = await self._connection.get_reader()
        found = await reader.w3.eth.get_block(block)
        return float(found["timestamp"])

    async def _pace(self, fetched: int) -> None:
        """Hold the fetches to ``rate`` bytes a second on average since the pass began."""
        now = time.monotonic()
        if now - self._pace_started > 2 * self._settings.interval:
            self._pace_started, self._pace_bytes = now, 0
        self._pace_bytes += fetched
        due = self._pace_started + self._pace_bytes / self._settings.rate
        if due > now:
            await asyncio.sleep(due - now)

    def _set_status(self, status: ServiceStatus) -> None:
        self._health.set_status(REPAIR_SERVICE_ID, status)
