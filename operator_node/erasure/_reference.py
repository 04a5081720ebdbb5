"""reedsolo itself as a backend: the reference the C kernels must match, column by column.

Pure Python and slow (each byte column is one reedsolo codeword); it is what runs when the C
extension could not be built, and what CI checks the kernels against.
"""

from __future__ import annotations

from collections.abc import Sequence

import reedsolo


class ReedsoloBackend:
    """One (k, n) code computed by ``reedsolo.RSCodec(nsym=n - k)`` one column at a time."""

    name = "reedsolo"

    def __init__(self, k: int, n: int) -> None:
        self._k = k
        self._n = n
        self._rs = reedsolo.RSCodec(nsym=n - k)

    def encode(self, blob: memoryview, length: int) -> list[memoryview]:
        """Encode every column of the padded blob; return views of one bytes object."""
        k, n = self._k, self._n
        out = bytearray(n * length)
        out[: len(blob)] = blob
        padded = bytes(out[: k * length])
        for c in range(length):
            out[k * length + c :: length] = self._rs.encode(padded[c::length])[k:]
        view = memoryview(bytes(out))
        return [view[i * length : (i + 1) * length] for i in range(n)]

    def decode(
        self, rows: Sequence[int], chunks: Sequence[memoryview], length: int, size: int
    ) -> bytes:
        """Decode every column from its erasures; return the data rows cut to size."""
        out = bytearray(self._k * length)
        for c, codeword in enumerate(self._codewords(rows, chunks, length)):
            out[c::length] = codeword[: self._k]
        return bytes(out[:size])

    def reconstruct(
        self, rows: Sequence[int], chunks: Sequence[memoryview], length: int, want: Sequence[int]
    ) -> list[memoryview]:
        """Decode every column to its whole codeword and pick the wanted rows."""
        out = bytearray(len(want) * length)
        for c, codeword in enumerate(self._codewords(rows, chunks, length)):
            out[c::length] = bytes(codeword[w] for w in want)
        view = memoryview(bytes(out))
        return [view[i * length : (i + 1) * length] for i in range(len(want))]

    def _codewords(
        self, rows: Sequence[int], chunks: Sequence[memoryview], length: int
    ) -> list[bytearray]:
        """Return the n-byte codeword of each column, every row not in `rows` an erasure."""
        received = b"".join(chunks)
        present = set(rows)
        erased = [p for p in range(self._n) if p not in present]
        result = []
        for c in range(length):
            codeword = bytearray(self._n)
            for row, byte in zip(rows, received[c::length], strict=True):
                codeword[row] = byte
            _, full, _ = self._rs.decode(codeword, erase_pos=erased, only_erasures=True)
            result.append(full)
        return result
