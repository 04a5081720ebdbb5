"""Segment files: chunk bytes written with O_DIRECT beside LMDB, deleted once nothing needs them."""

from __future__ import annotations

import errno
import mmap
import os
from pathlib import Path

import lmdb
import pytest
from store.store_testdata import Batch, assert_stored, make_batch

from operator_node.store import LmdbStore, StoredBlob, StoreError, StoreFullError, layout
from operator_node.store.segments import ALIGN, SegmentFiles


def region(size: int, fill: int) -> memoryview:
    buffer = mmap.mmap(-1, size)
    buffer.write(bytes([fill]) * size)
    return memoryview(buffer)


def open_flags(path: Path) -> int | None:
    """The open flags of this process's descriptor for ``path``, from /proc (None if not open)."""
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target == str(path):
            fields = Path(f"/proc/self/fdinfo/{fd}").read_text().split()
            return int(fields[fields.index("flags:") + 1], 8)
    return None


def direct_io_supported(directory: Path) -> bool:
    try:
        fd = os.open(directory / "probe", os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600)
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            return False
        raise
    os.close(fd)
    (directory / "probe").unlink()
    return True


def test_segments_append_durably_and_read_back(tmp_path: Path) -> None:
    files = SegmentFiles(tmp_path / "segments", segment_size=1 << 20)
    first = files.append(region(3 * ALIGN, 1))
    second = files.append(region(ALIGN, 2))
    assert first == (1, 0) and second == (1, 3 * ALIGN)
    assert files.read(1, 3 * ALIGN - 2, 4) == b"\x01\x01\x02\x02"
    assert files.total_bytes == files.size(1) == 4 * ALIGN == files.path(1).stat().st_size
    flags = open_flags(files.path(1))
    assert flags is not None
    if direct_io_supported(tmp_path):
        assert flags & os.O_DIRECT, "chunk bytes must bypass the page cache"
    files.close()
    assert open_flags(files.path(1)) is None


def test_segments_refuse_an_unaligned_append_and_write_nothing(tmp_path: Path) -> None:
    files = SegmentFiles(tmp_path / "segments", segment_size=1 << 20)
    with pytest.raises(ValueError, match="multiple"):
        files.append(region(ALIGN + 1, 1))
    assert files.total_bytes == 0 and not list((tmp_path / "segments").iterdir())


def test_segments_roll_over_at_segment_size_and_take_back(tmp_path: Path) -> None:
    files = SegmentFiles(tmp_path / "segments", segment_size=2 * ALIGN)
    assert [files.append(region(ALIGN, n))[0] for n in range(3)] == [1, 1, 2]
    # A region larger than a segment gets a fresh segment to itself.
    assert files.append(region(4 * ALIGN, 9)) == (3, 0)
    files.take_back(3, 0)
    assert files.size(3) == 0 == files.path(3).stat().st_size
    files.take_back(1, 0)  # not the current segment: left alone
    assert files.size(1) == 2 * ALIGN
    files.remove([1, 2, 3])
    assert files.ids() == set() and not list((tmp_path / "segments").iterdir())
    assert files.read(1, 0, 1) is None


def open_store(path: Path, **kwargs: int) -> LmdbStore:
    kwargs.setdefault("max_size", 64 << 20)
    return LmdbStore(path, store_duration=100.0, **kwargs)  # type: ignore[arg-type]


def segment_names(path: Path) -> list[str]:
    return sorted(entry.name for entry in (path / "segments").iterdir())


def segment_bytes(path: Path) -> int:
    return sum(entry.stat().st_size for entry in (path / "segments").iterdir())


def test_store_deletes_a_segment_once_its_last_batch_expires(tmp_path: Path) -> None:
    path = tmp_path / "chunks"
    store = open_store(path, segment_size=64 << 10)
    batches = [make_batch(n, blobs=2, chunk_size=8 << 10) for n in range(12)]
    for number, batch in enumerate(batches):
        store.put_batch(batch.hash, batch.header, batch.blobs, now=1000.0 + number)
    full = store.stats().used_bytes
    assert len(segment_names(path)) >= 3
    for number in range(len(batches)):
        store.delete_expired(1100.0 + number, max_batches=1)
        assert store.check() == []
        for batch in batches[number + 1 :]:
            assert_stored(store, batch)
        assert store.get_chunks(batches[number].hash, 0) is None
    assert segment_names(path) == []
    assert store.stats().used_bytes < full / 4
    store.close()


def test_store_open_deletes_segments_nothing_refers_to(tmp_path: Path) -> None:
    path = tmp_path / "chunks"
    store = open_store(path)
    kept = make_batch(1)
    store.put_batch(kept.hash, kept.header, kept.blobs)
    store.close()
    # What a crash between a segment append and its commit leaves behind.
    (path / "segments" / f"{0xFF:016x}.seg").write_bytes(b"\xee" * ALIGN)
    store = open_store(path)
    assert segment_names(path) == [f"{1:016x}.seg"]
    assert_stored(store, kept)
    later = make_batch(2)
    store.put_batch(later.hash, later.header, later.blobs)  # in a new segment, past the old ids
    assert segment_names(path) == [f"{1:016x}.seg", f"{0x100:016x}.seg"]
    assert store.check() == []
    store.close()


