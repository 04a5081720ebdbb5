"""The audit: every stored chunk hashed again against its blob's commitment, at a bounded rate.

A disk can flip bits, and a segment file can be truncated or overwritten, without any write
failing: LMDB checksums nothing, and neither do EigenDA's stores. So the node re-reads what it
holds, batch by batch, soonest expiry first, and checks each blob exactly as it checked the
request that brought it: the stored multiproof of its chunks against the commitment in the
stored blob header (``protocol.messages.validate_blob_chunks``). Reading is paced to ``rate``
bytes a second so that the audit never competes with ingest for long; a full pass is followed by
``interval`` seconds of rest.

A batch that fails (a chunk off its proof, a chunk value the index does not describe, a record
that does not parse) is quarantined: the store takes it out in one transaction and keeps a copy
of each segment file that held it under ``quarantine/`` for the operator (``quarantine_batch``).
The repair then rebuilds it from peers, expiring when the original would have.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from operator_node.dispersal.records import decode_stored_blob
from operator_node.errors import OperatorNodeError
from operator_node.logging import get_logger
from operator_node.metrics import Metrics
from operator_node.protocol.messages import validate_blob_chunks
from operator_node.store import AsyncStore

OnDamaged = Callable[[bytes, float], None]
"""Told of a quarantined batch: its hash and its expiry (Unix seconds)."""


@dataclass(frozen=True)
class AuditFinding:
    """A stored batch that failed its audit: why, and the segment copies kept."""

    batch_hash: bytes
    problem: str
    quarantined: tuple[str, ...]


async def audit_batch(store: AsyncStore, batch_hash: bytes) -> tuple[int, str]:
    """(chunk bytes checked, the problem found or "") for one stored batch; (0, "") if it is
    gone (expired since it was listed)."""
    batch = await store.get_batch(batch_hash)
    if batch is None:
        return 0, ""
    checked = 0
    for index, record in enumerate(batch.blob_headers):
        try:
            chunk_set = await store.get_chunks(batch_hash, index)
            blob = decode_stored_blob(record, chunk_set)
            await asyncio.to_thread(validate_blob_chunks, blob)
        except OperatorNodeError as exc:  # StoreError, MalformedRequest, BadProof
            return checked, f"blob {index}: {exc}"
        checked += blob.chunk_bytes
    return checked, ""


class Auditor:
    """Re-hashes every stored batch at ``rate`` bytes a second, quarantines the damaged ones
    and tells ``on_damaged`` (the repair) of each."""

    def __init__(
        self,
        store: AsyncStore,
        metrics: Metrics,
        *,
        rate: float,
        interval: float,
        on_damaged: OnDamaged | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._rate = rate
        self._interval = interval
        self._on_damaged = on_damaged
        self._clock = clock
        self._log = get_logger("audit")

    async def run(self) -> None:
        """Audit pass after audit pass, ``interval`` seconds apart."""
        while True:
            started = time.perf_counter()
            findings, checked = await self.run_pass()
            self._log.info(
                "audit_pass_done",
                chunk_bytes=checked,
                damaged=len(findings),
                duration_s=round(time.perf_counter() - started, 1),
            )
            await asyncio.sleep(self._interval)

    async def run_pass(self) -> tuple[list[AuditFinding], int]:
        """One paced pass over every stored batch; the damaged ones found, and bytes checked."""
        findings: list[AuditFinding] = []
        total = 0
        started = self._clock()
        for batch_hash, expiry in await self._store.list_batches():
            try:
                checked, problem = await audit_batch(self._store, batch_hash)
            except OperatorNodeError as exc:  # the batch header itself is unreadable
                checked, problem = 0, str(exc)
            total += checked
            self._metrics.count_audit(checked)
            if problem:
                findings.append(await self._quarantine(batch_hash, expiry, problem))
            due = started + total / self._rate
            if due > self._clock():
                await asyncio.sleep(due - self._clock())
        return findings, total

    async def _quarantine(self, batch_hash: bytes, expiry: float, problem: str) -> AuditFinding:
        copies = await self._store.quarantine_batch(batch_hash)
        self._metrics.count_audit_damaged()
        self._log.warning(
            "audit_found_damage",
            batch="0x" + batch_hash.hex(),
            problem=problem,
            quarantined=[str(copy) for copy in copies],
        )
        if self._on_damaged is not None:
            self._on_damaged(batch_hash, expiry)
        return AuditFinding(batch_hash, problem, tuple(str(copy) for copy in copies))
