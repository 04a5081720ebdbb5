"""The chunk store for the event loop: every call runs in a thread, one writer at a time.

Writes (``put_batch``, ``delete_expired``) go to a single-thread executor, so they queue in
order and never contend for LMDB's writer lock. Batches that arrive while the writer is busy are
committed together (group commit): one transaction and one pair of fsyncs for all of them,
each caller answered once the group is durable. A group that fails is retried one batch at a
time, so one bad or oversized batch fails alone; reads go to a small pool of their own, so a
retrieval never waits behind a batch being fsynced. A cancelled awaiter does not cancel the call
already running in its thread: a batch whose ``put_batch`` was cancelled may still be stored, but
the caller, having no answer, must not treat it as acknowledged.
"""

from __future__ import annotations

import asyncio
import collections
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from operator_node.health import Health, ServiceStatus
from operator_node.store.errors import StoreClosedError, StoreError
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

STORE_SERVICE_ID = "store"
# At most this many batches share one commit (a bound on a group's size and latency).
MAX_GROUP_BATCHES = 16
DEFAULT_READ_THREADS = 4
_T = TypeVar("_T")


@dataclass
class _PendingPut:
    """A batch waiting for the writer, and the caller's future for its answer."""

    batch: BatchWrite
    now: float | None
    future: asyncio.Future[bool]

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


class AsyncStore:
    """Awaitable wrappers around a :class:`ChunkStore`; owns the store and closes it."""

    def __init__(self, store: ChunkStore, *, read_threads: int = DEFAULT_READ_THREADS) -> None:
        """Wrap ``store``; reads use ``read_threads`` threads, writes one."""
        self._store = store
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="store-write")
        self._readers = ThreadPoolExecutor(read_threads, thread_name_prefix="store-read")
        self._closed = False
        self._puts: collections.deque[_PendingPut] = collections.deque()

    @property
    def store(self) -> ChunkStore:
        """The wrapped synchronous store (for code that already runs in a thread)."""
        return self._store

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
        """:meth:`ChunkStore.put_batch` on the writer thread; durable when it returns.

        Committed together with any other batches waiting for the writer (see the module doc).
        """
        if self._closed:
            raise StoreClosedError("the chunk store is closed")
        loop = asyncio.get_running_loop()
        pending = _PendingPut((batch_header_hash, batch_header, blobs), now, loop.create_future())
        self._puts.append(pending)
        # This drain finds our batch still queued, or runs after the drain that took it.
        await self._run(self._writer, self._drain_puts)
        return await pending.future

    def _put_group(self, group: list[_PendingPut]) -> list[bool] | None:
        try:
            return self._store.put_batches([p.batch for p in group], now=group[0].now)
        except Exception:  # noqa: BLE001 - each batch is then retried alone, with its own error
            return None

    def _drain_puts(self) -> None:
        """On the writer thread: commit every queued batch (up to a group's limit) at once."""
        if not self._puts:
            return
        group = [self._puts.popleft()]
        # Batches given the same expiry clock (None: the store's) can share a commit.
        while self._puts and len(group) < MAX_GROUP_BATCHES and self._puts[0].now == group[0].now:
            group.append(self._puts.popleft())
        if len(group) > 1:
            results = self._put_group(group)
            if results is not None:
                for pending, result in zip(group, results, strict=True):
                    pending.resolve(result, None)
                return
        for pending in group:
            try:
                result = self._store.put_batch(*pending.batch, now=pending.now)
            except Exception as exc:  # noqa: BLE001 - handed to the caller's future
                pending.resolve(False, exc)
            else:
                pending.resolve(result, None)

    async def delete_expired(self, now: float, max_batches: int) -> ExpiredBatches:
        """:meth:`ChunkStore.delete_expired` on the writer thread."""
        return await self._run(
            self._writer, functools.partial(self._store.delete_expired, now, max_batches)
        )

    async def get_chunks(self, batch_header_hash: BytesLike, blob_index: int) -> ChunkSet | None:
        """:meth:`ChunkStore.get_chunks` on a reader thread."""
        call = functools.partial(self._store.get_chunks, batch_header_hash, blob_index)
        return await self._run(self._readers, call)

    async def get_blob_header(self, batch_header_hash: BytesLike, blob_index: int) -> bytes | None:
        """:meth:`ChunkStore.get_blob_header` on a reader thread."""
        call = functools.partial(self._store.get_blob_header, batch_header_hash, blob_index)
        return await self._run(self._readers, call)

    async def get_batch(self, batch_header_hash: BytesLike) -> StoredBatch | None:
        """:meth:`ChunkStore.get_batch` on a reader thread."""
        call = functools.partial(self._store.get_batch, batch_header_hash)
        return await self._run(self._readers, call)

    async def has_batch(self, batch_header_hash: BytesLike) -> bool:
        """:meth:`ChunkStore.has_batch` on a reader thread."""
        call = functools.partial(self._store.has_batch, batch_header_hash)
        return await self._run(self._readers, call)

    async def stats(self) -> StoreStats:
        """:meth:`ChunkStore.stats` on a reader thread."""
        return await self._run(self._readers, self._store.stats)

    async def close(self) -> None:
        """Let queued calls finish, then close the store. Later calls raise StoreClosedError."""
        self._closed = True

        def shut_down() -> None:
            self._writer.shutdown(wait=True)
            self._readers.shutdown(wait=True)
            self._store.close()

        await asyncio.to_thread(shut_down)


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
    read_threads: int = DEFAULT_READ_THREADS,
) -> AsyncStore:
    """Open the LMDB store in a thread and report it in ``health`` (Up, or Down and re-raise).

    Registers the "store" service if it is not yet registered. Raises the StoreError that
    prevented opening (StoreFormatError, StoreLockedError, ...).
    """
    if health.get_service(STORE_SERVICE_ID) is None:
        register_store_health(health)
    try:
        store = await asyncio.to_thread(
            LmdbStore, path, store_duration=store_duration, max_size=max_size
        )
    except StoreError:
        health.set_status(STORE_SERVICE_ID, ServiceStatus.DOWN)
        raise
    health.set_status(STORE_SERVICE_ID, ServiceStatus.UP)
    return AsyncStore(store, read_threads=read_threads)
