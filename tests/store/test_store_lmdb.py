"""LmdbStore on a real LMDB on disk: round trip, idempotence, unknown keys, bad input, format."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lmdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from store.store_testdata import assert_stored, make_batch

from operator_node.store import (
    FORMAT_VERSION,
    LmdbStore,
    StoreClosedError,
    StoredBlob,
    StoreFormatError,
    StoreInputError,
    StoreLockedError,
    layout,
)


def open_store(path: Path, **kwargs: Any) -> LmdbStore:
    return LmdbStore(path, store_duration=100.0, max_size=64 << 20, **kwargs)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    opened = open_store(tmp_path / "chunks")
    yield opened
    opened.close()


def test_lmdb_store_round_trip_survives_reopen(tmp_path: Path) -> None:
    batches = [make_batch(n) for n in range(5)]
    store = open_store(tmp_path / "chunks")
    for batch in batches:
        assert store.put_batch(batch.hash, batch.header, batch.blobs, now=1000.0) is True
    for batch in batches:
        assert_stored(store, batch)
    store.close()
    reopened = open_store(tmp_path / "chunks")
    for batch in batches:
        assert_stored(reopened, batch)
        assert reopened.get_batch(batch.hash).expiry == 1100.0  # type: ignore[union-attr]
    assert reopened.check() == []
    reopened.close()


def test_lmdb_store_chunks_are_views_of_one_copy(store: LmdbStore) -> None:
    batch = make_batch(1, blobs=1, max_chunks=6)
    store.put_batch(batch.hash, batch.header, batch.blobs)
    chunk_set = store.get_chunks(batch.hash, 0)
    assert chunk_set is not None and len(chunk_set) > 0
    for chunk in chunk_set.chunks:
        assert chunk.obj is chunk_set.buffer
    assert chunk_set.nbytes == batch.chunk_bytes


def test_lmdb_store_empty_chunk_set_differs_from_unknown(store: LmdbStore) -> None:
    batch = make_batch(2, blobs=2)  # the last blob has no chunks
    store.put_batch(batch.hash, batch.header, batch.blobs)
    empty = store.get_chunks(batch.hash, 1)
    assert empty is not None and len(empty) == 0
    assert store.get_chunks(batch.hash, 2) is None


def test_lmdb_store_put_is_idempotent(store: LmdbStore) -> None:
    batch = make_batch(3)
    assert store.put_batch(batch.hash, batch.header, batch.blobs, now=1000.0)
    before = store.stats()
    other = make_batch(4)
    assert store.put_batch(batch.hash, other.header, other.blobs, now=5000.0) is False
    assert store.put_batch(batch.hash, batch.header, batch.blobs, now=1000.0) is False
    assert_stored(store, batch)
    assert store.get_batch(batch.hash).expiry == 1100.0  # type: ignore[union-attr]
    assert store.stats().entries == before.entries


def test_lmdb_store_unknown_keys_return_none(store: LmdbStore) -> None:
    batch = make_batch(5)
    store.put_batch(batch.hash, batch.header, batch.blobs)
    unknown = bytes(32)
    assert store.has_batch(unknown) is False
    assert store.get_batch(unknown) is None
    assert store.get_chunks(unknown, 0) is None
    assert store.get_blob_header(unknown, 0) is None
    assert store.get_blob_header(batch.hash, len(batch.blobs)) is None
    assert store.get_chunks(batch.hash, 2**32 - 1) is None


def test_lmdb_store_stats_count_entries(store: LmdbStore) -> None:
    empty = store.stats()
    assert (empty.entries, empty.batches) == (0, 0)
    batch = make_batch(6, blobs=3, chunk_size=4096)
    store.put_batch(batch.hash, batch.header, batch.blobs)
    stats = store.stats()
    assert stats.batches == 1
    # batch and expiry, a header and a chunk reference per blob, and the segment's count
    assert stats.entries == 2 + 2 * len(batch.blobs) + 1
    assert stats.used_bytes - empty.used_bytes >= batch.chunk_bytes
    assert 0 < stats.free_bytes <= stats.max_size - stats.used_bytes


_GOOD = make_batch(7)
_BAD_PUTS: list[tuple[str, dict[str, Any]]] = [
    ("short hash", {"batch_header_hash": bytes(31)}),
    ("str hash", {"batch_header_hash": "00" * 32}),
    ("str header", {"batch_header": "header"}),
    ("no blobs", {"blobs": []}),
    ("not a blob", {"blobs": [b"blob"]}),
    ("negative chunk index", {"blobs": [StoredBlob(b"h", {-1: b"x"})]}),
    ("huge chunk index", {"blobs": [StoredBlob(b"h", {2**32: b"x"})]}),
    ("bool chunk index", {"blobs": [StoredBlob(b"h", {True: b"x"})]}),
    ("str chunk", {"blobs": [StoredBlob(b"h", {0: "x"})]}),  # type: ignore[dict-item]
    ("str blob header", {"blobs": [StoredBlob("h", {})]}),  # type: ignore[arg-type]
    ("negative now", {"now": -1.0}),
    ("nan now", {"now": math.nan}),
]


@pytest.mark.parametrize(("case", "change"), _BAD_PUTS, ids=[case for case, _ in _BAD_PUTS])
def test_lmdb_store_rejects_bad_batch_and_writes_nothing(
    store: LmdbStore, case: str, change: dict[str, Any]
) -> None:
    arguments: dict[str, Any] = {
        "batch_header_hash": _GOOD.hash,
        "batch_header": _GOOD.header,
        "blobs": _GOOD.blobs,
        "now": 1000.0,
    }
    arguments.update(change)
    with pytest.raises(StoreInputError):
        store.put_batch(**arguments)
    assert store.stats().entries == 0
    assert store.check() == []


@pytest.mark.parametrize(
    ("batch_hash", "blob_index"), [(bytes(33), 0), (b"", 0), (bytes(32), -1), (bytes(32), 2**32)]
)
def test_lmdb_store_rejects_bad_keys(store: LmdbStore, batch_hash: bytes, blob_index: int) -> None:
    with pytest.raises(StoreInputError):
        store.get_chunks(batch_hash, blob_index)
    with pytest.raises(StoreInputError):
        store.get_blob_header(batch_hash, blob_index)


def test_lmdb_store_rejects_bad_parameters(tmp_path: Path) -> None:
    with pytest.raises(StoreInputError):
        LmdbStore(tmp_path / "a", store_duration=0.0, max_size=64 << 20)
    with pytest.raises(StoreInputError):
        LmdbStore(tmp_path / "b", store_duration=10.0, max_size=1000)


def _set_meta(path: Path, value: bytes) -> None:
    env = lmdb.Environment(str(path), max_dbs=8)
    meta = env.open_db(b"meta")
    with env.begin(write=True) as txn:
        txn.put(b"format_version", value, db=meta)
    env.close()


@pytest.mark.parametrize("found", [FORMAT_VERSION + 1, 0, 99])
def test_lmdb_store_refuses_other_format_version(tmp_path: Path, found: int) -> None:
    path = tmp_path / "chunks"
    open_store(path).close()
    _set_meta(path, found.to_bytes(4, "big"))
    with pytest.raises(StoreFormatError) as raised:
        open_store(path)
    message = str(raised.value)
    assert str(path) in message
    assert f"version {found}" in message and f"version {FORMAT_VERSION}" in message
    _set_meta(path, FORMAT_VERSION.to_bytes(4, "big"))
    open_store(path).close()  # refusing left the directory usable and unlocked


def test_lmdb_store_refuses_unreadable_version_and_data_without_version(tmp_path: Path) -> None:
    path = tmp_path / "chunks"
    store = open_store(path)
    batch = make_batch(8)
    store.put_batch(batch.hash, batch.header, batch.blobs)
    store.close()
    _set_meta(path, b"\x01")
    with pytest.raises(StoreFormatError, match="unreadable"):
        open_store(path)
    env = lmdb.Environment(str(path), max_dbs=8)
    with env.begin(write=True) as txn:
        txn.delete(b"format_version", db=env.open_db(b"meta", txn=txn))
    env.close()
    with pytest.raises(StoreFormatError, match="no format version"):
        open_store(path)


def test_lmdb_store_refuses_a_file_that_is_not_lmdb(tmp_path: Path) -> None:
    path = tmp_path / "chunks"
    path.mkdir()
    (path / "data.mdb").write_bytes(b"not a database" * 1000)
    with pytest.raises(StoreFormatError):
        open_store(path)


def test_lmdb_store_refuses_a_second_opener(tmp_path: Path) -> None:
    first = open_store(tmp_path / "chunks")
    with pytest.raises(StoreLockedError):
        open_store(tmp_path / "chunks")
    first.close()
    open_store(tmp_path / "chunks").close()


def test_lmdb_store_closed_store_raises(tmp_path: Path) -> None:
    store = open_store(tmp_path / "chunks")
    store.close()
    store.close()
    batch = make_batch(9)
    with pytest.raises(StoreClosedError):
        store.get_chunks(batch.hash, 0)
    with pytest.raises(StoreClosedError):
        store.put_batch(batch.hash, batch.header, batch.blobs)
    with pytest.raises(StoreClosedError):
        store.delete_expired(1e9, 1)


def test_lmdb_store_uses_its_clock_when_not_told(tmp_path: Path) -> None:
    store = open_store(tmp_path / "chunks", clock=lambda: 5000.0)
    batch = make_batch(10)
    store.put_batch(batch.hash, batch.header, batch.blobs)
    assert store.get_batch(batch.hash).expiry == 5100.0  # type: ignore[union-attr]
    store.close()


def test_lmdb_store_check_reports_partial_and_orphan_entries(tmp_path: Path) -> None:
    path = tmp_path / "chunks"
    store = open_store(path)
    kept, damaged = make_batch(11), make_batch(12)
    for batch in (kept, damaged):
        store.put_batch(batch.hash, batch.header, batch.blobs)
    store.close()
    env = lmdb.Environment(str(path), max_dbs=8)
    with env.begin(write=True) as txn:
        txn.delete(layout.blob_key(damaged.hash, 0), db=env.open_db(b"chunk_refs", txn=txn))
        orphan = layout.blob_key(bytes(32), 0)
        txn.put(orphan, b"header", db=env.open_db(b"blob_headers", txn=txn))
    env.close()
    problems = open_store(path).check()
    assert len(problems) == 3
    assert any(damaged.hash.hex() in problem and "chunks" in problem for problem in problems)
    assert any("orphan" in problem for problem in problems)
    assert any("segment" in problem and "counted" in problem for problem in problems)


_chunk_maps = st.dictionaries(st.integers(0, 2**32 - 1), st.binary(max_size=64), max_size=12)


@settings(max_examples=60, deadline=None)
@given(_chunk_maps)
def test_layout_chunks_value_round_trips(chunks: dict[int, bytes]) -> None:
    value = layout.encode_chunks({i: memoryview(c) for i, c in chunks.items()})
    assert layout.chunks_value_is_consistent(value)
    decoded = layout.decode_chunks(value)
    assert decoded.indices == tuple(sorted(chunks))
    assert {i: bytes(c) for i, c in decoded.items()} == chunks
    assert not layout.chunks_value_is_consistent(value + b"x")
    assert not layout.chunks_value_is_consistent(value[:-1])


def test_lmdb_store_opens_lmdb_with_durable_flags(store: LmdbStore) -> None:
    # A guard against "tuning" durability away: every commit must sync data, then meta.
    flags = store._env.flags()  # type: ignore[union-attr]
    assert flags["sync"] and flags["metasync"]
    assert not flags["writemap"] and not flags["map_async"]
