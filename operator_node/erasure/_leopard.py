"""The GF(2^16) code as a backend: Leopard's field and additive FFT, as reed-solomon-simd has it.

Chunk i < k is data row i of the blob zero-padded to k * L bytes (as for GF(2^8)); chunk k + j
is recovery shard j of ``reed_solomon_leopard.encode(data_rows, n - k)``, bit for bit. The
arithmetic is ``_gf16``'s, which works in tiles that stay in L2 and takes O(n log n) per column.
"""

from __future__ import annotations

from collections.abc import Sequence

from operator_node.erasure import _gf16

MAX_CHUNKS = 65535
"""n is below the field's 65,536 elements; some (k, n) below it are still unsupported."""


def supports(k: int, n: int) -> bool:
    """Whether the code has k originals and n - k recovery chunks (reed-solomon-simd's limits)."""
    return 1 <= k < n <= MAX_CHUNKS and _gf16.supports(k, n - k)


class LeopardBackend:
    """One (k, n) code run by one ``_gf16`` kernel (``gfni512``, ``avx2``, ``scalar``, ...)."""

    def __init__(self, name: str, kernel: str, k: int, n: int) -> None:
        self.name = name
        self.kernel = kernel
        self._k = k
        self._n = n

    def encode(self, blob: memoryview, length: int) -> list[memoryview]:
        """Return n chunks: views of blob where it covers a row whole, else of new bytes."""
        k = self._k
        full = min(len(blob) // length, k)
        data = [blob[i * length : (i + 1) * length] for i in range(full)]
        if full < k:
            tail = bytearray((k - full) * length)
            tail[: len(blob) - full * length] = blob[full * length :]
            rest = memoryview(bytes(tail))
            data += [rest[i * length : (i + 1) * length] for i in range(k - full)]
        parity = memoryview(_gf16.encode(self.kernel, data, self._n - k))
        return data + [parity[j * length : (j + 1) * length] for j in range(self._n - k)]

    def decode(
        self, rows: Sequence[int], chunks: Sequence[memoryview], length: int, size: int
    ) -> bytes:
        """Return the blob's first `size` bytes: the data rows received, the others rebuilt."""
        if rows[-1] < self._k and len(rows) == self._k:  # every data row is here
            return b"".join(chunks)[:size]
        data = _gf16.decode(self.kernel, self._k, self._n - self._k, rows, chunks)
        return data if size == len(data) else data[:size]

    def reconstruct(
        self, rows: Sequence[int], chunks: Sequence[memoryview], length: int, want: Sequence[int]
    ) -> list[memoryview]:
        """Rebuild the data rows, then encode them again if a recovery chunk is wanted."""
        k = self._k
        data = memoryview(_gf16.decode(self.kernel, k, self._n - k, rows, chunks))
        parity = None
        if any(w >= k for w in want):
            originals = [data[i * length : (i + 1) * length] for i in range(k)]
            parity = memoryview(_gf16.encode(self.kernel, originals, self._n - k))
        out = []
        for w in want:
            if w < k:
                out.append(data[w * length : (w + 1) * length])
            else:
                assert parity is not None
                out.append(parity[(w - k) * length : (w - k + 1) * length])
        return out