def test_store_failed_commit_takes_its_bytes_back_from_the_segment(tmp_path: Path) -> None:
    path = tmp_path / "chunks"
    store = open_store(path, max_size=4 << 20)
    kept = make_batch(1)
    store.put_batch(kept.hash, kept.header, kept.blobs)
    before = segment_bytes(path)
    # The chunks fit, but the 5 MiB header cannot enter a 4 MiB LMDB map: the commit fails.
    heavy = Batch(bytes(32), b"h", [StoredBlob(bytes(5 << 20), {0: b"chunk"})])
    with pytest.raises(StoreFullError):
        store.put_batch(heavy.hash, heavy.header, heavy.blobs)
    assert not store.has_batch(heavy.hash)
    assert segment_bytes(path) == before
    assert_stored(store, kept)
    assert store.check() == []
    store.close()


def test_store_check_and_reads_report_a_damaged_segment(tmp_path: Path) -> None:
    path = tmp_path / "chunks"
    store = open_store(path, segment_size=ALIGN)
    batches = [make_batch(n, blobs=1, chunk_size=2048) for n in range(2)]
    for batch in batches:
        store.put_batch(batch.hash, batch.header, batch.blobs)
    first, second = segment_names(path)
    os.truncate(path / "segments" / first, 16)
    (path / "segments" / second).unlink()
    store.close()
    store = open_store(path)
    problems = store.check()
    assert any("past the end" in problem for problem in problems)
    assert any("missing" in problem for problem in problems)
    with pytest.raises(StoreError, match="does not hold"):
        store.get_chunks(batches[0].hash, 0)
    store.close()


def write_format_1_store(path: Path, batch: Batch, expiry_ms: int) -> None:
    """A store as format 1 wrote it: chunk values inside LMDB, in ``chunks``."""
    path.mkdir()
    env = lmdb.Environment(str(path), max_dbs=8, map_size=16 << 20)
    with env.begin(write=True) as txn:
        dbs = {
            name: env.open_db(name, txn=txn)
            for name in (b"meta", b"batches", b"blob_headers", b"chunks", b"expiry")
        }
        txn.put(b"format_version", (1).to_bytes(4, "big"), db=dbs[b"meta"])
        for index, blob in enumerate(batch.blobs):
            key = layout.blob_key(batch.hash, index)
            txn.put(key, bytes(blob.header), db=dbs[b"blob_headers"])
            views = {i: memoryview(bytes(c)) for i, c in blob.chunks.items()}
            txn.put(key, layout.encode_chunks(views), db=dbs[b"chunks"])
        record = layout.BatchRecord(expiry_ms, len(batch.blobs), 1000, batch.header)
        txn.put(batch.hash, layout.encode_batch(record), db=dbs[b"batches"])
        txn.put(layout.expiry_key(expiry_ms, batch.hash), b"", db=dbs[b"expiry"])
    env.close()


def test_store_upgrades_a_format_1_store_and_keeps_its_batches(tmp_path: Path) -> None:
    path = tmp_path / "chunks"
    old = make_batch(1)
    write_format_1_store(path, old, expiry_ms=1_100_000)
    store = open_store(path)
    assert_stored(store, old)
    new = make_batch(2)
    store.put_batch(new.hash, new.header, new.blobs, now=2000.0)
    assert_stored(store, new)
    assert store.check() == []
    assert store.delete_expired(1200.0, max_batches=10).batches == 1
    assert not store.has_batch(old.hash) and store.get_chunks(old.hash, 0) is None
    assert_stored(store, new)
    assert store.check() == []
    store.close()
    env = lmdb.Environment(str(path), max_dbs=8)
    with env.begin() as txn:
        version = txn.get(b"format_version", db=env.open_db(b"meta", txn=txn))
    env.close()
    assert version == (2).to_bytes(4, "big")


def test_quarantine_takes_one_batch_out_keeps_its_segment_and_spares_its_neighbours(
    tmp_path: Path,
) -> None:
    path = tmp_path / "chunks"
    store = open_store(path, segment_size=64 << 10)
    batches = [make_batch(n, blobs=2, chunk_size=8 << 10) for n in range(3)]
    for batch in batches:
        store.put_batch(batch.hash, batch.header, batch.blobs, now=1000.0)
    names = segment_names(path)
    copies = store.quarantine_batch(batches[1].hash)
    # A copy of every segment that held it, beside segments/; the segments themselves stay.
    assert copies and all(copy.parent == path / "quarantine" for copy in copies)
    assert {copy.name for copy in copies} <= set(names)
    assert all(copy.read_bytes() == (path / "segments" / copy.name).read_bytes() for copy in copies)
    assert store.get_batch(batches[1].hash) is None
    assert store.get_chunks(batches[1].hash, 0) is None
    left = {batch_hash for batch_hash, _ in store.list_batches()}
    assert left == {batches[0].hash, batches[2].hash}
    for batch in (batches[0], batches[2]):
        assert_stored(store, batch)
    assert store.check() == []
    assert store.quarantine_batch(batches[1].hash) == []  # gone: nothing more to do
    # Stored again (as a repair does), it reads back whole.
    store.put_batch(batches[1].hash, batches[1].header, batches[1].blobs, now=1000.0)
    assert_stored(store, batches[1])
    # Once every batch expires, the segments go; the quarantined copies stay.
    store.delete_expired(10**6, max_batches=10)
    assert segment_names(path) == [] and all(copy.exists() for copy in copies)
    store.close()
