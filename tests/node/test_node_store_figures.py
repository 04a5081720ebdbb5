"""The store's size figures (used bytes, entries, free bytes) as the node exports them: right at
open for what a restarted node already holds, and moved by every write and every expiry, not
only by the expiry loop's passes. Real LMDB shards on disk.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from prometheus_client import CollectorRegistry
from store.store_testdata import make_batch

from operator_node.health import Health
from operator_node.metrics import Metrics
from operator_node.store import AsyncStore, open_store

FIGURES = ("operator_node_store_used_bytes", "operator_node_store_entries")


async def _open(path: Path) -> tuple[AsyncStore, Metrics]:
    metrics = Metrics(CollectorRegistry(), avs_name="test", version="0")
    store = await open_store(
        path, store_duration=100.0, max_size=64 << 20, health=Health(), shards=2, metrics=metrics
    )
    return store, metrics


def _figures(metrics: Metrics) -> tuple[float, float, float]:
    values = [
        metrics.registry.get_sample_value(name)
        for name in (*FIGURES, "operator_node_store_free_bytes")
    ]
    assert None not in values
    used, entries, free = values
    return used or 0.0, entries or 0.0, free or 0.0


async def test_store_figures_move_on_every_write_and_expiry(tmp_path: Path) -> None:
    store, metrics = await _open(tmp_path / "chunks")
    try:
        empty = _figures(metrics)
        assert empty[1] == 0
        batches = [make_batch(n) for n in range(3)]
        seen = [empty]
        for offset, batch in enumerate(batches):
            await store.put_batch(batch.hash, batch.header, batch.blobs, now=1000.0 + offset)
            seen.append(_figures(metrics))  # no expiry pass has run: the write reported them
        for earlier, later in itertools.pairwise(seen):
            assert later[0] > earlier[0] and later[1] > earlier[1] and later[2] < earlier[2]
        stats = await store.stats()
        assert seen[-1] == (stats.used_bytes, stats.entries, stats.free_bytes)

        assert (await store.delete_expired(1100.5, 10)).batches == 1  # the oldest only
        after = _figures(metrics)
        assert after[1] < seen[-1][1]
        stats = await store.stats()
        assert after == (stats.used_bytes, stats.entries, stats.free_bytes)
    finally:
        await store.close()


async def test_store_figures_are_exported_at_open_for_what_is_already_stored(
    tmp_path: Path,
) -> None:
    store, _ = await _open(tmp_path / "chunks")
    batch = make_batch(1)
    await store.put_batch(batch.hash, batch.header, batch.blobs)
    stats = await store.stats()
    await store.close()

    reopened, metrics = await _open(tmp_path / "chunks")  # a restarted node, before any write
    try:
        used, entries, _ = _figures(metrics)
        assert (used, entries) == (stats.used_bytes, stats.entries) and entries > 0
    finally:
        await reopened.close()
