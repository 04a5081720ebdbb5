"""The chunk store: an LMDB index over append-only segment files, one durable commit per batch.

The data directory holds LMDB's ``data.mdb`` and ``lock.mdb``, the ``segments/`` directory of
chunk bytes (see :mod:`operator_node.store.segments`) and our ``node.lock``, which one process
holds (``flock``) for as long as the store is open. Named databases, with the key layout
documented in :mod:`operator_node.store.layout`:

- ``meta``         ``b"format_version"`` -> u32, refused on open unless it is ours (format 1 is
                   upgraded in place);
- ``batches``      batch hash -> expiry, blob count, stored bytes, batch header;
- ``blob_headers`` batch hash | blob index -> blob header (for retrieval proofs);
- ``chunk_refs``   batch hash | blob index -> where in a segment this node's chunks of the blob
                   lie (``chunks`` holds them inline for batches a format 1 store wrote);
- ``segments``     segment id -> how many chunk references point into it;
- ``expiry``       expiry ms | batch hash -> (empty): deletion walks this in time order.

Durability: a write appends every chunk value of its batches to a segment and fdatasyncs it,
then commits the index entries in one LMDB transaction. The environment keeps LMDB's defaults
(``sync``, ``metasync``, no ``writemap``, no ``map_async``), so a commit returns only after the
data pages and then the meta page reach the disk. A batch exists once its transaction commits,
so after any crash it is either whole or absent; segment bytes no commit refers to are cut
back at once after a failed commit, or deleted with their segment.

Capacity: ``max_size`` bounds LMDB's file and the segment files together; a batch that would
pass it is refused with :class:`StoreFullError`, as on ENOSPC. The LMDB map is opened at
``max_size``. Without ``writemap`` LMDB does not preallocate its file: the file grows page by
page as data is written, so a large map costs address space only. The map is grown (doubled on
``MapFullError``: the failed transaction is aborted and retried) only when it is smaller than
needed: when a test opens it small, and for deletions, which may take the map
``DELETE_HEADROOM`` bytes past ``max_size`` because copy-on-write needs a few fresh pages before
it can free any (without that a full store could never expire anything). Growing by default
was measured and rejected: a remap must exclude readers, and under a steady read load
py-lmdb's internal locking stalled the writer for seconds at each growth. Expiry frees segment
space a whole segment at a time, when the last batch in it goes.

Threads: every method may be called from any thread. Writes (put, delete, growth) are serialised
by one lock; reads run concurrently in their own read transactions and never wait for a write,
only for the rare remap when the map grows.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import fcntl
import mmap
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import lmdb

from operator_node.durable import fsync_directory
from operator_node.logging import get_logger
from operator_node.store import layout, segments
from operator_node.store.errors import (
    StoreClosedError,
    StoreError,
    StoreFormatError,
    StoreFullError,
    StoreInputError,
    StoreLockedError,
)
from operator_node.store.gate import SharedExclusiveGate
from operator_node.store.model import (
    BatchWrite,
    BytesLike,
    ChunkSet,
    ExpiredBatches,
    StoredBatch,
    StoredBlob,
    StoreStats,
)

FORMAT_VERSION = 2
# Format 1 kept chunk values in LMDB; such a store is upgraded in place (its values still read).
_UPGRADABLE_VERSIONS = (1,)
FORMAT_KEY = b"format_version"
DELETE_HEADROOM = 8 << 20
MIN_MAX_SIZE = 1 << 20
_DATA_DBS = (b"batches", b"blob_headers", b"chunks", b"chunk_refs", b"segments", b"expiry")
_LOCK_FILE = "node.lock"
_T = TypeVar("_T")
# A failed write with less free disk than the batch plus this was for want of space.
_DISK_HEADROOM = 1 << 20
_Entry = tuple[bytes, bytes, BytesLike]  # (database name, key, value)
# A batch after validation: (hash, header, [(blob header, chunks by index)]).
_CheckedBatch = tuple[bytes, bytes, list[tuple[bytes, dict[int, memoryview]]]]

_log = get_logger("store")


class LmdbStore:
    """The :class:`~operator_node.store.model.ChunkStore` on LMDB (see the module docstring)."""

    def __init__(
        self,
        path: Path,
        *,
        store_duration: float,
        max_size: int,
        clock: Callable[[], float] = time.time,
        initial_map_size: int | None = None,
        segment_size: int | None = None,
    ) -> None:
        """Open (creating if needed) the store in directory ``path``.

        ``store_duration`` (seconds) is added to a batch's receipt time to give its expiry;
        ``max_size`` caps the LMDB file and the segments together, in bytes; ``clock`` gives the
        receipt time when ``put_batch`` is not told; ``initial_map_size`` (default ``max_size``)
        exists for tests of growth; ``segment_size`` (default about ``max_size / 16``, see
        :func:`segments.default_segment_size`) is where a segment file stops growing.
        Raises StoreInputError for bad parameters, StoreLockedError if another
        process holds the directory, StoreFormatError for a store of another format, and
        StoreError if LMDB cannot open it.
        """
        if not store_duration > 0 or not max_size >= MIN_MAX_SIZE:
            raise StoreInputError(
                f"store needs store_duration > 0 and max_size >= {MIN_MAX_SIZE} bytes, "
                f"got {store_duration!r} and {max_size!r}"
            )
        self._path = Path(path)
        self._duration_ms = round(store_duration * 1000)
        self._max_size = max_size
        self._clock = clock
        self._write_lock = threading.Lock()
        self._scratch = _Scratch()  # used under the write lock only
        self._gate = SharedExclusiveGate()
        self._lock_fd = _lock_directory(self._path)
        env = None
        try:
            map_size = max_size if initial_map_size is None else min(max_size, initial_map_size)
            env = _open_environment(self._path, map_size)
            self._dbs = self._open_databases(env)
            self._segments = self._open_segments(env, segment_size)
            # The entries of a new store (its directory and LMDB's files) must be durable.
            fsync_directory(self._path)
            fsync_directory(self._path.parent)
        except BaseException:
            if env is not None:
                env.close()
            os.close(self._lock_fd)
            raise
        self._env: lmdb.Environment | None = env
        _log.info("store_opened", path=str(self._path), map_size=env.info()["map_size"])

    @property
    def path(self) -> Path:
        """The data directory."""
        return self._path

    # -- writes ---------------------------------------------------------------------------------

    def put_batch(
        self,
        batch_header_hash: BytesLike,
        batch_header: BytesLike,
        blobs: Sequence[StoredBlob],
        *,
        now: float | None = None,
    ) -> bool:
        """Store a batch in one transaction, durable on return.

        Returns True if it was written, False if a batch with this hash was already stored (and
        nothing changed). Expiry is ``now`` (default: the clock) plus the store duration.
        Raises StoreInputError on malformed input and StoreFullError when the store or the
        disk is full; either way nothing is written.
        """
        return self.put_batches([(batch_header_hash, batch_header, blobs)], now=now)[0]

    def put_batches(self, batches: Sequence[BatchWrite], *, now: float | None = None) -> list[bool]:
        """Store several batches with one segment append and one commit (three fsyncs in all).

        Like :meth:`put_batch` for each (hash, header, blobs), in order; a hash given twice is
        written once (the second answer is False). All or nothing: any error writes none.
        """
        checked = []
        for batch_header_hash, batch_header, blobs in batches:
            batch_hash = layout.validate_hash(batch_header_hash)
            if not isinstance(batch_header, bytes | bytearray | memoryview):
                raise StoreInputError("batch header must be bytes")
            checked.append((batch_hash, bytes(batch_header), layout.validate_blobs(blobs)))
        now_ms = layout.to_ms(self._clock() if now is None else now)
        expiry_ms = now_ms + self._duration_ms
        with self._write_lock:
            self._require_open()
            fresh = self._unstored(batch_hash for batch_hash, _, _ in checked)
            new = [batch for batch, is_new in zip(checked, fresh, strict=True) if is_new]
            if new:
                self._put_new(new, expiry_ms)
            return fresh

    def _unstored(self, batch_hashes: Iterable[bytes]) -> list[bool]:
        """For each hash, whether it is neither stored nor named earlier in ``batch_hashes``.

        Called under the write lock, so the answer holds until the caller's commit.
        """
        seen: set[bytes] = set()
        answers = []
        with self._reading() as txn:
            for batch_hash in batch_hashes:
                stored = txn.get(batch_hash, db=self._dbs[b"batches"]) is not None
                answers.append(not stored and batch_hash not in seen)
                seen.add(batch_hash)
        return answers

    def _put_new(self, batches: list[_CheckedBatch], expiry_ms: int) -> None:
        """Append the batches' chunk values to a segment, then commit their index entries."""
        sizes = [[layout.chunks_value_size(c) for _, c in blobs] for _, _, blobs in batches]
        total = sum(map(sum, sizes))
        padded = segments.aligned(total)
        self._reserve(padded)
        region = self._scratch.take(padded)[:padded]
        offset = 0
        for (_, _, blobs), blob_sizes in zip(batches, sizes, strict=True):
            for (_, chunks), size in zip(blobs, blob_sizes, strict=True):
                layout.encode_chunks_into(region[offset : offset + size], chunks)
                offset += size
        region[total:] = bytes(padded - total)  # no stale scratch bytes reach the disk
        segment, start = self._append(region)
        groups, offset = [], start
        for (batch_hash, header, blobs), blob_sizes in zip(batches, sizes, strict=True):
            refs = []
            for size in blob_sizes:
                refs.append(layout.ChunkRef(segment, offset, size))
                offset += size
            groups.append(_batch_entries(batch_hash, header, blobs, expiry_ms, refs))
        needed = sum(len(key) + len(value) for group in groups for _, key, value in group)
        try:
            self._write(
                lambda txn: _put_groups(txn, self._dbs, groups, segment), self._max_size, needed
            )
        except BaseException:
            self._segments.take_back(segment, start)
            raise

    def _reserve(self, size: int) -> None:
        """Raise StoreFullError unless ``size`` more bytes of segments fit within ``max_size``."""
        used = self._segments.total_bytes + self._lmdb_high_water()
        if used + size > self._max_size:
            raise self._store_full(f"{used} used, {size} needed")

    def _append(self, region: memoryview) -> tuple[int, int]:
        """Append ``region`` to a segment, with the store's errors for a full or failing disk."""
        try:
            return self._segments.append(region)
        except OSError as exc:
            free = shutil.disk_usage(self._path).free
            if exc.errno in (errno.ENOSPC, errno.EDQUOT) or free < len(region) + _DISK_HEADROOM:
                raise self._disk_full(free) from exc
            raise StoreError(f"chunk store write failed in {self._path}: {exc}") from exc

    def _lmdb_high_water(self) -> int:
        """Bytes of LMDB's file in use or once used (its pages up to the last one written)."""
        env = self._require_open()
        return int(env.info()["last_pgno"] + 1) * int(env.stat()["psize"])

    def delete_expired(self, now: float, max_batches: int) -> ExpiredBatches:
        """Delete, in one transaction, up to ``max_batches`` batches whose expiry is <= ``now``.

        Oldest expiry first. Returns how many batches went and the bytes they held (keys and
        values). Raises StoreInputError for a bad ``now`` or ``max_batches``.
        """
        now_ms = layout.to_ms(now)
        if isinstance(max_batches, bool) or not isinstance(max_batches, int) or max_batches < 1:
            raise StoreInputError(f"max_batches must be a positive integer, got {max_batches!r}")
        with self._write_lock:
            self._require_open()
            expired, emptied = self._write(
                lambda txn: _delete_expired(txn, self._dbs, now_ms, max_batches),
                self._max_size + DELETE_HEADROOM,
            )
            self._segments.remove(emptied)
        return expired

    def quarantine_batch(self, batch_header_hash: BytesLike) -> list[Path]:
        """Take a batch whose chunks failed their check out of the store, in one transaction,
        keeping a copy of every segment file that held its chunks under ``quarantine/`` (for
        the operator to inspect: nothing found bad is deleted unseen). Returns the copies made;
        a batch not stored changes nothing. The batch is then missing, as after downtime, and
        the repair rebuilds it from peers.
        """
        batch_hash = layout.validate_hash(batch_header_hash)
        with self._write_lock:
            self._require_open()
            with self._reading() as txn:
                segments = _batch_segments(txn, self._dbs, batch_hash)
            copies = [self._segments.quarantine(segment) for segment in sorted(segments)]
            _, emptied = self._write(
                lambda txn: _delete_batch(txn, self._dbs, batch_hash),
                self._max_size + DELETE_HEADROOM,
            )
            self._segments.remove(emptied)
        return [copy for copy in copies if copy is not None]

    def _write(
        self, work: Callable[[lmdb.Transaction[bytes]], _T], limit: int, needed: int = 0
    ) -> _T:
        """Run ``work`` in a write transaction, growing the map up to ``limit`` as needed.

        At the limit, one retry follows a small "release" commit: LMDB reuses pages freed by a
        transaction only once a later one has committed, so right after expiry the freed space
        is not yet usable. Then StoreFullError. A failed write on a disk with less than
        ``needed`` bytes (plus headroom) free is StoreFullError too: LMDB reports a write that
        ran out of space as EIO (a short write), not always as ENOSPC.
        """
        assert self._env is not None
        released = False
        while True:
            try:
                with self._env.begin(write=True) as txn:
                    return work(txn)
            except lmdb.MapFullError:
                if self._grow(limit):
                    continue
                if released or not self._release_freed_pages():
                    raise self._store_full() from None
                released = True
            except lmdb.Error as exc:
                free = shutil.disk_usage(self._path).free
                if isinstance(exc, lmdb.DiskError) or free < needed + _DISK_HEADROOM:
                    # Pages freed by expiry may be reusable after one more commit, as above.
                    if not released and self._release_freed_pages():
                        released = True
                        continue
                    raise self._disk_full(free) from exc
                raise StoreError(f"chunk store write failed in {self._path}: {exc}") from exc

    def _store_full(self, detail: str = "") -> StoreFullError:
        """The error for a write refused at ``max_size``."""
        shown = f"max_size {self._max_size} bytes" + (f", {detail}" if detail else "")
        return StoreFullError(
            f"the chunk store in {self._path} is full ({shown}); writes resume when expired "
            f"batches are deleted"
        )

    def _disk_full(self, free: int) -> StoreFullError:
        """The error for a write refused because the filesystem is full."""
        return StoreFullError(
            f"the disk holding {self._path} is full ({free} bytes free); writes resume when "
            f"expired batches are deleted or space is freed"
        )

    def _grow(self, limit: int) -> bool:
        """Double the map, at most to ``limit``; False if it is already there."""
        assert self._env is not None
        current = self._env.info()["map_size"]
        if current >= limit:
            return False
        new_size = _round_to_page(min(limit, current * 2))
        self._gate.acquire_exclusive()
        try:
            self._env.set_mapsize(new_size)
        finally:
            self._gate.release_exclusive()
        _log.info("store_map_grown", path=str(self._path), map_size=new_size)
        return True

    def _release_freed_pages(self) -> bool:
        """Commit a one-key rewrite so pages freed by the last commit become reusable."""
        assert self._env is not None
        try:
            with self._env.begin(write=True) as txn:
                txn.put(FORMAT_KEY, FORMAT_VERSION.to_bytes(4, "big"), db=self._dbs[b"meta"])
        except lmdb.Error:  # full map or full disk: nothing to release
            return False
        return True

    # -- reads ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self) -> Iterator[lmdb.Transaction[memoryview]]:
        """A read transaction (buffers are views of the map, valid only inside it)."""
        self._gate.acquire_shared()
        try:
            env = self._require_open()
            with env.begin(buffers=True) as txn:
                yield txn
        except lmdb.Error as exc:
            raise StoreError(f"chunk store read failed in {self._path}: {exc}") from exc
        finally:
            self._gate.release_shared()

    def get_chunks(self, batch_header_hash: BytesLike, blob_index: int) -> ChunkSet | None:
        """This node's chunks of blob ``blob_index`` of the batch, or None if not stored.

        The chunk value is read once from its segment; the chunks are views of what was read.
        Raises StoreInputError for a malformed hash or index, StoreError if the segment is
        shorter than the index says.
        """
        key = layout.blob_key(
            layout.validate_hash(batch_header_hash), layout.validate_index(blob_index, "blob index")
        )
        with self._reading() as txn:
            raw = txn.get(key, db=self._dbs[b"chunk_refs"])
            ref = None if raw is None else layout.decode_ref(raw)
            if ref is None:  # a batch stored by format 1 keeps its chunk value in LMDB
                value = txn.get(key, db=self._dbs[b"chunks"])
                return None if value is None else layout.decode_chunks(bytes(value))
        try:
            data = self._segments.read(ref.segment, ref.offset, ref.length)
        except OSError as exc:
            raise StoreError(f"chunk store read failed in {self._path}: {exc}") from exc
        if data is None:  # expired and deleted since the lookup
            return None
        if len(data) != ref.length or not layout.chunks_value_is_consistent(data):
            raise StoreError(
                f"segment {ref.segment} in {self._path} does not hold the chunk value the index "
                f"expects at offset {ref.offset} ({ref.length} bytes)"
            )
        return layout.decode_chunks(data)

    def get_blob_header(self, batch_header_hash: BytesLike, blob_index: int) -> bytes | None:
        """The header bytes of blob ``blob_index`` of the batch, or None if not stored."""
        key = layout.blob_key(
            layout.validate_hash(batch_header_hash), layout.validate_index(blob_index, "blob index")
        )
        with self._reading() as txn:
            value = txn.get(key, db=self._dbs[b"blob_headers"])
            return None if value is None else bytes(value)

    def get_batch(self, batch_header_hash: BytesLike) -> StoredBatch | None:
        """The batch header and every blob header (in index order), or None if not stored."""
        batch_hash = layout.validate_hash(batch_header_hash)
        with self._reading() as txn:
            value = txn.get(batch_hash, db=self._dbs[b"batches"])
            if value is None:
                return None
            record = layout.decode_batch(value)
            headers = [
                txn.get(layout.blob_key(batch_hash, index), db=self._dbs[b"blob_headers"])
                for index in range(record.blob_count)
            ]
            if any(header is None for header in headers):
                raise StoreError(f"batch {batch_hash.hex()} in {self._path} lacks a blob header")
            blob_headers = tuple(bytes(header) for header in headers if header is not None)
        return StoredBatch(record.header, blob_headers, record.expiry_ms / 1000)

    def has_batch(self, batch_header_hash: BytesLike) -> bool:
        """Whether a batch with this header hash is stored."""
        batch_hash = layout.validate_hash(batch_header_hash)
        with self._reading() as txn:
            return txn.get(batch_hash, db=self._dbs[b"batches"]) is not None

    def list_batches(self) -> list[tuple[bytes, float]]:
        """(batch header hash, expiry) of every stored batch, soonest expiry first."""
        with self._reading() as txn:
            cursor = txn.cursor(db=self._dbs[b"expiry"])
            keys = [layout.split_expiry_key(key) for key in cursor.iternext(values=False)]
        return [(batch_hash, expiry_ms / 1000) for expiry_ms, batch_hash in keys]

    def stats(self) -> StoreStats:
        """Current size figures (see :class:`StoreStats`)."""
        with self._reading() as txn:
            stats = [txn.stat(db) for db in self._dbs.values()] + [txn.stat()]
            batches = txn.stat(self._dbs[b"batches"])["entries"]
            env = self._require_open()
            map_size = env.info()["map_size"]
        page = stats[-1]["psize"]
        pages = sum(s["branch_pages"] + s["leaf_pages"] + s["overflow_pages"] for s in stats)
        lmdb_used = (pages + 2) * page  # + the two meta pages
        entries = sum(txn_stat["entries"] for txn_stat in stats[1:-1])  # data databases only
        lmdb_file = (self._path / "data.mdb").stat().st_size
        segment_bytes = self._segments.total_bytes
        used = lmdb_used + segment_bytes
        disk_free = shutil.disk_usage(self._path).free
        free = max(0, min(self._max_size - used, max(0, lmdb_file - lmdb_used) + disk_free))
        return StoreStats(
            used,
            entries,
            free,
            batches,
            map_size,
            lmdb_file + segment_bytes,
            self._max_size,
            disk_free,
        )

    def check(self) -> list[str]:
        """Walk the whole store and describe every inconsistency found (empty if none).

        A batch must have its expiry entry and exactly its blobs' headers and chunks, and every
        chunk value must decode to lengths that add up. Reads only; costs a full scan.
        """
        with self._reading() as txn:
            problems = _find_inconsistencies(txn, self._dbs)
            return problems + _check_chunk_values(txn, self._dbs, self._segments)

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the store, waiting for running reads and writes; a second call does nothing."""
        with self._write_lock:
            self._gate.acquire_exclusive()
            try:
                if self._env is None:
                    return
                self._segments.close()
                self._env.close()
                self._env = None
                os.close(self._lock_fd)
            finally:
                self._gate.release_exclusive()
        _log.info("store_closed", path=str(self._path))

    def _require_open(self) -> lmdb.Environment:
        if self._env is None:
            raise StoreClosedError(f"the chunk store in {self._path} is closed")
        return self._env

    def _open_segments(
        self, env: lmdb.Environment, segment_size: int | None
    ) -> segments.SegmentFiles:
        """Open the segment directory and delete the files no chunk reference needs.

        Such files are left by a crash between a segment append and its commit, or after
        expiry emptied a segment but before its file was deleted.
        """
        size = (
            segments.default_segment_size(self._max_size) if segment_size is None else segment_size
        )
        if size < segments.ALIGN:
            raise StoreInputError(f"segment_size must be at least {segments.ALIGN} bytes")
        try:
            files = segments.SegmentFiles(self._path / "segments", segment_size=size)
            with env.begin() as txn:
                cursor = txn.cursor(db=self._dbs[b"segments"])
                live = {layout.read_u64(key) for key in cursor.iternext(values=False)}
            files.remove(files.ids() - live)
        except OSError as exc:
            raise StoreError(f"cannot open the chunk segments in {self._path}: {exc}") from exc
        return files

    def _open_databases(self, env: lmdb.Environment) -> dict[bytes, lmdb._Database]:
        """Open the named databases and check (or, in a new store, write) the format version."""
        try:
            with env.begin(write=True) as txn:
                dbs = {name: env.open_db(name, txn=txn) for name in (b"meta", *_DATA_DBS)}
                _check_format(txn, dbs, self._path)
        except lmdb.IncompatibleError as exc:
            raise StoreFormatError(f"{self._path} does not hold a chunk store: {exc}") from exc
        except lmdb.Error as exc:
            raise StoreError(f"cannot open the chunk store in {self._path}: {exc}") from exc
        return dbs


class _Scratch:
    """A reused anonymous mapping in which a batch's chunk values are laid out before writing.

    A mapping, not a bytearray, because it is page-aligned, as ``O_DIRECT`` writes need.
    """

    _KEEP_LIMIT = 64 << 20  # larger one-off batches get a throwaway mapping instead

    def __init__(self) -> None:
        self._map = mmap.mmap(-1, 1 << 20)

    def take(self, size: int) -> memoryview:
        """A writable view of at least ``size`` bytes, valid until the next call."""
        if size > self._KEEP_LIMIT:
            return memoryview(mmap.mmap(-1, size))  # page-aligned, as O_DIRECT needs
        if size > len(self._map):
            # Dropped, not closed: a view still held elsewhere keeps the old one alive.
            self._map = mmap.mmap(-1, 1 << (size - 1).bit_length())
        return memoryview(self._map)


def _batch_entries(
    batch_hash: bytes,
    header: bytes,
    blobs: list[tuple[bytes, dict[int, memoryview]]],
    expiry_ms: int,
    refs: list[layout.ChunkRef],
) -> list[_Entry]:
    """Every (database, key, value) a batch writes, the batch record last."""
    entries: list[_Entry] = []
    for blob_index, ((blob_header, _), ref) in enumerate(zip(blobs, refs, strict=True)):
        key = layout.blob_key(batch_hash, blob_index)
        entries.append((b"blob_headers", key, blob_header))
        entries.append((b"chunk_refs", key, layout.encode_ref(ref)))
    expiry = layout.expiry_key(expiry_ms, batch_hash)
    entries.append((b"expiry", expiry, b""))
    stored = sum(len(key) + len(value) for _, key, value in entries)
    stored += len(batch_hash) + layout.batch_value_size(len(header)) + sum(r.length for r in refs)
    record = layout.BatchRecord(expiry_ms, len(blobs), stored, header)
    entries.append((b"batches", batch_hash, layout.encode_batch(record)))
    return entries


def _put_groups(
    txn: lmdb.Transaction[bytes],
    dbs: dict[bytes, lmdb._Database],
    groups: list[list[_Entry]],
    segment: int,
) -> None:
    """Write the batches' entries and count their chunk references into ``segment``."""
    refs = 0
    for entries in groups:
        for name, key, value in entries:
            txn.put(key, value, db=dbs[name])
        refs += sum(name == b"chunk_refs" for name, _, _ in entries)
    key = layout.u64(segment)
    count = txn.get(key, db=dbs[b"segments"])
    txn.put(
        key,
        layout.u64(refs + (0 if count is None else layout.read_u64(count))),
        db=dbs[b"segments"],
    )


