"""The chunk store for the event loop: every call runs in a thread, one writer per shard.

The store may be split into shards (see :mod:`operator_node.store.shards`), each a
:class:`ChunkStore` with its own writer thread, so that batches in different shards commit in
parallel. A batch goes to the shard its hash routes to, and every read of it goes there too.
Writes to a shard (``put_batch``, ``delete_expired``) go to its single-thread executor, so they
queue in order and never contend for LMDB's writer lock. Batches that arrive while a shard's
writer is busy are committed together (group commit): one transaction and one pair of fsyncs
for all of them, each caller answered once the group is durable. A group that fails is retried
one batch at a time, so one bad or oversized batch fails alone; reads go to a small pool of
their own, so a retrieval never waits behind a batch being fsynced. A cancelled awaiter does
not cancel the call already running in its thread: a batch whose ``put_batch`` was cancelled
may still be stored, but the caller, having no answer, must not treat it as acknowledged.

Given a :class:`Metrics`, each group commit reports how long it took, how many batches it held
and how long each waited for the writer: the disk's share of a put's latency, apart from the
hand-offs between threads and the event loop. The store's size figures (used bytes, entries,
free bytes) are reported at open and after every commit and every expiry, by the writer that
changed them.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass, replace
from pathlib import Path
from typing import TypeVar

from operator_node.health import Health, ServiceStatus
from operator_node.logging import get_logger
from operator_node.metrics import Metrics
from operator_node.store.errors import StoreClosedError, StoreError, StoreInputError
from operator_node.store.layout import validate_hash
from operator_node.store.lmdb_store import LmdbStore
from operator_node.store.model import (
    BatchWrite,
    BytesLike,
    ChunkSet,
    ChunkStore,
    ExpiredBatches,
    StoredBatch,
    StoredBlob,
    StoreStats,
)
from operator_node.store.shards import resolve_shard_paths, shard_index

STORE_SERVICE_ID = "store"
_log = get_logger("store")
# At most this many batches share one commit (a bound on a group's size and latency).
MAX_GROUP_BATCHES = 16
DEFAULT_READ_THREADS = 4
# Two writers: most of the gain of parallel commits on the disks measured (see store.shards).
DEFAULT_SHARDS = 2
_T = TypeVar("_T")


@dataclass
class _PendingPut:
    """A batch waiting for the writer, and the caller's future for its answer."""

    batch: BatchWrite
    now: float | None
    future: asyncio.Future[bool]
    queued_at: float  # time.perf_counter() when it joined the queue

    def resolve(self, result: bool, error: BaseException | None) -> None:
        """Answer the caller from the writer thread (a cancelled caller is skipped)."""
        self.future.get_loop().call_soon_threadsafe(self._set, result, error)

    def _set(self, result: bool, error: BaseException | None) -> None:
        if self.future.done():
            return
        if error is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(result)


@dataclass
class _Shard:
    """One shard: its store, its writer thread, the batches waiting for that writer, and its
    size figures as last read (None before the first read)."""

    store: ChunkStore
    writer: ThreadPoolExecutor
    puts: collections.deque[_PendingPut]
    usage: StoreStats | None = None


