"""The interface between the codec's checks and the code that does the arithmetic.

``Codec`` validates every input and picks which k received rows to use; a backend only multiplies.
There are two: the C kernels (``_native``) and reedsolo itself (``_reference``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Backend(Protocol):
    """A systematic Reed-Solomon code over reedsolo's field, for one (k, n)."""

    name: str

    def encode(self, blob: memoryview, length: int) -> list[memoryview]:
        """Return the n chunks of `length` bytes of blob zero-padded to k * length bytes."""
        ...

    def decode(
        self, rows: Sequence[int], chunks: Sequence[memoryview], length: int, size: int
    ) -> bytes:
        """Return the first `size` bytes of the data rows, given k distinct rows, ascending."""
        ...

    def reconstruct(
        self, rows: Sequence[int], chunks: Sequence[memoryview], length: int, want: Sequence[int]
    ) -> list[memoryview]:
        """Return chunks `want` (none of them in rows), given k distinct rows, ascending."""
        ...
