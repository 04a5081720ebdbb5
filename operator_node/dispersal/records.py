"""How a stored batch is laid out in the store's opaque header fields.

The store keeps, per batch, the batch header and, per blob, a record and this node's chunks. The
blob record is the blob's section of the StoreChunks wire encoding without the chunk bytes: the
blob header, the chunk indices and their Merkle multiproof (see ``wire.encode_blob_section`` for
its exact layout and the older one it still reads). Retrieval therefore answers with the very
proof the disperser sent, which the node checked before storing.
"""

from __future__ import annotations

from operator_node.protocol.errors import MalformedRequest
from operator_node.protocol.headers import BatchHeader, BlobHeader
from operator_node.protocol.messages import BlobChunks
from operator_node.protocol.wire import (
    decode_batch_header,
    decode_blob_section,
    encode_batch_header,
    encode_blob_section,
)
from operator_node.store import ChunkSet


def encode_batch_record(header: BatchHeader) -> bytes:
    """The stored form of a batch header."""
    return encode_batch_header(header)


def decode_batch_record(data: bytes) -> BatchHeader:
    """Inverse of :func:`encode_batch_record`; raises MalformedRequest on corrupt data."""
    return decode_batch_header(data)


def encode_blob_record(blob: BlobChunks) -> bytes:
    """The stored form of one blob: header, chunk indices and multiproof (no chunk bytes)."""
    return encode_blob_section(blob)


def decode_blob_header(record: bytes) -> BlobHeader:
    """The blob header of a stored blob record."""
    header, _, _ = decode_blob_section(record)
    return header


def decode_stored_blob(record: bytes, chunk_set: ChunkSet | None) -> BlobChunks:
    """Rebuild this node's :class:`BlobChunks` from a stored record and the stored chunks.

    Raises MalformedRequest if the record and the chunks disagree (a corrupt store).
    """
    header, indices, proof = decode_blob_section(record)
    stored_indices = chunk_set.indices if chunk_set is not None else ()
    chunks = chunk_set.chunks if chunk_set is not None else ()
    if stored_indices != indices:
        raise MalformedRequest("stored chunk indices disagree with the stored blob record")
    return BlobChunks(header=header, indices=indices, proof=proof, chunks=chunks)