class AsyncStore:
    """Awaitable wrappers around one or more :class:`ChunkStore` shards; owns and closes them."""

    def __init__(
        self,
        shards: ChunkStore | Sequence[ChunkStore],
        *,
        read_threads: int = DEFAULT_READ_THREADS,
        metrics: Metrics | None = None,
    ) -> None:
        """Wrap one store, or the shards of one (in shard order); each shard gets a writer.

        With ``metrics``, every group commit reports its duration, its size and how long each of
        its batches waited for the writer.
        """
        stores = list(shards) if isinstance(shards, Sequence) else [shards]
        if not stores:
            raise ValueError("an AsyncStore needs at least one shard")
        self._shards = [
            _Shard(
                store,
                ThreadPoolExecutor(1, thread_name_prefix=f"store-write-{i}"),
                collections.deque(),
            )
            for i, store in enumerate(stores)
        ]
        self._readers = ThreadPoolExecutor(read_threads, thread_name_prefix="store-read")
        self._metrics = metrics
        self._closed = False

    @property
    def shards(self) -> tuple[ChunkStore, ...]:
        """The wrapped synchronous stores, in shard order (for code already in a thread)."""
        return tuple(shard.store for shard in self._shards)

    def _shard(self, batch_header_hash: BytesLike) -> _Shard:
        """The shard a batch hash routes to (a malformed hash goes to shard 0, which refuses it)."""
        try:
            batch_hash = validate_hash(batch_header_hash)
        except StoreInputError:
            return self._shards[0]
        return self._shards[shard_index(batch_hash, len(self._shards))]

    async def _run(self, pool: ThreadPoolExecutor, call: Callable[[], _T]) -> _T:
        if self._closed:
            raise StoreClosedError("the chunk store is closed")
        return await asyncio.get_running_loop().run_in_executor(pool, call)

    async def put_batch(
        self,
        batch_header_hash: BytesLike,
        batch_header: BytesLike,
        blobs: Sequence[StoredBlob],
        *,
        now: float | None = None,
    ) -> bool:
        """:meth:`ChunkStore.put_batch` on its shard's writer; durable when it returns.

        Committed together with any other batches waiting for that writer (see the module doc).
        """
        if self._closed:
            raise StoreClosedError("the chunk store is closed")
        shard = self._shard(batch_header_hash)
        loop = asyncio.get_running_loop()
        pending = _PendingPut(
            (batch_header_hash, batch_header, blobs), now, loop.create_future(), time.perf_counter()
        )
        shard.puts.append(pending)
        # This drain finds our batch still queued, or runs after the drain that took it.
        drain = functools.partial(_drain_puts, shard, self._metrics, self._report_usage)
        await self._run(shard.writer, drain)
        return await pending.future

    async def delete_expired(self, now: float, max_batches: int) -> ExpiredBatches:
        """:meth:`ChunkStore.delete_expired` on every shard's writer at once; the sums.

        ``max_batches`` bounds each shard's transaction.
        """
        results = await asyncio.gather(
            *(
                self._run(
                    shard.writer,
                    functools.partial(self._delete_expired_in, shard, now, max_batches),
                )
                for shard in self._shards
            )
        )
        return ExpiredBatches(sum(r.batches for r in results), sum(r.freed_bytes for r in results))

    def _delete_expired_in(self, shard: _Shard, now: float, max_batches: int) -> ExpiredBatches:
        """On ``shard``'s writer: delete, then report the new size figures if anything went."""
        deleted = shard.store.delete_expired(now, max_batches)
        if deleted.batches:
            self._report_usage(shard)
        return deleted

    async def get_chunks(self, batch_header_hash: BytesLike, blob_index: int) -> ChunkSet | None:
        """:meth:`ChunkStore.get_chunks` on a reader thread."""
        store = self._shard(batch_header_hash).store
        call = functools.partial(store.get_chunks, batch_header_hash, blob_index)
        return await self._run(self._readers, call)

    async def get_blob_header(self, batch_header_hash: BytesLike, blob_index: int) -> bytes | None:
        """:meth:`ChunkStore.get_blob_header` on a reader thread."""
        store = self._shard(batch_header_hash).store
        call = functools.partial(store.get_blob_header, batch_header_hash, blob_index)
        return await self._run(self._readers, call)

    async def get_batch(self, batch_header_hash: BytesLike) -> StoredBatch | None:
        """:meth:`ChunkStore.get_batch` on a reader thread."""
        store = self._shard(batch_header_hash).store
        return await self._run(self._readers, functools.partial(store.get_batch, batch_header_hash))

    async def has_batch(self, batch_header_hash: BytesLike) -> bool:
        """:meth:`ChunkStore.has_batch` on a reader thread."""
        store = self._shard(batch_header_hash).store
        return await self._run(self._readers, functools.partial(store.has_batch, batch_header_hash))

    async def list_batches(self) -> list[tuple[bytes, float]]:
        """:meth:`ChunkStore.list_batches` of every shard, soonest expiry first."""
        parts = await asyncio.gather(
            *(self._run(self._readers, shard.store.list_batches) for shard in self._shards)
        )
        return sorted((entry for part in parts for entry in part), key=lambda e: (e[1], e[0]))

    async def check(self) -> list[str]:
        """:meth:`ChunkStore.check` of every shard (a full scan of each), on the readers."""
        parts = await asyncio.gather(
            *(self._run(self._readers, shard.store.check) for shard in self._shards)
        )
        return [problem for part in parts for problem in part]

    async def quarantine_batch(self, batch_header_hash: BytesLike) -> list[Path]:
        """:meth:`ChunkStore.quarantine_batch` on its shard's writer."""
        shard = self._shard(batch_header_hash)
        call = functools.partial(shard.store.quarantine_batch, batch_header_hash)
        return await self._run(shard.writer, call)

    async def stats(self) -> StoreStats:
        """:meth:`ChunkStore.stats` of every shard, summed, except what the shards share.

        The shards share one filesystem, so its free space counts once: the store may grow by
        the smaller of the shards' own room and the disk's free space plus the files' free pages.
        """
        parts = await asyncio.gather(
            *(self._run(self._readers, shard.store.stats) for shard in self._shards)
        )
        for shard, part in zip(self._shards, parts, strict=True):
            shard.usage = part
        return combine_stats(parts)

    async def report_usage(self) -> StoreStats:
        """Read every shard's size figures and report them to metrics (at open: a restarted
        node reports what it holds before its first write); returns them."""
        stats = await self.stats()
        if self._metrics is not None:
            self._metrics.set_store_usage(stats.used_bytes, stats.entries, stats.free_bytes)
        return stats

    def _report_usage(self, changed: _Shard) -> None:
        """On ``changed``'s writer, after a commit or a deletion: re-read its figures and report
        the store's (other shards as last read; one never read yet is read now)."""
        if self._metrics is None:
            return
        try:
            changed.usage = changed.store.stats()
            for shard in self._shards:
                if shard.usage is None:
                    shard.usage = shard.store.stats()
        except (StoreError, OSError) as exc:
            # The write itself succeeded: its caller must not see this, only the log.
            _log.warning("store_usage_unreadable", error=str(exc))
            return
        stats = combine_stats([shard.usage for shard in self._shards if shard.usage is not None])
        self._metrics.set_store_usage(stats.used_bytes, stats.entries, stats.free_bytes)

    async def close(self) -> None:
        """Let queued calls finish, then close every shard. Later calls raise StoreClosedError."""
        self._closed = True

        def shut_down() -> None:
            for shard in self._shards:
                shard.writer.shutdown(wait=True)
            self._readers.shutdown(wait=True)
            for shard in self._shards:
                shard.store.close()

        await asyncio.to_thread(shut_down)


