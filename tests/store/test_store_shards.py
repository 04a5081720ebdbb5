"""A store split into shards: routing by batch hash, parallel commits, a fixed shard count."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from store.store_testdata import assert_stored, make_batch

from operator_node.health import Health, ServiceStatus
from operator_node.store import (
    STORE_SERVICE_ID,
    AsyncStore,
    LmdbStore,
    StoreFormatError,
    open_store,
)
from operator_node.store.shards import SHARDS_FILE, shard_index

MAX_SIZE = 64 << 20


async def _open(path: Path, shards: int, health: Health | None = None) -> AsyncStore:
    return await open_store(
        path, store_duration=60.0, max_size=MAX_SIZE, health=health or Health(), shards=shards
    )


def _lmdb_shards(store: AsyncStore) -> list[LmdbStore]:
    shards = [shard for shard in store.shards if isinstance(shard, LmdbStore)]
    assert len(shards) == len(store.shards)
    return shards


async def test_store_shards_route_each_batch_to_one_shard_and_read_it_back(tmp_path: Path) -> None:
    path = tmp_path / "chunks"
    store = await _open(path, 2)
    assert (path / SHARDS_FILE).read_text() == "2\n"
    assert sorted(p.name for p in path.iterdir()) == ["shard-0", "shard-1", SHARDS_FILE]
    batches = [make_batch(n) for n in range(16)]
    assert {shard_index(b.hash, 2) for b in batches} == {0, 1}
    assert (
        await asyncio.gather(
            *(store.put_batch(b.hash, b.header, b.blobs, now=10.0) for b in batches)
        )
        == [True] * 16
    )
    shards = _lmdb_shards(store)
    for batch in batches:
        home = shard_index(batch.hash, 2)
        assert_stored(shards[home], batch)
        assert not shards[1 - home].has_batch(batch.hash)
        assert await store.has_batch(batch.hash)
        chunks = await store.get_chunks(batch.hash, 0)
        assert chunks is not None and chunks.indices == tuple(sorted(batch.blobs[0].chunks))
        stored = await store.get_batch(batch.hash)
        assert stored is not None and stored.header == batch.header
        assert await store.get_blob_header(batch.hash, 1) == bytes(batch.blobs[1].header)
    stats = await store.stats()
    assert stats.batches == 16
    assert stats.max_size == MAX_SIZE
    assert stats.used_bytes == sum(shard.stats().used_bytes for shard in shards)
    assert all(shard.check() == [] for shard in shards)
    assert (await store.delete_expired(70.0, 100)).batches == 16
    assert (await store.stats()).batches == 0
    await store.close()


async def test_store_shards_survive_reopening(tmp_path: Path) -> None:
    store = await _open(tmp_path / "chunks", 3)
    batches = [make_batch(n) for n in range(9)]
    for batch in batches:
        await store.put_batch(batch.hash, batch.header, batch.blobs)
    await store.close()
    store = await _open(tmp_path / "chunks", 3)
    for batch in batches:
        assert_stored(_lmdb_shards(store)[shard_index(batch.hash, 3)], batch)
    await store.close()


async def test_store_shards_commit_without_waiting_for_each_other(tmp_path: Path) -> None:
    store = await _open(tmp_path / "chunks", 2)
    batches = [make_batch(n) for n in range(12)]
    held = next(b for b in batches if shard_index(b.hash, 2) == 0)
    free = next(b for b in batches if shard_index(b.hash, 2) == 1)
    # Hold shard 0's writer inside its write lock: shard 1 must still commit.
    with _lmdb_shards(store)[0]._write_lock:
        waiting = asyncio.create_task(store.put_batch(held.hash, held.header, held.blobs))
        assert await asyncio.wait_for(store.put_batch(free.hash, free.header, free.blobs), 10)
        await asyncio.sleep(0.1)
        assert not waiting.done()
    assert await waiting
    await store.close()


async def test_store_shards_count_is_fixed_once_created(tmp_path: Path) -> None:
    path = tmp_path / "chunks"
    store = await _open(path, 2)
    batch = make_batch(5)
    await store.put_batch(batch.hash, batch.header, batch.blobs)
    await store.close()
    health = Health()
    with pytest.raises(StoreFormatError, match=r"has 2 shards but \[store\] shards is 4.*= 2"):
        await _open(path, 4, health)
    service = health.get_service(STORE_SERVICE_ID)
    assert service is not None and service.status is ServiceStatus.DOWN
    assert sorted(p.name for p in path.iterdir()) == ["shard-0", "shard-1", SHARDS_FILE]
    store = await _open(path, 2)
    assert await store.has_batch(batch.hash)
    await store.close()


async def test_store_shards_unreadable_count_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "chunks"
    path.mkdir()
    (path / SHARDS_FILE).write_text("two\n")
    with pytest.raises(StoreFormatError, match="does not hold a shard count"):
        await _open(path, 2)


async def test_store_shards_single_environment_store_opens_as_one_shard(tmp_path: Path) -> None:
    path = tmp_path / "chunks"
    legacy = LmdbStore(path, store_duration=60.0, max_size=MAX_SIZE)
    batch = make_batch(3)
    legacy.put_batch(batch.hash, batch.header, batch.blobs)
    legacy.close()
    store = await _open(path, 2)
    assert len(store.shards) == 1
    assert_stored(_lmdb_shards(store)[0], batch)
    assert not (path / SHARDS_FILE).exists()
    await store.close()


async def test_store_shards_count_the_shared_disk_once_in_free_space(tmp_path: Path) -> None:
    # Each shard may grow past what the disk holds, so the disk is the limit: its free space
    # must count once, not once per shard.
    disk_free = shutil.disk_usage(tmp_path).free
    store = await open_store(
        tmp_path / "chunks",
        store_duration=60.0,
        max_size=2 * (disk_free + (64 << 30)),
        health=Health(),
        shards=2,
    )
    batch = make_batch(1)
    await store.put_batch(batch.hash, batch.header, batch.blobs)
    stats = await store.stats()
    slack = sum(
        max(0, s.file_bytes - s.used_bytes) for s in map(LmdbStore.stats, _lmdb_shards(store))
    )
    now_free = shutil.disk_usage(tmp_path).free
    assert abs(stats.disk_free_bytes - now_free) < 256 << 20  # others may write meanwhile
    assert stats.free_bytes <= stats.disk_free_bytes + slack
    assert stats.free_bytes >= now_free - (256 << 20)
    await store.close()
