"""Erasure codes of the node, the disperser and the retriever: Reed-Solomon, fast.

``Codec(k, n)`` encodes a blob into n chunks and rebuilds it from any k of them, over GF(2^8)
(reedsolo's code, n <= 255) or, with ``field=16``, over GF(2^16) (Leopard's code, n <= 65,535).
The arithmetic runs in C extensions with run-time CPU dispatch (GFNI, AVX2, SSSE3, scalar); GF(2^8)
falls back to reedsolo when its extension is missing. See ``codec`` for the exact codes and layout.
"""

from operator_node.erasure.codec import (
    BACKEND_ENV,
    BACKENDS,
    CHUNK_ALIGN,
    FIELDS,
    MAX_CHUNKS,
    Codec,
    available_backends,
    cached_codec,
    chunk_length,
    field_available,
    select_backend,
)
from operator_node.erasure.errors import (
    BackendUnavailableError,
    BlobLengthError,
    ChunkIndexError,
    ChunkLengthError,
    ChunkTypeError,
    CodecParameterError,
    DuplicateIndexError,
    ErasureError,
    NotEnoughChunksError,
)

__all__ = [
    "BACKENDS",
    "BACKEND_ENV",
    "CHUNK_ALIGN",
    "FIELDS",
    "MAX_CHUNKS",
    "BackendUnavailableError",
    "BlobLengthError",
    "ChunkIndexError",
    "ChunkLengthError",
    "ChunkTypeError",
    "Codec",
    "CodecParameterError",
    "DuplicateIndexError",
    "ErasureError",
    "NotEnoughChunksError",
    "available_backends",
    "cached_codec",
    "chunk_length",
    "field_available",
    "select_backend",
]