def _delete_expired(
    txn: lmdb.Transaction[bytes], dbs: dict[bytes, lmdb._Database], now_ms: int, limit: int
) -> tuple[ExpiredBatches, list[int]]:
    """Delete up to ``limit`` batches expired at ``now_ms``, soonest expiry first.

    Also returns the segments no chunk reference points into any more, to be deleted once this
    transaction has committed.
    """
    due: list[bytes] = []
    for key in txn.cursor(db=dbs[b"expiry"]).iternext(values=False):
        expiry_ms, _ = layout.split_expiry_key(key)
        if expiry_ms > now_ms or len(due) == limit:
            break
        due.append(bytes(key))
    freed = 0
    released: collections.Counter[int] = collections.Counter()
    for key in due:
        _, batch_hash = layout.split_expiry_key(key)
        txn.delete(key, db=dbs[b"expiry"])
        value = txn.pop(batch_hash, db=dbs[b"batches"])
        if value is None:  # an index entry without its batch: only the entry goes
            continue
        _, blob_count, stored = layout.decode_batch_expiry(value)
        _delete_blobs(txn, dbs, batch_hash, blob_count, released)
        freed += stored
    return ExpiredBatches(len(due), freed), _release_refs(txn, dbs[b"segments"], released)


def _batch_segments(
    txn: lmdb.Transaction[memoryview], dbs: dict[bytes, lmdb._Database], batch_hash: bytes
) -> set[int]:
    """The segments holding a stored batch's chunk values."""
    value = txn.get(batch_hash, db=dbs[b"batches"])
    if value is None:
        return set()
    _, blob_count, _ = layout.decode_batch_expiry(value)
    refs = (
        txn.get(layout.blob_key(batch_hash, i), db=dbs[b"chunk_refs"]) for i in range(blob_count)
    )
    return {layout.decode_ref(ref).segment for ref in refs if ref is not None}


