"""Erasure code of the node, the disperser and the retriever: reedsolo's Reed-Solomon, fast.

``Codec(k, n)`` encodes a blob into n chunks and rebuilds it from any k of them; the arithmetic
runs in a C extension with run-time CPU dispatch (GFNI, AVX2, SSSE3, scalar) and falls back to
reedsolo when the extension is missing. See ``codec`` for the exact code and chunk layout.
"""

from operator_node.erasure.codec import (
    BACKEND_ENV,
    BACKENDS,
    CHUNK_ALIGN,
    Codec,
    available_backends,
    cached_codec,
    chunk_length,
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
    "select_backend",
]
