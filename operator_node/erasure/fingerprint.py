"""Homomorphic fingerprints of GF(2^8) chunks (profile FP-v1), computed fast.

The field: K = GF(2^8)[y] / (y^31 + y^3 + 1), with GF(2^8) the codec's field (0x11d). The
polynomial is irreducible over GF(2) and its degree, 31, is coprime to 8, so it stays irreducible
over GF(2^8) and K has 2^248 elements (tests/erasure/test_erasure_fingerprint.py checks both).
A K element is 31 bytes, the coefficients of y^0 .. y^30.

The fingerprint of a chunk c of L bytes at a point r of K:

- S = 64 * ceil(L / (31 * 64)); region i (i < 31) is c[i*S : (i+1)*S], zero past the chunk's end;
- lane w (w < S) is the K element E_w = sum_i region_i[w] * y^i;
- FP_r(c) = sum_w E_w * r^w.

FP_r is GF(2^8)-linear in c (so the fingerprints of the n chunks of a codeword are a codeword of
the same code), and for a non-zero chunk it is a non-zero polynomial in r of degree below S, so it
vanishes at a random r with probability below S / 2^248. A fingerprint row is 64 bytes: FP at each
point (31 bytes each, at most two), then zeros.

:func:`fingerprints` evaluates it by folding, lanes[w] += r^h * lanes[w + h], in the C kernels of
the codec (GIL released), or portably with ``bytes.translate`` when the extension is missing.
:func:`reference_fingerprint` is the definition written out, slow, for tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from operator_node.erasure._gf import gf_mul
from operator_node.erasure.codec import _KERNELS, select_backend

try:
    from operator_node.erasure import _rs
except ImportError:  # pragma: no cover - the extension is built by `pip install -e .`
    _rs = None  # type: ignore[assignment]

DEGREE = 31
"""Degree of K over GF(2^8): a K element is this many bytes."""

ROW = 64
"""Bytes of one fingerprint row (at most two points' fingerprints, then zeros)."""

MAX_POINTS = ROW // DEGREE

Buffer = bytes | bytearray | memoryview


# --- K arithmetic (small, once per blob) ------------------------------------------------------


def k_mul(a: Sequence[int], b: Sequence[int]) -> list[int]:
    """The product of two K elements (31 coefficients each, y^0 first)."""
    t = [0] * (2 * DEGREE - 1)
    for i, x in enumerate(a):
        if x:
            for j, z in enumerate(b):
                if z:
                    t[i + j] ^= gf_mul(x, z)
    for m in range(2 * DEGREE - 2, DEGREE - 1, -1):  # y^31 = y^3 + 1
        t[m - DEGREE] ^= t[m]
        t[m - DEGREE + 3] ^= t[m]
    return t[:DEGREE]


def k_pow(r: Sequence[int], e: int) -> list[int]:
    """r^e in K."""
    acc, base = [1] + [0] * (DEGREE - 1), list(r)
    while e:
        if e & 1:
            acc = k_mul(acc, base)
        base = k_mul(base, base)
        e >>= 1
    return acc


def region_length(length: int) -> int:
    """S: bytes per region (lanes) of a chunk of ``length`` bytes."""
    return -(-length // (DEGREE * ROW)) * ROW


def fold_schedule(lanes: int) -> list[int]:
    """The fold distances h from ``lanes`` lanes down to one: halves rounded up to whole 64-byte
    vectors while above 64 lanes, then plain halves."""
    out = []
    while lanes > 1:
        h = -(-(lanes // 2) // ROW) * ROW if lanes > ROW else lanes // 2
        out.append(h)
        lanes = h
    return out


# --- the fingerprint ---------------------------------------------------------------------------


def reference_fingerprint(chunk: Buffer, r: Sequence[int]) -> bytes:
    """FP_r(chunk) from the definition (Horner over the lanes, highest first). Slow: tests."""
    data = bytes(chunk)
    s = region_length(len(data))
    acc = [0] * DEGREE
    for w in range(s - 1, -1, -1):
        lane = [data[i * s + w] if i * s + w < len(data) else 0 for i in range(DEGREE)]
        acc = [x ^ y for x, y in zip(k_mul(acc, r), lane, strict=True)]
    return bytes(acc)


def fingerprints(chunks: Sequence[Buffer], length: int, points: bytes) -> bytes:
    """One 64-byte row per chunk: FP at each point of ``points`` (31 bytes each, 1 or 2).

    Every chunk must be ``length`` bytes. Runs in the codec's C kernels with the GIL released
    when the extension is there, else in Python.
    """
    if not 1 <= len(points) // DEGREE <= MAX_POINTS or len(points) % DEGREE:
        raise ValueError("points must be 31 or 62 bytes")
    if length <= 0:
        raise ValueError("the chunk length must be positive")
    if any(len(chunk) != length for chunk in chunks):
        raise ValueError(f"every chunk must be {length} bytes")
    kernel = _native_kernel()
    if kernel is not None:
        return _rs.fingerprint(kernel, list(chunks), length, points)
    return _fingerprints_python(chunks, length, points)


@cache
def _native_kernel() -> str | None:
    if _rs is None:
        return None
    name = select_backend()
    if name == "reedsolo":
        return None
    kernels = _rs.kernels()
    return next(i for i in _KERNELS[name] if i in kernels)


def _matrix(c: Sequence[int]) -> list[list[int]]:
    """Multiplication by c as a matrix: out_i = sum_j m[i][j] * in_j (column j = y^j * c)."""
    columns, v = [], list(c)
    for _ in range(DEGREE):
        columns.append(v)
        v = [v[-1], *v[:-1]]
        v[3] ^= v[0]
    return [[columns[j][i] for j in range(DEGREE)] for i in range(DEGREE)]


@cache
def _translation(c: int) -> bytes:
    return bytes(gf_mul(c, x) for x in range(256))


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).to_bytes(len(a), "little")


def _fingerprints_python(chunks: Sequence[Buffer], length: int, points: bytes) -> bytes:
    """The same fold as the C code, one region product at a time with ``bytes.translate``."""
    s = region_length(length)
    schedule = fold_schedule(s)
    rows = [bytearray(ROW) for _ in chunks]
    for p in range(len(points) // DEGREE):
        r = list(points[p * DEGREE : (p + 1) * DEGREE])
        matrices = [_matrix(k_pow(r, h)) for h in schedule]
        for row, chunk in zip(rows, chunks, strict=True):
            padded = bytes(chunk) + bytes(DEGREE * s - length)
            regions = [padded[i * s : (i + 1) * s] for i in range(DEGREE)]
            width = s
            for h, m in zip(schedule, matrices, strict=True):
                count = width - h
                his = [region[h:width] for region in regions]
                new = []
                for i in range(DEGREE):
                    acc = regions[i][:count]
                    for j in range(DEGREE):
                        if m[i][j]:
                            acc = _xor(acc, his[j].translate(_translation(m[i][j])))
                    new.append(acc + regions[i][count:h])
                regions = new
                width = h
            row[p * DEGREE : (p + 1) * DEGREE] = bytes(region[0] for region in regions)
    return b"".join(rows)
