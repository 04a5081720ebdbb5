"""A StoreChunks pipeline over a real LMDB store, for tests that drive it in-process."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry

from operator_node.crypto.signer import Signer
from operator_node.dispersal import ChainView, DisperserAllowlist, StoreChunksPipeline
from operator_node.dispersal.readiness import DispersalReadiness
from operator_node.health import Health
from operator_node.metrics import Metrics
from operator_node.protocol.auth import ReplayGuard
from operator_node.protocol.limits import DEFAULT_MAX_BLOB_SIZE, DEFAULT_MIN_MARGIN
from operator_node.protocol.wire import WireLimits
from operator_node.store import AsyncStore, open_store


async def open_pipeline(
    data_dir: Path,
    signer: Signer,
    chain: ChainView | None,
    allowed: Iterable[str],
    *,
    chain_allowlist: bool = True,
    max_size: int = 64 << 20,
    shards: int = 2,
    hash_threads: int = 2,
    loop_hash_bytes: int | None = None,
    readiness: DispersalReadiness | None = None,
    max_blob_size: int = DEFAULT_MAX_BLOB_SIZE,
    min_margin: int = DEFAULT_MIN_MARGIN,
    fingerprint: str = "required",
) -> tuple[StoreChunksPipeline, AsyncStore]:
    """Open a store under ``data_dir / "chunks"`` (as the node does) and a pipeline over it."""
    store = await open_store(
        data_dir / "chunks", store_duration=3600, max_size=max_size, health=Health(), shards=shards
    )
    pipeline = StoreChunksPipeline(
        signer=signer,
        store=store,
        chain=chain,
        allowlist=DisperserAllowlist(allowed, chain if chain_allowlist else None),
        replay_guard=ReplayGuard(300, time.time),
        metrics=Metrics(CollectorRegistry(), avs_name="test", version="0"),
        wire_limits=WireLimits(),
        clock=time.time,
        hash_threads=hash_threads,
        loop_hash_bytes=loop_hash_bytes,
        readiness=readiness,
        max_blob_size=max_blob_size,
        min_margin=min_margin,
        fingerprint=fingerprint,
    )
    return pipeline, store
