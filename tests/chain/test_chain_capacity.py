"""The request-limit check against the stake read from a real chain (anvil, our contracts)."""

from __future__ import annotations

import structlog.testing
from chain.chain_support import BLS_KEYS, QUORUMS, WEIGHTS, Devnet

from operator_node.chain.view import ConnectionChainView
from operator_node.dispersal.capacity import CODE, SOURCE, RequestCapacityCheck
from operator_node.dispersal.readiness import DispersalReadiness
from operator_node.health import Health, ServiceStatus
from operator_node.protocol.limits import QuorumShare, largest_share

BLOB = 1 << 20
MARGIN = 20


def _expected(stake: int, total: int) -> int:
    shares = [QuorumShare(q, stake, total) for q in QUORUMS]
    return largest_share(shares, max_blob_size=BLOB, min_margin=MARGIN).request_bytes


async def test_capacity_follows_the_operators_stake_on_chain(devnet: Devnet) -> None:
    health = Health()
    health.register("dispersal", "dispersal", "test", critical=False)
    readiness = DispersalReadiness(health, "dispersal")
    connection = devnet.connection()
    alone = _expected(WEIGHTS[0], WEIGHTS[0])  # all of both quorums' stake
    shared = _expected(WEIGHTS[0], WEIGHTS[0] + WEIGHTS[3])

    def check(limit: int) -> RequestCapacityCheck:
        return RequestCapacityCheck(
            ConnectionChainView(connection),
            readiness,
            operator_id=BLS_KEYS[0].operator_id,
            quorums=QUORUMS,
            max_request_bytes=limit,
            max_blob_size=BLOB,
            min_margin=MARGIN,
        )

    limit = (alone + shared) // 2
    try:
        # Not registered: no stake, nothing it can be sent.
        assert await check(limit).check_once() is None
        assert readiness.reasons() == {}

        await devnet.register(0)
        with structlog.testing.capture_logs() as logs:
            share = await check(limit).check_once()
        assert share is not None and share.request_bytes == alone > limit
        reason = readiness.reasons()[SOURCE]
        assert reason.code == CODE and not reason.refuses  # smaller blobs still fit
        assert f"100.0% of quorum 0, 100.0% of quorum 1: a blob of {BLOB} bytes" in reason.message
        assert f"raise limits.max_request_bytes to at least {alone}" in reason.message
        assert health.get_service("dispersal").status is ServiceStatus.DOWN  # type: ignore[union-attr]
        assert [e["event"] for e in logs if e["log_level"] == "error"] == [CODE]

        # Another operator's stake makes this one's share smaller: the next check clears it.
        await devnet.register(3)
        share = await check(limit).check_once()
        assert share is not None and share.request_bytes == shared <= limit
        assert readiness.reasons() == {}
        assert health.get_service("dispersal").status is ServiceStatus.UP  # type: ignore[union-attr]
    finally:
        await connection.close()