def _delete_batch(
    txn: lmdb.Transaction[bytes], dbs: dict[bytes, lmdb._Database], batch_hash: bytes
) -> tuple[bool, list[int]]:
    """Delete one batch's entries; whether it was stored, and the segments left unreferenced."""
    value = txn.pop(batch_hash, db=dbs[b"batches"])
    if value is None:
        return False, []
    expiry_ms, blob_count, _ = layout.decode_batch_expiry(value)
    txn.delete(layout.expiry_key(expiry_ms, batch_hash), db=dbs[b"expiry"])
    released: collections.Counter[int] = collections.Counter()
    _delete_blobs(txn, dbs, batch_hash, blob_count, released)
    return True, _release_refs(txn, dbs[b"segments"], released)


def _delete_blobs(
    txn: lmdb.Transaction[bytes],
    dbs: dict[bytes, lmdb._Database],
    batch_hash: bytes,
    blob_count: int,
    released: collections.Counter[int],
) -> None:
    """Delete a batch's blob entries, counting in ``released`` the chunk references each of its
    segments loses."""
    for blob_index in range(blob_count):
        blob = layout.blob_key(batch_hash, blob_index)
        txn.delete(blob, db=dbs[b"blob_headers"])
        txn.delete(blob, db=dbs[b"chunks"])
        ref = txn.pop(blob, db=dbs[b"chunk_refs"])
        if ref is not None:
            released[layout.decode_ref(ref).segment] += 1


