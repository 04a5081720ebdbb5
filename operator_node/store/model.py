"""The chunk store's interface and the values that cross it.

The store is protocol-agnostic: batch and blob headers are opaque bytes produced by
``operator_node.protocol``; the store only keys them by batch header hash and blob index.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeAlias

# Anything the store accepts as bytes without copying it first.
BytesLike: TypeAlias = bytes | bytearray | memoryview


@dataclass(frozen=True)
class StoredBlob:
    """One blob of a batch as this node stores it.

    ``header`` is the blob's canonical header bytes; ``chunks`` maps chunk index to chunk bytes
    for the chunks assigned to this node (the union over its quorums, so indices need not be
    contiguous). A blob may carry no chunks: its header is still needed for Merkle proofs.
    """

    header: BytesLike
    chunks: Mapping[int, BytesLike]


# One batch to write: (batch header hash, batch header, blobs), as put_batch takes them.
BatchWrite: TypeAlias = tuple[BytesLike, BytesLike, Sequence["StoredBlob"]]


@dataclass(frozen=True)
class ChunkSet:
    """This node's chunks of one blob, as read back from the store.

    ``chunks[i]`` is a zero-copy memoryview of ``buffer`` holding chunk ``indices[i]``; indices
    are ascending. ``buffer`` is the single copy made out of the store's read transaction.
    """

    indices: tuple[int, ...]
    chunks: tuple[memoryview, ...]
    buffer: bytes

    def __len__(self) -> int:
        """Number of chunks."""
        return len(self.indices)

    def items(self) -> Iterator[tuple[int, memoryview]]:
        """(chunk index, chunk bytes) pairs in ascending index order."""
        return zip(self.indices, self.chunks, strict=True)

    @property
    def nbytes(self) -> int:
        """Total size of the chunks' bytes."""
        return sum(len(chunk) for chunk in self.chunks)


@dataclass(frozen=True)
class StoredBatch:
    """A stored batch's header and all its blob headers, in blob-index order."""

    header: bytes
    blob_headers: tuple[bytes, ...]
    expiry: float


@dataclass(frozen=True)
class StoreStats:
    """Size figures of the store, as reported to metrics.

    ``used_bytes`` counts LMDB's pages holding data and the segment files; ``free_bytes`` is how
    much more the store may grow: the smaller of what ``max_size`` allows and what the disk (plus
    LMDB's own free pages) can hold. ``map_size`` is the current LMDB map size, ``file_bytes``
    the size of LMDB's data file and the segment files, ``disk_free_bytes`` what the filesystem
    holding the store has free.
    """

    used_bytes: int
    entries: int
    free_bytes: int
    batches: int
    map_size: int
    file_bytes: int
    max_size: int
    disk_free_bytes: int


@dataclass(frozen=True)
class ExpiredBatches:
    """What one call to ``delete_expired`` removed."""

    batches: int
    freed_bytes: int


class ChunkStore(Protocol):
    """The narrow, synchronous store interface. Every call may block on disk I/O.

    Callers on the event loop go through :class:`operator_node.store.AsyncStore`.
    """

    def put_batch(
        self,
        batch_header_hash: BytesLike,
        batch_header: BytesLike,
        blobs: Sequence[StoredBlob],
        *,
        now: float | None = None,
    ) -> bool:
        """Store a batch durably; True if written, False if it was already stored."""
        ...

    def put_batches(self, batches: Sequence[BatchWrite], *, now: float | None = None) -> list[bool]:
        """Store several batches durably in one commit, all or none; put_batch's answer for each."""
        ...

    def get_chunks(self, batch_header_hash: BytesLike, blob_index: int) -> ChunkSet | None:
        """This node's chunks of one blob, or None if the blob is not stored."""
        ...

    def get_blob_header(self, batch_header_hash: BytesLike, blob_index: int) -> bytes | None:
        """One blob's header bytes, or None if not stored."""
        ...

    def get_batch(self, batch_header_hash: BytesLike) -> StoredBatch | None:
        """The batch header and every blob header of a batch, or None if not stored."""
        ...

    def has_batch(self, batch_header_hash: BytesLike) -> bool:
        """Whether the batch is stored."""
        ...

    def list_batches(self) -> list[tuple[bytes, float]]:
        """(batch header hash, expiry) of every stored batch, soonest expiry first."""
        ...

    def check(self) -> list[str]:
        """Every inconsistency of the index and the chunk values found by a full scan."""
        ...

    def quarantine_batch(self, batch_header_hash: BytesLike) -> list[Path]:
        """Take a damaged batch out, keeping copies of its segments; the copies' paths."""
        ...

    def delete_expired(self, now: float, max_batches: int) -> ExpiredBatches:
        """Delete up to ``max_batches`` batches whose expiry is at or before ``now``."""
        ...

    def stats(self) -> StoreStats:
        """The store's current size figures."""
        ...

    def close(self) -> None:
        """Release the store; later calls raise StoreClosedError."""
        ...