def combine_stats(parts: Sequence[StoreStats]) -> StoreStats:
    """The figures of a store made of shards ``parts``: summed, except what the shards share.

    The shards share one filesystem, so its free space counts once: the store may grow by the
    smaller of the shards' own room and the disk's free space plus the files' free pages.
    """
    total = StoreStats(*(sum(values) for values in zip(*map(astuple, parts), strict=True)))
    disk_free = max(part.disk_free_bytes for part in parts)
    slack = sum(max(0, part.file_bytes - part.used_bytes) for part in parts)
    free = min(total.free_bytes, slack + disk_free)
    return replace(total, free_bytes=free, disk_free_bytes=disk_free)


def _put_group(store: ChunkStore, group: list[_PendingPut]) -> list[bool] | None:
    try:
        return store.put_batches([p.batch for p in group], now=group[0].now)
    except Exception:  # noqa: BLE001 - each batch is then retried alone, with its own error
        return None


def _observe_write(metrics: Metrics | None, group: list[_PendingPut], started: float) -> None:
    """Report a commit of ``group`` that began at ``started``; before the callers are answered,
    so that a caller reading the metrics after its put sees its own commit."""
    if metrics is not None:
        waits = [started - pending.queued_at for pending in group]
        metrics.observe_store_write(time.perf_counter() - started, len(group), waits)