def _release_refs(
    txn: lmdb.Transaction[bytes], db: lmdb._Database, released: collections.Counter[int]
) -> list[int]:
    """Lower the segments' reference counts; returns the segments left with none."""
    emptied = []
    for segment, count in released.items():
        key = layout.u64(segment)
        raw = txn.get(key, db=db)
        left = (0 if raw is None else layout.read_u64(raw)) - count
        if left > 0:
            txn.put(key, layout.u64(left), db=db)
        else:
            txn.delete(key, db=db)
            emptied.append(segment)
    return emptied


def _check_format(
    txn: lmdb.Transaction[bytes], dbs: dict[bytes, lmdb._Database], path: Path
) -> None:
    """Accept our format version, write it into a new store, upgrade format 1, refuse the rest.

    Format 1 differs only in keeping chunk values in LMDB (``chunks``); those are still read and
    expired, and new batches go to segments, so the upgrade rewrites nothing but the version.
    """
    raw = txn.get(FORMAT_KEY, db=dbs[b"meta"])
    if raw is None:
        if any(txn.stat(dbs[name])["entries"] for name in _DATA_DBS):
            raise StoreFormatError(
                f"the chunk store in {path} has data but no format version; this operator-node "
                f"reads format version {FORMAT_VERSION} only"
            )
        txn.put(FORMAT_KEY, FORMAT_VERSION.to_bytes(4, "big"), db=dbs[b"meta"])
        return
    found = int.from_bytes(raw, "big") if len(raw) == 4 else None
    if found in _UPGRADABLE_VERSIONS:
        txn.put(FORMAT_KEY, FORMAT_VERSION.to_bytes(4, "big"), db=dbs[b"meta"])
        _log.info("store_format_upgraded", path=str(path), found=found, now=FORMAT_VERSION)
        return
    if found != FORMAT_VERSION:
        shown = f"version {found}" if found is not None else f"an unreadable version {raw!r}"
        newer = " (written by a newer operator-node?)" if found and found > FORMAT_VERSION else ""
        raise StoreFormatError(
            f"the chunk store in {path} has format {shown}{newer}; this operator-node reads "
            f"format version {FORMAT_VERSION} (and upgrades version 1) only. Move the directory "
            f"aside or use a matching release."
        )


