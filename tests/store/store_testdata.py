"""Deterministic test batches for the store tests and the crash-test writer process."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from operator_node.store import LmdbStore, StoredBlob


@dataclass(frozen=True)
class Batch:
    """A batch as the tests put it: header hash, header, and blobs with their chunks."""

    hash: bytes
    header: bytes
    blobs: list[StoredBlob]

    @property
    def chunk_bytes(self) -> int:
        """Total bytes of all chunks."""
        return sum(len(c) for blob in self.blobs for c in blob.chunks.values())


def make_batch(number: int, *, blobs: int = 3, max_chunks: int = 6, chunk_size: int = 256) -> Batch:
    """Batch ``number``: same number, same bytes, in any process.

    Chunk indices are a random sample of 0..254 (not contiguous, not sorted), the last blob of
    a multi-blob batch holds no chunks, and chunk lengths vary around ``chunk_size``.
    """
    rng = random.Random(number)
    stored = []
    for blob_index in range(blobs):
        empty = blobs > 1 and blob_index == blobs - 1
        count = 0 if empty else rng.randint(1, max_chunks)
        length = rng.randint(chunk_size // 2, chunk_size)
        chunks = {index: rng.randbytes(length) for index in rng.sample(range(255), count)}
        stored.append(StoredBlob(rng.randbytes(rng.randint(40, 120)), chunks))
    batch_hash = hashlib.sha256(b"test batch %d" % number).digest()
    return Batch(batch_hash, rng.randbytes(36), stored)


def assert_stored(store: LmdbStore, batch: Batch) -> None:
    """Every part of ``batch`` reads back exactly from ``store``."""
    assert store.has_batch(batch.hash)
    stored = store.get_batch(batch.hash)
    assert stored is not None
    assert stored.header == batch.header
    assert list(stored.blob_headers) == [bytes(blob.header) for blob in batch.blobs]
    for blob_index, blob in enumerate(batch.blobs):
        assert store.get_blob_header(batch.hash, blob_index) == bytes(blob.header)
        chunk_set = store.get_chunks(batch.hash, blob_index)
        assert chunk_set is not None
        assert chunk_set.indices == tuple(sorted(blob.chunks))
        assert {i: bytes(c) for i, c in chunk_set.items()} == {
            i: bytes(c) for i, c in blob.chunks.items()
        }
    assert store.get_chunks(batch.hash, len(batch.blobs)) is None
