"""Keys and values of the chunk store, encoded and decoded (pure functions, no I/O).

Integers are big-endian so that LMDB's bytewise key order is numeric order. Layout:

- ``batches``      batch hash (32) -> expiry ms u64 | blob count u32 | stored bytes u64 | header
- ``blob_headers`` batch hash (32) | blob index u32 -> blob header bytes
- ``chunk_refs``   batch hash (32) | blob index u32 -> segment id u64 | offset u64 | length u32
                   of the blob's chunk value in a segment file (see ``store.segments``)
- ``chunks``       batch hash (32) | blob index u32 -> chunk value (format 1 stores only: the
                   chunk value itself; still read, never written)
- ``segments``     segment id u64 -> number of ``chunk_refs`` into it, u64
- ``expiry``       expiry ms u64 | batch hash (32) -> empty

A chunk value is chunk count u32 | count x (chunk index u32, chunk length u32) | chunk bytes in
index order. It keeps one blob's chunks together so that a retrieval is one lookup and one read,
after which each chunk is a memoryview slice of what was read.
"""

from __future__ import annotations

import itertools
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from operator_node.store.errors import StoreInputError
from operator_node.store.model import BytesLike, ChunkSet, StoredBlob

HASH_SIZE = 32
_U32_LIMIT = 1 << 32
_BATCH_FIXED = struct.Struct(">QIQ")
_U32 = struct.Struct(">I")
_EXPIRY_PREFIX = struct.Struct(">Q")
_U64 = struct.Struct(">Q")
_REF = struct.Struct(">QQI")


@dataclass(frozen=True)
class BatchRecord:
    """The decoded value of a ``batches`` entry."""

    expiry_ms: int
    blob_count: int
    stored_bytes: int
    header: bytes


def validate_hash(batch_header_hash: BytesLike) -> bytes:
    """The hash as bytes; raises StoreInputError unless it is 32 bytes."""
    if not isinstance(batch_header_hash, bytes | bytearray | memoryview):
        raise StoreInputError(f"batch header hash must be bytes, not {type(batch_header_hash)}")
    raw = bytes(batch_header_hash)
    if len(raw) != HASH_SIZE:
        raise StoreInputError(f"batch header hash must be {HASH_SIZE} bytes, got {len(raw)}")
    return raw


def validate_index(value: int, what: str) -> int:
    """``value`` if it is an int in [0, 2**32); raises StoreInputError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _U32_LIMIT:
        raise StoreInputError(f"{what} must be an integer in [0, 2**32), got {value!r}")
    return value


def to_ms(seconds: float) -> int:
    """Seconds to whole milliseconds, rounded down (so ``now`` never runs ahead of itself)."""
    if not math.isfinite(seconds) or seconds < 0:
        raise StoreInputError(f"time must be a finite, non-negative number, got {seconds!r}")
    return math.floor(seconds * 1000)


def blob_key(batch_hash: bytes, blob_index: int) -> bytes:
    """Key of a blob in ``blob_headers`` and ``chunks``."""
    return batch_hash + _U32.pack(blob_index)


def expiry_key(expiry_ms: int, batch_hash: bytes) -> bytes:
    """Key of a batch in the ``expiry`` index."""
    return _EXPIRY_PREFIX.pack(expiry_ms) + batch_hash


def split_expiry_key(key: BytesLike) -> tuple[int, bytes]:
    """(expiry ms, batch hash) of an ``expiry`` key."""
    (expiry_ms,) = _EXPIRY_PREFIX.unpack_from(key, 0)
    return expiry_ms, bytes(key[_EXPIRY_PREFIX.size :])


@dataclass(frozen=True)
class ChunkRef:
    """Where a blob's chunk value lies: ``length`` bytes at ``offset`` of segment ``segment``."""

    segment: int
    offset: int
    length: int


def encode_ref(ref: ChunkRef) -> bytes:
    """Value of a ``chunk_refs`` entry."""
    return _REF.pack(ref.segment, ref.offset, ref.length)


def decode_ref(value: BytesLike) -> ChunkRef:
    """Decode a ``chunk_refs`` value; raises ValueError if it has the wrong length."""
    if len(value) != _REF.size:
        raise ValueError(f"a chunk reference is {_REF.size} bytes, not {len(value)}")
    return ChunkRef(*_REF.unpack(value))


def u64(value: int) -> bytes:
    """A ``segments`` key or value."""
    return _U64.pack(value)


def read_u64(raw: BytesLike) -> int:
    """Decode a ``segments`` key or value."""
    (value,) = _U64.unpack(raw)
    return int(value)


def encode_batch(record: BatchRecord) -> bytes:
    """Value of a ``batches`` entry."""
    fixed = _BATCH_FIXED.pack(record.expiry_ms, record.blob_count, record.stored_bytes)
    return fixed + record.header


def batch_value_size(header_len: int) -> int:
    """Length of the ``batches`` value for a header of ``header_len`` bytes."""
    return _BATCH_FIXED.size + header_len


def decode_batch(value: BytesLike) -> BatchRecord:
    """Decode a ``batches`` value (copies only the header bytes)."""
    expiry_ms, blob_count, stored_bytes = _BATCH_FIXED.unpack_from(value, 0)
    return BatchRecord(expiry_ms, blob_count, stored_bytes, bytes(value[_BATCH_FIXED.size :]))


