"""Errors of the erasure codec. Each names what was wrong with the input; none leaves state."""

from __future__ import annotations

from operator_node.errors import OperatorNodeError


class ErasureError(OperatorNodeError):
    """Base class of every error the erasure codec raises on purpose."""


class CodecParameterError(ErasureError, ValueError):
    """k, n or the backend name is invalid (1 <= k < n <= 255; a known backend)."""


class BackendUnavailableError(ErasureError):
    """The requested backend cannot run here: the CPU lacks its instructions or it was not built."""


class ChunkTypeError(ErasureError, TypeError):
    """A blob, chunk, mapping or index is not of an accepted type (bytes-like, Mapping, int)."""


class ChunkIndexError(ErasureError, IndexError):
    """A chunk index is negative or not below n."""


class DuplicateIndexError(ErasureError):
    """The same chunk index was given twice."""


class NotEnoughChunksError(ErasureError):
    """Fewer than k distinct chunks were given, so the blob cannot be rebuilt."""


class ChunkLengthError(ErasureError):
    """Chunks differ in length, or their length is not a positive multiple of 64."""


class BlobLengthError(ErasureError):
    """A blob is empty, or a decoded length is not in 1..k * chunk length."""