def _find_inconsistencies(
    txn: lmdb.Transaction[memoryview], dbs: dict[bytes, lmdb._Database]
) -> list[str]:
    """The problems :meth:`LmdbStore.check` reports."""
    problems: list[str] = []
    blob_counts: dict[bytes, int] = {}
    for key, value in txn.cursor(db=dbs[b"batches"]):
        batch_hash = bytes(key)
        expiry_ms, blob_counts[batch_hash], _ = layout.decode_batch_expiry(value)
        if txn.get(layout.expiry_key(expiry_ms, batch_hash), db=dbs[b"expiry"]) is None:
            problems.append(f"batch {batch_hash.hex()} has no expiry entry")
    for key in txn.cursor(db=dbs[b"expiry"]).iternext(values=False):
        expiry_ms, batch_hash = layout.split_expiry_key(key)
        if batch_hash not in blob_counts:
            problems.append(f"expiry entry for missing batch {batch_hash.hex()}")
    problems += _check_blob_dbs(txn, [dbs[b"blob_headers"]], "blob_headers", blob_counts)
    # A blob's chunks are in "chunk_refs", or in "chunks" if format 1 stored them.
    chunk_dbs = [dbs[b"chunks"], dbs[b"chunk_refs"]]
    return problems + _check_blob_dbs(txn, chunk_dbs, "chunks", blob_counts)


