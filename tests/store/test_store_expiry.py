"""Expiry: exactly the batches past their expiry go, oldest first, reported to metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from store.store_testdata import assert_stored, make_batch

from operator_node.metrics import Metrics
from operator_node.store import AsyncStore, ExpiryService, LmdbStore


def open_store(path: Path) -> LmdbStore:
    return LmdbStore(path, store_duration=100.0, max_size=64 << 20)


def test_lmdb_store_expiry_removes_exactly_the_expired(tmp_path: Path) -> None:
    store = open_store(tmp_path / "chunks")
    batches = [make_batch(n) for n in range(4)]
    for offset, batch in zip((0.0, 10.0, 10.0, 20.0), batches, strict=True):
        store.put_batch(batch.hash, batch.header, batch.blobs, now=1000.0 + offset)
    assert store.delete_expired(1099.998, 10).batches == 0
    first = store.delete_expired(1100.0, 10)
    assert first.batches == 1
    assert not store.has_batch(batches[0].hash)
    for batch in batches[1:]:
        assert_stored(store, batch)
    assert store.delete_expired(1109.999, 10).batches == 0
    assert store.delete_expired(1110.0, 10).batches == 2
    assert [h for h, _ in store.list_batches()] == [batches[3].hash]
    assert_stored(store, batches[3])
    assert store.check() == []
    store.close()


def test_lmdb_store_expiry_takes_the_oldest_first_within_the_limit(tmp_path: Path) -> None:
    store = open_store(tmp_path / "chunks")
    batches = [make_batch(n) for n in range(5)]
    for offset, batch in enumerate(batches):
        store.put_batch(batch.hash, batch.header, batch.blobs, now=1000.0 + offset)
    assert store.delete_expired(2000.0, 2).batches == 2
    assert [h for h, _ in store.list_batches()] == [b.hash for b in batches[2:]]
    assert store.delete_expired(2000.0, 10).batches == 3
    stats = store.stats()
    assert (stats.entries, stats.batches) == (0, 0)
    store.close()


def sample(metrics: Metrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    assert value is not None
    return value


def make_service(store: LmdbStore, now: list[float], **kwargs: Any) -> ExpiryService:
    metrics = Metrics(CollectorRegistry(), avs_name="test", version="0")
    return ExpiryService(AsyncStore(store), metrics, lambda: now[0], interval=0.01, **kwargs)


async def test_expiry_service_pass_reports_to_metrics(tmp_path: Path) -> None:
    store = open_store(tmp_path / "chunks")
    batches = [make_batch(n) for n in range(3)]
    for offset, batch in enumerate(batches):
        store.put_batch(batch.hash, batch.header, batch.blobs, now=1000.0 + offset)
    now = [1101.0]
    service = make_service(store, now)
    report = await service.run_pass()
    assert (report.batches, report.backlog) == (2, False)
    metrics = service._metrics
    assert sample(metrics, "operator_node_store_expired_batches_total") == 2
    assert sample(metrics, "operator_node_store_expired_bytes_total") == report.freed_bytes
    assert report.freed_bytes > batches[0].chunk_bytes + batches[1].chunk_bytes
    stats = store.stats()
    # one batch of three blobs left, and the count of its segment
    assert sample(metrics, "operator_node_store_entries") == stats.entries == 2 + 2 * 3 + 1
    assert sample(metrics, "operator_node_store_used_bytes") == stats.used_bytes
    assert sample(metrics, "operator_node_store_free_bytes") > 0
    store.close()


async def test_expiry_service_pass_stops_at_its_time_box(tmp_path: Path) -> None:
    store = open_store(tmp_path / "chunks")
    for number in range(5):
        batch = make_batch(number)
        store.put_batch(batch.hash, batch.header, batch.blobs, now=1000.0)
    service = make_service(
        store, [2000.0], batches_per_txn=2, pass_budget=0.0, monotonic=lambda: 0.0
    )
    first = await service.run_pass()
    assert (first.batches, first.transactions, first.backlog) == (2, 1, True)
    assert store.stats().batches == 3
    service = make_service(store, [2000.0], batches_per_txn=2, pass_budget=60.0)
    rest = await service.run_pass()
    assert (rest.batches, rest.transactions, rest.backlog) == (3, 2, False)
    store.close()


async def test_expiry_service_run_deletes_as_time_passes(tmp_path: Path) -> None:
    store = open_store(tmp_path / "chunks")
    batch = make_batch(1)
    store.put_batch(batch.hash, batch.header, batch.blobs, now=1000.0)
    now = [1050.0]
    task = asyncio.create_task(make_service(store, now).run())
    await asyncio.sleep(0.05)
    assert store.has_batch(batch.hash)
    now[0] = 1100.0
    for _ in range(200):
        if not store.has_batch(batch.hash):
            break
        await asyncio.sleep(0.01)
    assert not store.has_batch(batch.hash)
    task.cancel()
    store.close()
