"""Whether this node's request limit holds the largest share the AVS's limits can send it.

The configuration alone guarantees a whole max-size blob fits (``config``: with k = 1 one chunk
is the blob). What a node's stake adds is known only from the chain: an operator with 40% of a
quorum at a 20% margin holds about twice the blob. This check reads the operator state now and
then, computes the largest one-blob request (:func:`operator_node.protocol.limits.largest_share`)
and, if ``limits.max_request_bytes`` is smaller, reports the dispersal service Down with the
figures and the fix, so that the operator learns it from the health endpoint and the log, not
from a disperser's 413 on the one large blob. It does not refuse anything: smaller blobs still
fit.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence

from operator_node.dispersal.chain_view import ChainView
from operator_node.dispersal.errors import ChainUnavailable
from operator_node.dispersal.readiness import DispersalReadiness, Reason
from operator_node.logging import get_logger
from operator_node.protocol.limits import QuorumShare, Share, largest_share

SOURCE = "capacity"
CODE = "request_limit_too_small"


class RequestCapacityCheck:
    """A background service: re-checks the request limit against the stake every ``interval``."""

    def __init__(
        self,
        chain: ChainView,
        readiness: DispersalReadiness,
        *,
        operator_id: bytes,
        quorums: Sequence[int],
        max_request_bytes: int,
        max_blob_size: int,
        min_margin: int,
        max_overhead: float = math.inf,
        interval: float = 300.0,
        retry: float = 30.0,
    ) -> None:
        self._chain = chain
        self._readiness = readiness
        self._operator_id = operator_id
        self._quorums = tuple(sorted(set(quorums)))
        self._max_request_bytes = max_request_bytes
        self._max_blob_size = max_blob_size
        self._min_margin = min_margin
        self._max_overhead = max_overhead
        self._interval = interval
        self._retry = retry
        self._last: Reason | None = None
        self._log = get_logger("dispersal")

    async def run(self) -> None:
        """Check now, then every ``interval`` seconds (``retry`` while the chain is unreadable)."""
        while True:
            try:
                await self.check_once()
                delay = self._interval
            except ChainUnavailable as exc:
                self._log.debug("capacity_check_deferred", error=str(exc))
                delay = self._retry
            await asyncio.sleep(delay)

    async def check_once(self) -> Share | None:
        """One check; returns the largest share (None when the operator has no stake)."""
        block = await self._chain.get_block_number()
        state = await self._chain.get_operator_state(self._quorums, block)
        shares = [
            QuorumShare(quorum, dict(operators).get(self._operator_id, 0), total)
            for quorum, operators in sorted(state.items())
            if (total := sum(stake for _, stake in operators)) > 0
        ]
        shares = [share for share in shares if share.stake > 0]
        if not shares:
            self._set(None)
            return None
        share = await asyncio.to_thread(
            largest_share,
            shares,
            max_blob_size=self._max_blob_size,
            min_margin=self._min_margin,
            max_overhead=self._max_overhead,
        )
        self._set(
            None if share.request_bytes <= self._max_request_bytes else self._reason(shares, share)
        )
        return share

    def _reason(self, shares: Sequence[QuorumShare], share: Share) -> Reason:
        stakes = ", ".join(f"{100 * s.stake / s.total:.1f}% of quorum {s.quorum}" for s in shares)
        return Reason(
            CODE,
            f"this operator holds {stakes}: a blob of {self._max_blob_size} bytes "
            f"(dispersal.max_blob_size) at a {self._min_margin}% margin (dispersal.min_margin) can "
            f"make its share {share.request_bytes} bytes (k={share.k}: {share.chunks} chunks of "
            f"{share.chunk_length} bytes), more than limits.max_request_bytes "
            f"({self._max_request_bytes}); raise limits.max_request_bytes to at least "
            f"{share.request_bytes} (and store.max_size with it), or the AVS lowers its limits",
        )

    def _set(self, reason: Reason | None) -> None:
        if reason is not None and reason != self._last:
            self._log.error("request_limit_too_small", reason=reason.message)
        self._last = reason
        self._readiness.set(SOURCE, reason)