def _drain_puts(
    shard: _Shard, metrics: Metrics | None, report_usage: Callable[[_Shard], None]
) -> None:
    """On a shard's writer thread: commit every queued batch (up to a group's limit) at once,
    then report the store's new size figures (a read of some tens of microseconds)."""
    if not shard.puts:
        return
    try:
        _commit_queued(shard, metrics)
    finally:
        report_usage(shard)


def _commit_queued(shard: _Shard, metrics: Metrics | None) -> None:
    started = time.perf_counter()
    group = [shard.puts.popleft()]
    # Batches given the same expiry clock (None: the store's) can share a commit.
    while shard.puts and len(group) < MAX_GROUP_BATCHES and shard.puts[0].now == group[0].now:
        group.append(shard.puts.popleft())
    if len(group) > 1:
        results = _put_group(shard.store, group)
        if results is not None:
            _observe_write(metrics, group, started)
            for pending, result in zip(group, results, strict=True):
                pending.resolve(result, None)
            return
    # One at a time: each batch's own commit (its wait includes any failed group attempt).
    for pending in group:
        begun = time.perf_counter()
        try:
            result = shard.store.put_batch(*pending.batch, now=pending.now)
        except Exception as exc:  # noqa: BLE001 - handed to the caller's future
            pending.resolve(False, exc)
        else:
            _observe_write(metrics, [pending], begun)
            pending.resolve(result, None)


def register_store_health(health: Health) -> None:
    """Add the store to the node's services (critical, Initializing until it opens)."""
    health.register(
        STORE_SERVICE_ID,
        "Chunk store",
        "Durable store of this node's chunks",
        critical=True,
        status=ServiceStatus.INITIALIZING,
    )


async def open_store(
    path: Path,
    *,
    store_duration: float,
    max_size: int,
    health: Health,
    shards: int = DEFAULT_SHARDS,
    read_threads: int = DEFAULT_READ_THREADS,
    metrics: Metrics | None = None,
) -> AsyncStore:
    """Open the store in ``path`` in a thread; report it in ``health`` (Up, or Down and re-raise).

    A new store gets ``shards`` LMDB shards, each allowed ``max_size / shards`` bytes; an
    existing one must be opened with the count it was made with (see
    :mod:`operator_node.store.shards`). Registers the "store" service if it is not yet
    registered. Raises the StoreError that prevented opening (StoreFormatError,
    StoreLockedError, ...), after closing any shard already opened. ``metrics``: see
    :class:`AsyncStore`.
    """
    if health.get_service(STORE_SERVICE_ID) is None:
        register_store_health(health)
    try:
        stores = await asyncio.to_thread(_open_shards, path, shards, store_duration, max_size)
    except StoreError:
        health.set_status(STORE_SERVICE_ID, ServiceStatus.DOWN)
        raise
    health.set_status(STORE_SERVICE_ID, ServiceStatus.UP)
    store = AsyncStore(stores, read_threads=read_threads, metrics=metrics)
    if metrics is not None:
        await store.report_usage()
    return store


def _open_shards(path: Path, count: int, store_duration: float, max_size: int) -> list[LmdbStore]:
    paths = resolve_shard_paths(path, count)
    stores: list[LmdbStore] = []
    try:
        for shard_path in paths:
            stores.append(
                LmdbStore(
                    shard_path, store_duration=store_duration, max_size=max_size // len(paths)
                )
            )
    except BaseException:
        for store in stores:
            store.close()
        raise
    return stores