def _check_blob_dbs(
    txn: lmdb.Transaction[memoryview],
    blob_dbs: list[lmdb._Database],
    name: str,
    blob_counts: dict[bytes, int],
) -> list[str]:
    """Problems of per-blob databases that together hold each blob once: orphans and gaps."""
    problems: list[str] = []
    seen: dict[bytes, int] = {}
    for db in blob_dbs:
        for key in txn.cursor(db=db).iternext(values=False):
            batch_hash, blob_index = bytes(key[: layout.HASH_SIZE]), int.from_bytes(key[-4:], "big")
            if blob_index >= blob_counts.get(batch_hash, 0):
                problems.append(f"{name}: orphan blob {blob_index} of batch {batch_hash.hex()}")
                continue
            seen[batch_hash] = seen.get(batch_hash, 0) + 1
    for batch_hash, count in blob_counts.items():
        if seen.get(batch_hash, 0) != count:
            problems.append(
                f"{name}: batch {batch_hash.hex()} has {seen.get(batch_hash, 0)} of {count} blobs"
            )
    return problems


def _check_chunk_values(
    txn: lmdb.Transaction[memoryview],
    dbs: dict[bytes, lmdb._Database],
    files: segments.SegmentFiles,
) -> list[str]:
    """Problems of the chunk values: undecodable tables, references past a segment's end,
    and segments whose reference count is wrong or whose file is missing."""
    problems: list[str] = []
    for key, value in txn.cursor(db=dbs[b"chunks"]):
        if not layout.chunks_value_is_consistent(value):
            problems.append(f"chunks: undecodable value for {_blob_name(key)}")
    counted: collections.Counter[int] = collections.Counter()
    for key, value in txn.cursor(db=dbs[b"chunk_refs"]):
        try:
            ref = layout.decode_ref(value)
        except ValueError:
            problems.append(f"chunk_refs: undecodable reference for {_blob_name(key)}")
            continue
        counted[ref.segment] += 1
        problem = _check_ref(files, ref)
        if problem:
            problems.append(f"chunk_refs: {_blob_name(key)}: {problem}")
    for key, value in txn.cursor(db=dbs[b"segments"]):
        segment, count = layout.read_u64(key), layout.read_u64(value)
        if counted.pop(segment, 0) != count:
            problems.append(f"segments: segment {segment} is counted {count} times, wrongly")
    problems += [f"segments: segment {segment} is not counted" for segment in counted]
    return problems


