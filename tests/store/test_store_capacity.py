"""Capacity: LMDB and the segments together stay within max_size; then put_batch refuses, reads
keep working, and expiry makes room again. The LMDB map grows as needed, safely under reads."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from store.store_testdata import Batch, assert_stored, make_batch

from operator_node.store import LmdbStore, StoredBlob, StoreFullError

MAX_SIZE = 4 << 20
INITIAL_MAP = 1 << 20


def big_batch(number: int) -> Batch:
    return make_batch(number, blobs=2, max_chunks=6, chunk_size=64 << 10)


def fill(store: LmdbStore) -> tuple[list[Batch], Batch]:
    """Write batches until the store refuses one; returns the stored ones and the refused one."""
    stored: list[Batch] = []
    for number in range(100):
        batch = big_batch(number)
        try:
            store.put_batch(batch.hash, batch.header, batch.blobs, now=1000.0)
        except StoreFullError:
            return stored, batch
        stored.append(batch)
    raise AssertionError("a 4 MiB store took 100 batches of hundreds of KiB")


def test_lmdb_store_full_refuses_and_keeps_serving(tmp_path: Path) -> None:
    store = LmdbStore(
        tmp_path / "chunks", store_duration=100.0, max_size=MAX_SIZE, initial_map_size=INITIAL_MAP
    )
    stored, refused = fill(store)
    assert len(stored) >= 2
    stats = store.stats()
    assert stats.used_bytes <= MAX_SIZE
    assert stats.free_bytes < 2 * refused.chunk_bytes
    on_disk = [tmp_path / "chunks" / "data.mdb", *(tmp_path / "chunks" / "segments").iterdir()]
    assert sum(path.stat().st_size for path in on_disk) <= MAX_SIZE
    assert not store.has_batch(refused.hash)
    for batch in stored:
        assert_stored(store, batch)
    assert store.check() == []
    with pytest.raises(StoreFullError, match="full"):
        store.put_batch(refused.hash, refused.header, refused.blobs, now=1000.0)
    store.close()


def test_lmdb_store_accepts_writes_again_after_expiry(tmp_path: Path) -> None:
    store = LmdbStore(
        tmp_path / "chunks", store_duration=100.0, max_size=MAX_SIZE, initial_map_size=INITIAL_MAP
    )
    stored, refused = fill(store)
    deleted = store.delete_expired(1100.0, max_batches=len(stored) + 1)
    assert deleted.batches == len(stored)
    assert deleted.freed_bytes >= sum(batch.chunk_bytes for batch in stored)
    assert store.put_batch(refused.hash, refused.header, refused.blobs, now=2000.0)
    assert_stored(store, refused)
    assert store.check() == []
    store.close()


def header_heavy_batch(number: int) -> Batch:
    """A batch whose bytes are mostly blob headers, which LMDB holds (chunks go to segments)."""
    plain = make_batch(number, blobs=2)
    blobs = [StoredBlob(bytes([number % 256, blob]) * (16 << 10), {}) for blob in range(4)]
    return Batch(plain.hash, plain.header, [*plain.blobs, *blobs])


def test_lmdb_store_map_growth_is_safe_under_concurrent_reads(tmp_path: Path) -> None:
    store = LmdbStore(
        tmp_path / "chunks", store_duration=100.0, max_size=256 << 20, initial_map_size=INITIAL_MAP
    )
    resident = make_batch(500)
    store.put_batch(resident.hash, resident.header, resident.blobs)
    stop = threading.Event()
    reads: list[int] = []

    def read_until_stopped() -> None:
        # Without the gate, a remap under a running copy would fault the whole process.
        count = 0
        while not stop.is_set():
            assert_stored(store, resident)
            count += 1
            time.sleep(0)  # paced like request handlers; see the note on growth in lmdb_store
        reads.append(count)

    readers = [threading.Thread(target=read_until_stopped) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        for number in range(40):
            batch = header_heavy_batch(number)
            store.put_batch(batch.hash, batch.header, batch.blobs)
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert store.stats().map_size >= 8 * INITIAL_MAP  # at least three growths happened
    assert len(reads) == 3 and all(count > 0 for count in reads)
    assert store.check() == []
    store.close()


def test_lmdb_store_file_grows_with_data_not_with_the_map(tmp_path: Path) -> None:
    store = LmdbStore(tmp_path / "chunks", store_duration=100.0, max_size=1 << 40)
    batch = big_batch(1)
    store.put_batch(batch.hash, batch.header, batch.blobs)
    stats = store.stats()
    assert stats.map_size == 1 << 40
    assert stats.file_bytes < 4 * (batch.chunk_bytes + (1 << 20))
    store.close()