def decode_batch_expiry(value: BytesLike) -> tuple[int, int, int]:
    """(expiry ms, blob count, stored bytes) of a ``batches`` value, without copying the header."""
    expiry_ms, blob_count, stored_bytes = _BATCH_FIXED.unpack_from(value, 0)
    return expiry_ms, blob_count, stored_bytes


def chunks_value_size(chunks: dict[int, memoryview]) -> int:
    """Length of the ``chunks`` value that :func:`encode_chunks_into` writes."""
    return _U32.size * (1 + 2 * len(chunks)) + sum(view.nbytes for view in chunks.values())


def encode_chunks_into(target: memoryview, chunks: dict[int, memoryview]) -> int:
    """Write the ``chunks`` value (index table, then chunks by ascending index) into ``target``.

    Returns its length. Writing into a reused buffer, rather than joining into a new bytes
    object, spares a fresh multi-megabyte allocation and its page faults on every batch.
    """
    order = sorted(chunks)
    table: list[int] = []
    for index in order:
        table += (index, chunks[index].nbytes)
    _U32.pack_into(target, 0, len(order))
    struct.pack_into(f">{len(table)}I", target, _U32.size, *table)
    offset = _U32.size * (1 + len(table))
    for index in order:
        end = offset + chunks[index].nbytes
        target[offset:end] = chunks[index]
        offset = end
    return offset


def encode_chunks(chunks: dict[int, memoryview]) -> bytes:
    """The ``chunks`` value as a new bytes object."""
    target = bytearray(chunks_value_size(chunks))
    encode_chunks_into(memoryview(target), chunks)
    return bytes(target)


def decode_chunks(value: bytes) -> ChunkSet:
    """Decode a ``chunks`` value into zero-copy views of ``value``."""
    (count,) = _U32.unpack_from(value, 0)
    table = struct.unpack_from(f">{2 * count}I", value, _U32.size)
    view = memoryview(value)
    offset = _U32.size * (1 + 2 * count)
    views: list[memoryview] = []
    for length in table[1::2]:
        views.append(view[offset : offset + length])
        offset += length
    return ChunkSet(indices=tuple(table[0::2]), chunks=tuple(views), buffer=value)


def _byte_view(chunk: object, what: str) -> memoryview:
    """A flat byte view of ``chunk`` (so lengths are byte counts whatever the buffer's format)."""
    if not isinstance(chunk, bytes | bytearray | memoryview):
        raise StoreInputError(f"{what} must be bytes, not {type(chunk).__name__}")
    view = memoryview(chunk)
    if not view.c_contiguous:
        raise StoreInputError(f"{what} must be a contiguous buffer")
    if view.nbytes >= _U32_LIMIT:
        raise StoreInputError(f"{what} is too large ({view.nbytes} bytes)")
    return view.cast("B")


def chunks_value_is_consistent(value: BytesLike) -> bool:
    """Whether a chunk value's table is complete and its lengths add up to the value."""
    return chunks_head_is_consistent(value, len(value))


def chunks_head_size(value_start: BytesLike) -> int | None:
    """How many bytes a chunk value's count and table take, from its first 4 (None if fewer)."""
    if len(value_start) < _U32.size:
        return None
    (count,) = _U32.unpack_from(value_start, 0)
    return int(_U32.size * (1 + 2 * count))


def chunks_head_is_consistent(head: BytesLike, length: int) -> bool:
    """Whether a chunk value of ``length`` bytes that starts with ``head`` is well formed.

    ``head`` needs to hold only the count and the table (see :func:`chunks_head_size`).
    """
    size = chunks_head_size(head)
    if size is None or len(head) < size or length < size:
        return False
    count = (size - _U32.size) // (2 * _U32.size)
    table = struct.unpack_from(f">{2 * count}I", head, _U32.size)
    indices = table[0::2]
    ascending = all(a < b for a, b in itertools.pairwise(indices))
    return ascending and size + sum(table[1::2]) == length


def validate_blobs(blobs: Sequence[StoredBlob]) -> list[tuple[bytes, dict[int, memoryview]]]:
    """Check every blob's types and indices; returns (header, chunks by index) per blob.

    Raises StoreInputError on an empty batch, a non-bytes header or chunk, or a bad index.
    """
    if not isinstance(blobs, Sequence) or len(blobs) == 0:
        raise StoreInputError("a batch must have at least one blob")
    validate_index(len(blobs) - 1, "blob count")
    checked: list[tuple[bytes, dict[int, memoryview]]] = []
    for position, blob in enumerate(blobs):
        if not isinstance(blob, StoredBlob):
            raise StoreInputError(f"blob {position} is not a StoredBlob")
        if not isinstance(blob.header, bytes | bytearray | memoryview):
            raise StoreInputError(f"blob {position} header must be bytes")
        chunks: dict[int, memoryview] = {}
        for index, chunk in blob.chunks.items():
            validate_index(index, f"blob {position} chunk index")
            chunks[index] = _byte_view(chunk, f"blob {position} chunk {index}")
        checked.append((bytes(blob.header), chunks))
    return checked