def _check_ref(files: segments.SegmentFiles, ref: layout.ChunkRef) -> str | None:
    """What is wrong with the chunk value ``ref`` points to, or None."""
    size = files.size(ref.segment)
    if size is None:
        return f"segment {ref.segment} is missing"
    if ref.offset + ref.length > size:
        return f"reaches past the end of segment {ref.segment} ({size} bytes)"
    try:
        start = files.read(ref.segment, ref.offset, min(ref.length, 4)) or b""
        head_size = layout.chunks_head_size(start) or 0
        head = files.read(ref.segment, ref.offset, min(ref.length, head_size)) or b""
    except OSError as exc:
        return f"segment {ref.segment} is unreadable: {exc}"
    if not layout.chunks_head_is_consistent(head, ref.length):
        return "undecodable chunk value"
    return None


def _blob_name(key: BytesLike) -> str:
    """ "blob I of batch H" for a per-blob key."""
    return f"blob {int.from_bytes(key[-4:], 'big')} of {bytes(key[: layout.HASH_SIZE]).hex()}"


def _lock_directory(path: Path) -> int:
    """Create the data directory if needed and hold its lock file; returns the lock's fd."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path / _LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot use {path} as the chunk store directory: {exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(fd)
        raise StoreLockedError(f"the chunk store in {path} is in use by another process") from exc
    return fd


def _open_environment(path: Path, map_size: int) -> lmdb.Environment:
    """Open LMDB with its durable defaults spelled out, so no one "tunes" them away unseen."""
    data_file = path / "data.mdb"
    existing = data_file.stat().st_size if data_file.exists() else 0
    try:
        return lmdb.Environment(
            str(path),
            map_size=_round_to_page(max(map_size, existing)),
            subdir=True,
            max_dbs=1 + len(_DATA_DBS),
            mode=0o600,
            sync=True,
            metasync=True,
            writemap=False,
            map_async=False,
            max_spare_txns=4,
        )
    except (lmdb.InvalidError, lmdb.VersionMismatchError, lmdb.CorruptedError) as exc:
        raise StoreFormatError(f"{path} does not hold a readable chunk store: {exc}") from exc
    except lmdb.Error as exc:
        raise StoreError(f"cannot open the chunk store in {path}: {exc}") from exc


def _round_to_page(size: int) -> int:
    return -(-size // mmap.PAGESIZE) * mmap.PAGESIZE
