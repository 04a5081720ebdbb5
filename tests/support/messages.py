"""Small valid protocol messages for tests: random chunks, real proofs and roots."""

from __future__ import annotations

import random

from operator_node.protocol import (
    BatchHeader,
    BlobChunks,
    BlobHeader,
    QuorumParams,
    StoreChunksRequest,
    compute_batch_root,
    compute_chunk_tree,
    select_blob_chunks,
)

DEFAULT_QUORUMS = (QuorumParams(0, 33, 55), QuorumParams(1, 40, 60))


def make_blob(
    rng: random.Random,
    *,
    k: int = 3,
    n: int = 6,
    chunk_length: int = 16,
    indices: tuple[int, ...] = (1, 4),
    quorums: tuple[QuorumParams, ...] = DEFAULT_QUORUMS,
) -> BlobChunks:
    """Return the chunks at ``indices``, with proofs, of a blob made of random chunks."""
    chunks = [rng.randbytes(chunk_length) for _ in range(n)]
    tree = compute_chunk_tree(chunks)
    header = BlobHeader(
        commitment=tree.root,
        data_length=k * chunk_length - 5,
        k=k,
        n=n,
        chunk_length=chunk_length,
        quorums=quorums,
        account=rng.randbytes(20),
    )
    return select_blob_chunks(header, tree, chunks, indices)


def make_request(rng: random.Random, *blob_indices: tuple[int, ...]) -> StoreChunksRequest:
    """Return a valid request with one blob per entry of ``blob_indices`` (default two blobs)."""
    blobs = tuple(make_blob(rng, indices=ix) for ix in (blob_indices or ((1, 4), (0, 2, 5))))
    root = compute_batch_root([blob.header for blob in blobs])
    return StoreChunksRequest(BatchHeader(root, 1234), blobs)
