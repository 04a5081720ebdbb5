"""The C kernels as a backend: GF(2^8) matrix products over whole chunks."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from operator_node.erasure import _rs
from operator_node.erasure._gf import generator_matrix, parity_matrix

# Decode plans are cached per erasure pattern; a retriever sees few distinct patterns at a time.
_PLAN_CACHE_SIZE = 64

# (rows received, rows wanted) -> the plan computing the wanted from the received.
_PlanKey = tuple[tuple[int, ...], tuple[int, ...]]


class NativeBackend:
    """One (k, n) code run by one C kernel (``gfni512``, ``avx2``, ``scalar``, ...)."""

    def __init__(self, name: str, kernel: str, k: int, n: int) -> None:
        self.name = name
        self.kernel = kernel
        self._k = k
        self._n = n
        self._generator = generator_matrix(k, n)
        self._parity = parity_matrix(k, n)
        self._encoder = _rs.Plan(kernel, self._parity, n - k, k)
        self._plans: OrderedDict[_PlanKey, _rs.Plan] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, blob: memoryview, length: int) -> list[memoryview]:
        """Return n chunks: views of blob where it covers a row whole, else of one new bytes."""
        full = len(blob) // length
        rest = memoryview(self._encoder.encode(blob, length))
        data = [blob[i * length : (i + 1) * length] for i in range(full)]
        # The new bytes holds the padded data rows the blob does not cover, then the parity rows.
        return data + [rest[i * length : (i + 1) * length] for i in range(self._n - full)]

    def decode(
        self, rows: Sequence[int], chunks: Sequence[memoryview], length: int, size: int
    ) -> bytes:
        """Copy the data rows received and compute the missing ones that hold blob bytes."""
        received = set(rows)
        targets = tuple(i for i in range(self._k) if i not in received and i * length < size)
        present = [
            (r, c) for r, c in zip(rows, chunks, strict=True) if r < self._k and r * length < size
        ]
        if not targets:
            return b"".join(c[: size - r * length] for r, c in present)
        plan = self._plan(tuple(rows), targets)
        return plan.decode(chunks, length, targets, present, size)

    def reconstruct(
        self, rows: Sequence[int], chunks: Sequence[memoryview], length: int, want: Sequence[int]
    ) -> list[memoryview]:
        """Multiply the wanted generator rows, times the received rows' inverse, by the chunks."""
        out = memoryview(self._plan(tuple(rows), tuple(want)).apply(chunks, length))
        return [out[i * length : (i + 1) * length] for i in range(len(want))]

    def _plan(self, rows: tuple[int, ...], want: tuple[int, ...]) -> _rs.Plan:
        """Return the plan computing rows `want` from rows `rows`, cached per pattern."""
        key = (rows, want)
        with self._lock:
            plan = self._plans.get(key)
            if plan is not None:
                self._plans.move_to_end(key)
                return plan
        plan = _rs.Plan(self.kernel, self._coefficients(rows, want), len(want), self._k)
        with self._lock:
            self._plans[key] = plan
            if len(self._plans) > _PLAN_CACHE_SIZE:
                self._plans.popitem(last=False)
        return plan

    def _coefficients(self, rows: tuple[int, ...], want: tuple[int, ...]) -> bytes:
        """Return G[want] x inverse(G[rows]): received rows to wanted rows, row-major."""
        k, g = self._k, self._generator
        inverse = _rs.invert_rows(self._parity, k, rows)
        if all(w < k for w in want):
            return b"".join(inverse[w * k : (w + 1) * k] for w in want)
        wanted = b"".join(g[w * k : (w + 1) * k] for w in want)
        return _rs.multiply(wanted, inverse, len(want), k, k)
