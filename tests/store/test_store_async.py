"""AsyncStore and open_store: off-loop calls, reads during writes, health reporting."""

from __future__ import annotations

import asyncio
from pathlib import Path

import lmdb
import pytest
from prometheus_client import CollectorRegistry
from store.store_testdata import assert_stored, make_batch

from operator_node.health import Health, ServiceStatus
from operator_node.metrics import Metrics
from operator_node.store import (
    STORE_SERVICE_ID,
    AsyncStore,
    LmdbStore,
    StoreClosedError,
    StoreFormatError,
    StoreInputError,
    open_store,
)


async def test_open_store_reports_up_and_round_trips(tmp_path: Path) -> None:
    health = Health()
    store = await open_store(
        tmp_path / "chunks", store_duration=60.0, max_size=64 << 20, health=health
    )
    service = health.get_service(STORE_SERVICE_ID)
    assert service is not None and service.critical and service.status is ServiceStatus.UP
    batch = make_batch(1)
    assert await store.put_batch(batch.hash, batch.header, batch.blobs, now=10.0)
    assert await store.has_batch(batch.hash)
    stored = await store.get_batch(batch.hash)
    assert stored is not None and stored.header == batch.header
    assert await store.get_blob_header(batch.hash, 0) == bytes(batch.blobs[0].header)
    chunks = await store.get_chunks(batch.hash, 0)
    assert chunks is not None and chunks.indices == tuple(sorted(batch.blobs[0].chunks))
    assert (await store.delete_expired(70.0, 5)).batches == 1
    assert (await store.stats()).batches == 0
    await store.close()
    with pytest.raises(StoreClosedError):
        await store.has_batch(batch.hash)


async def test_open_store_reports_down_when_refused(tmp_path: Path) -> None:
    path = tmp_path / "chunks"
    LmdbStore(path, store_duration=60.0, max_size=64 << 20).close()
    env = lmdb.Environment(str(path), max_dbs=8)
    with env.begin(write=True) as txn:
        txn.put(b"format_version", (99).to_bytes(4, "big"), db=env.open_db(b"meta", txn=txn))
    env.close()
    health = Health()
    with pytest.raises(StoreFormatError):
        await open_store(path, store_duration=60.0, max_size=64 << 20, health=health)
    service = health.get_service(STORE_SERVICE_ID)
    assert service is not None and service.status is ServiceStatus.DOWN


async def test_async_store_serves_reads_while_writing(tmp_path: Path) -> None:
    store = AsyncStore(LmdbStore(tmp_path / "chunks", store_duration=60.0, max_size=1 << 30))
    resident = make_batch(1000)
    await store.put_batch(resident.hash, resident.header, resident.blobs)
    expected = {i: bytes(c) for i, c in resident.blobs[0].chunks.items()}
    incoming = [make_batch(n, blobs=2, max_chunks=12, chunk_size=64 << 10) for n in range(12)]

    async def write_all() -> None:
        for batch in incoming:
            assert await store.put_batch(batch.hash, batch.header, batch.blobs)

    writer = asyncio.create_task(write_all())
    reads_during_writes = 0
    while not writer.done():
        chunks = await store.get_chunks(resident.hash, 0)
        assert chunks is not None and {i: bytes(c) for i, c in chunks.items()} == expected
        reads_during_writes += not writer.done()
    await writer
    assert reads_during_writes > len(incoming)  # reads did not queue behind the fsyncs
    for batch in incoming:
        assert await store.has_batch(batch.hash)
    await store.close()


async def test_async_store_concurrent_puts_of_one_batch_write_once(tmp_path: Path) -> None:
    store = AsyncStore(LmdbStore(tmp_path / "chunks", store_duration=60.0, max_size=64 << 20))
    batch = make_batch(7)
    others = [make_batch(n) for n in range(20, 26)]
    results = await asyncio.gather(
        *(store.put_batch(batch.hash, batch.header, batch.blobs) for _ in range(8)),
        *(store.put_batch(b.hash, b.header, b.blobs) for b in others),
    )
    assert results[:8].count(True) == 1
    assert all(results[8:])
    assert (await store.stats()).batches == 1 + len(others)
    assert store.shards[0].check() == []
    await store.close()


def _transactions(store: AsyncStore) -> int:
    lmdb_store = store.shards[0]
    assert isinstance(lmdb_store, LmdbStore)
    return int(lmdb_store._env.info()["last_txnid"])  # type: ignore[union-attr]


def _write_figures(metrics: Metrics) -> dict[str, float]:
    """The store-write histograms' counts and sums, by sample name."""
    names = [
        f"operator_node_store_write{part}_{kind}"
        for part in ("_seconds", "_batches", "_wait_seconds")
        for kind in ("count", "sum")
    ]
    values = {name: metrics.registry.get_sample_value(name) for name in names}
    return {name: value for name, value in values.items() if value is not None}


async def test_async_store_commits_waiting_batches_together(tmp_path: Path) -> None:
    metrics = Metrics(CollectorRegistry(), avs_name="test", version="0")
    store = AsyncStore(
        LmdbStore(tmp_path / "chunks", store_duration=60.0, max_size=64 << 20), metrics=metrics
    )
    batches = [make_batch(n) for n in range(9)]
    before = _transactions(store)
    lmdb_store = store.shards[0]
    assert isinstance(lmdb_store, LmdbStore)
    # Hold the writer inside the first put, so the other eight queue up behind it.
    with lmdb_store._write_lock:
        puts = [
            asyncio.create_task(store.put_batch(b.hash, b.header, b.blobs, now=10.0))
            for b in batches
        ]
        await asyncio.sleep(0.2)
    assert await asyncio.gather(*puts) == [True] * 9
    assert _transactions(store) - before == 2  # the first batch alone, then the eight together
    for batch in batches:
        assert_stored(lmdb_store, batch)
    # Metrics tell the same story: two writes of 1 and 8 batches; the first write was held for
    # 0.2 s (the lock) and so were the eight batches queued behind it.
    figures = _write_figures(metrics)
    assert figures["operator_node_store_write_seconds_count"] == 2
    assert figures["operator_node_store_write_seconds_sum"] >= 0.2
    assert figures["operator_node_store_write_batches_count"] == 2
    assert figures["operator_node_store_write_batches_sum"] == 9
    assert (
        metrics.registry.get_sample_value("operator_node_store_write_batches_bucket", {"le": "1.0"})
        == 1
    )
    assert figures["operator_node_store_write_wait_seconds_count"] == 9
    assert figures["operator_node_store_write_wait_seconds_sum"] >= 8 * 0.2
    await store.close()


async def test_async_store_group_with_a_bad_batch_fails_only_that_one(tmp_path: Path) -> None:
    metrics = Metrics(CollectorRegistry(), avs_name="test", version="0")
    store = AsyncStore(
        LmdbStore(tmp_path / "chunks", store_duration=60.0, max_size=64 << 20), metrics=metrics
    )
    good = [make_batch(n) for n in range(4)]
    lmdb_store = store.shards[0]
    assert isinstance(lmdb_store, LmdbStore)
    with lmdb_store._write_lock:
        puts = [
            asyncio.create_task(store.put_batch(b.hash, b.header, b.blobs, now=10.0))
            for b in good[:2]
        ]
        bad = asyncio.create_task(store.put_batch(b"short", b"header", [], now=10.0))
        puts += [
            asyncio.create_task(store.put_batch(b.hash, b.header, b.blobs, now=10.0))
            for b in good[2:]
        ]
        await asyncio.sleep(0.2)
    assert await asyncio.gather(*puts) == [True] * 4
    with pytest.raises(StoreInputError):
        await bad
    for batch in good:
        assert_stored(lmdb_store, batch)
    # Only what was written is counted: four batches, each waited for once; the refused one
    # is in no write.
    figures = _write_figures(metrics)
    assert figures["operator_node_store_write_batches_sum"] == 4
    assert figures["operator_node_store_write_wait_seconds_count"] == 4
    await store.close()


def test_lmdb_store_put_batches_is_one_answer_per_batch_and_all_or_nothing(tmp_path: Path) -> None:
    store = LmdbStore(tmp_path / "chunks", store_duration=60.0, max_size=64 << 20)
    a, b, c = make_batch(1), make_batch(2), make_batch(3)
    writes = [(x.hash, x.header, x.blobs) for x in (a, b, a)]
    assert store.put_batches(writes, now=10.0) == [True, True, False]
    with pytest.raises(StoreInputError):
        store.put_batches([(c.hash, c.header, c.blobs), (b"short", b"", [])], now=10.0)
    assert not store.has_batch(c.hash)
    assert_stored(store, a)
    assert_stored(store, b)
    store.close()
