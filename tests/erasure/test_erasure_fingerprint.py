"""FP-v1 fingerprints (operator_node.erasure.fingerprint): the field, the kernels, linearity.

The field facts are checked with polynomial arithmetic over GF(2^8) written here, not with the
module's own K arithmetic; the C kernels are called directly, every one this CPU has, and compared
with the portable fold and with the definition (``reference_fingerprint``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import cache

import pytest

from operator_node.erasure import cached_codec
from operator_node.erasure._gf import gf_mul
from operator_node.erasure.fingerprint import (
    DEGREE,
    ROW,
    _fingerprints_python,
    fingerprints,
    k_mul,
    k_pow,
    reference_fingerprint,
    region_length,
)
from operator_node.protocol.hashes import keccak256

_rs = pytest.importorskip("operator_node.erasure._rs")

KERNELS: tuple[str, ...] = _rs.kernels()
Q = 256  # |GF(2^8)|
MODULUS = [1, 0, 0, 1] + [0] * 27 + [1]  # y^31 + y^3 + 1, coefficient of y^0 first


# --- polynomials over GF(2^8), coefficient of y^0 first (independent of the module's k_mul) ----


@cache
def _inverses() -> tuple[int, ...]:
    table = [0] * Q
    for a in range(1, Q):
        table[a] = next(b for b in range(1, Q) if gf_mul(a, b) == 1)
    return tuple(table)


def _trim(a: list[int]) -> list[int]:
    while a and a[-1] == 0:
        a.pop()
    return a


def _poly_mul(a: Sequence[int], b: Sequence[int]) -> list[int]:
    out = [0] * (len(a) + len(b) - 1) if a and b else []
    for i, x in enumerate(a):
        for j, z in enumerate(b):
            out[i + j] ^= gf_mul(x, z)
    return _trim(out)


def _poly_mod(a: Sequence[int], m: Sequence[int]) -> list[int]:
    """a mod m for any non-zero m (long division with the leading coefficient's inverse)."""
    rem, m = _trim(list(a)), _trim(list(m))
    lead_inverse = _inverses()[m[-1]]
    while len(rem) >= len(m):
        factor = gf_mul(rem[-1], lead_inverse)
        shift = len(rem) - len(m)
        for i, c in enumerate(m):
            rem[shift + i] ^= gf_mul(factor, c)
        _trim(rem)
    return rem


def _poly_gcd(a: Sequence[int], b: Sequence[int]) -> list[int]:
    x, z = _trim(list(a)), _trim(list(b))
    while z:
        x, z = z, _poly_mod(x, z)
    return x


def _poly_add(a: Sequence[int], b: Sequence[int]) -> list[int]:
    out = [0] * max(len(a), len(b))
    for i, x in enumerate(a):
        out[i] ^= x
    for i, x in enumerate(b):
        out[i] ^= x
    return _trim(out)


def _frobenius(a: Sequence[int], m: Sequence[int]) -> list[int]:
    """a^256 mod m, by eight squarings."""
    out = list(a)
    for _ in range(8):
        out = _poly_mod(_poly_mul(out, out), m)
    return out


def _as_element(poly: Sequence[int]) -> list[int]:
    return list(poly) + [0] * (DEGREE - len(poly))


def _random_element(rng: random.Random) -> list[int]:
    return list(rng.randbytes(DEGREE))


# --- 1. K is a field of 2^248 elements ---------------------------------------------------------


def test_modulus_is_irreducible_over_gf256_by_rabins_test() -> None:
    y = [0, 1]
    # y^(256^31) = y mod p: p divides y^(q^31) - y, so its irreducible factors have degrees
    # dividing 31, i.e. 1 or 31.
    power = list(y)
    for _ in range(DEGREE):
        power = _frobenius(power, MODULUS)
    assert power == y
    # gcd(y^256 - y, p) = 1: p has no factor of degree 1 (no root in GF(2^8)). 31 is prime, so
    # that is the only proper divisor to check: p is irreducible.
    after_one = _frobenius(y, MODULUS)
    assert after_one != y
    gcd = _poly_gcd(_poly_add(after_one, y), MODULUS)
    assert len(gcd) == 1  # a non-zero constant
    # The test can fail: a reducible modulus of the same shape is caught by it.
    reducible = _poly_mul([1, 1], [1] + [0] * 29 + [1])  # (y + 1)(y^30 + 1)
    assert len(_poly_gcd(_poly_add(_frobenius(y, reducible), y), reducible)) > 1


def test_k_mul_is_multiplication_modulo_the_modulus() -> None:
    rng = random.Random(11)
    for _ in range(20):
        a, b = _random_element(rng), _random_element(rng)
        assert k_mul(a, b) == _as_element(_poly_mod(_poly_mul(a, b), MODULUS))
    top = [0] * (DEGREE - 1) + [1]  # y^30 * y = y^31 = y^3 + 1
    assert k_mul(top, [0, 1] + [0] * 29) == _as_element([1, 0, 0, 1])


def test_k_mul_is_commutative_associative_and_distributive() -> None:
    rng = random.Random(12)
    one = [1] + [0] * (DEGREE - 1)
    for _ in range(20):
        a, b, c = (_random_element(rng) for _ in range(3))
        assert k_mul(a, b) == k_mul(b, a)
        assert k_mul(k_mul(a, b), c) == k_mul(a, k_mul(b, c))
        b_plus_c = [x ^ z for x, z in zip(b, c, strict=True)]
        products = zip(k_mul(a, b), k_mul(a, c), strict=True)
        assert k_mul(a, b_plus_c) == [x ^ z for x, z in products]
        assert k_mul(a, one) == a


def test_every_nonzero_element_has_order_dividing_2_to_248_minus_1() -> None:
    rng = random.Random(13)
    one = [1] + [0] * (DEGREE - 1)
    order = Q**DEGREE - 1
    assert order == 2**248 - 1
    for r in (_random_element(rng), [0, 1] + [0] * 29):
        assert any(r)
        assert k_pow(r, order) == one
        assert k_pow(r, order + 1) == r


# --- 2. every kernel = the portable fold = the definition --------------------------------------

LENGTHS = (64, 128, 1984, 2048, 2112, 6016)
COUNTS = (1, 3, 64, 65, 130)
# Chunk positions the portable fold checks in a batch of 130: both ends of every block of 64 the
# C code transposes together.
SAMPLED = (0, 1, 2, 63, 64, 65, 127, 128, 129)


def _chunk_pool(length: int, rng: random.Random) -> list[bytes | bytearray | memoryview]:
    pool: list[bytes | bytearray | memoryview] = [rng.randbytes(length) for _ in range(130)]
    pool[1] = bytes(length)
    pool[2] = b"\xff" * length
    pool[64] = bytearray(rng.randbytes(length))
    backing = rng.randbytes(length + 7)
    pool[65] = memoryview(backing)[7:]  # a view at an offset, as a request body's slices are
    return pool


@pytest.mark.parametrize("length", LENGTHS)
def test_kernels_equal_the_portable_fold_and_the_definition(length: int) -> None:
    rng = random.Random(length)
    pool = _chunk_pool(length, rng)
    points = rng.randbytes(2 * DEGREE)
    for npoints in (1, 2):
        pts = points[: npoints * DEGREE]
        # The truth per chunk: the portable fold (independent of how many chunks are folded
        # together) at the sampled positions, the definition for the first three.
        fold = {i: _fingerprints_python([pool[i]], length, pts) for i in SAMPLED}
        for i in (0, 1, 2):
            row = b"".join(
                reference_fingerprint(pool[i], list(pts[p * DEGREE : (p + 1) * DEGREE]))
                for p in range(npoints)
            )
            assert fold[i] == row + bytes(ROW - len(row))
        # Every chunk alone through the fastest kernel; the batches of every kernel must equal
        # these row by row (the C code folds a batch transposed, 64 chunks at a time).
        singles = [_rs.fingerprint(KERNELS[0], [chunk], length, pts) for chunk in pool]
        for kernel in KERNELS:
            for i in SAMPLED:
                assert _rs.fingerprint(kernel, [pool[i]], length, pts) == fold[i], (kernel, i)
            for count in COUNTS:
                rows = _rs.fingerprint(kernel, pool[:count], length, pts)
                assert len(rows) == ROW * count
                assert rows == b"".join(singles[:count]), (kernel, count)
                if kernel == KERNELS[0]:
                    assert fingerprints(pool[:count], length, pts) == rows
    # Two points: each point's fingerprint in its 31 bytes, then two zero bytes.
    two = _rs.fingerprint(KERNELS[-1], pool[:3], length, points)
    r1 = _rs.fingerprint(KERNELS[-1], pool[:3], length, points[:DEGREE])
    r2 = _rs.fingerprint(KERNELS[-1], pool[:3], length, points[DEGREE:])
    for c in range(3):
        at = c * ROW
        assert two[at : at + ROW] == (
            r1[at : at + DEGREE] + r2[at : at + DEGREE] + bytes(ROW - 2 * DEGREE)
        )
        assert r1[at + DEGREE : at + ROW] == bytes(ROW - DEGREE)


def test_kernels_on_lengths_that_are_not_multiples_of_64() -> None:
    rng = random.Random(3)
    for length in (1, 31, 100, 1985, 2047):
        chunks = [rng.randbytes(length) for _ in range(3)]
        points = rng.randbytes(2 * DEGREE)
        fold = _fingerprints_python(chunks, length, points)
        row0 = reference_fingerprint(chunks[0], list(points[:DEGREE]))
        assert fold[:DEGREE] == row0
        for kernel in KERNELS:
            assert _rs.fingerprint(kernel, chunks, length, points) == fold, (kernel, length)


def test_a_single_byte_fingerprints_to_its_lane_term() -> None:
    """FP_r(b at region i, lane w) = b * y^i * r^w, from the layout: checks the layout itself."""
    rng = random.Random(4)
    length = 6016
    s = region_length(length)
    assert s == 256
    r = _random_element(rng)
    # Region 23 is the last with bytes in it (23 * 256 + 127 = 6015 is the chunk's last byte).
    for region, lane in ((0, 0), (0, s - 1), (1, 0), (7, 129), (22, 255), (23, 127)):
        position = region * s + lane
        assert position < length
        b = rng.randrange(1, Q)
        chunk = bytearray(length)
        chunk[position] = b
        term = [0] * DEGREE
        term[region] = b
        expected = bytes(k_mul(term, k_pow(r, lane)))
        for kernel in KERNELS:
            row = _rs.fingerprint(kernel, [chunk], length, bytes(r))
            assert row[:DEGREE] == expected, (kernel, region, lane)


# --- 3. GF(2^8)-linearity, and why it must be GF(2^8) and not just GF(2) -----------------------


def _scale(a: int, data: bytes | memoryview) -> bytes:
    return bytes(gf_mul(a, x) for x in bytes(data))


def _add(x: bytes | memoryview, z: bytes | memoryview) -> bytes:
    return bytes(p ^ q for p, q in zip(bytes(x), bytes(z), strict=True))


def test_fingerprint_is_gf256_linear() -> None:
    rng = random.Random(21)
    for length in (64, 2112):
        points = rng.randbytes(2 * DEGREE)
        for a in (1, 2, 0x8E, 0xFF, rng.randrange(2, Q)):
            x, z = rng.randbytes(length), rng.randbytes(length)
            fp_x, fp_z = fingerprints([x], length, points), fingerprints([z], length, points)
            combined = fingerprints([_add(_scale(a, x), z)], length, points)
            assert combined == _add(_scale(a, fp_x), fp_z), (length, a)


def _square_bytes(data: bytes | memoryview) -> bytes:
    """x -> x^2 in every byte: GF(2)-linear (Frobenius) but not GF(2^8)-linear."""
    return bytes(gf_mul(x, x) for x in bytes(data))


def test_honest_parity_fingerprints_are_the_codeword_of_z() -> None:
    codec = cached_codec(5, 12)
    rng = random.Random(22)
    points = rng.randbytes(2 * DEGREE)
    for size in (1, 317, 5 * 64, 4099, 5 * 640 + 3):
        chunks = codec.encode(rng.randbytes(size))
        length = len(chunks[0])
        rows = fingerprints(chunks, length, points)
        z = rows[: ROW * codec.k]
        assert len(z) == ROW * 5
        encoded = cached_codec(5, 12).encode(z)
        assert all(len(row) == ROW for row in encoded)
        for index in range(codec.n):
            assert rows[index * ROW : (index + 1) * ROW] == encoded[index], (size, index)
        # A fingerprint that is GF(2)-linear only (square every byte first) is additive...
        x, z2 = bytes(chunks[0]), bytes(chunks[1])
        variant = [fingerprints([_square_bytes(c)], length, points) for c in (x, z2)]
        summed = fingerprints([_square_bytes(_add(x, z2))], length, points)
        assert summed == _add(variant[0], variant[1])
        # ...but honest parity chunks do not fingerprint to the codeword of its Z: the check
        # would refuse honest blobs. GF(2^8)-linearity is what makes completeness hold.
        squared = [_square_bytes(c) for c in chunks]
        variant_rows = fingerprints(squared, length, points)
        variant_encoded = codec.encode(variant_rows[: ROW * codec.k])
        parity_rows = [variant_rows[i * ROW : (i + 1) * ROW] for i in range(codec.k, codec.n)]
        assert all(
            row != variant_encoded[i]
            for i, row in zip(range(codec.k, codec.n), parity_rows, strict=True)
        ), size


# --- 4. a committed test vector ----------------------------------------------------------------

VECTOR_SEED = b"FP-v1 test vector"
VECTOR_POINTS = bytes.fromhex(
    "9f1013963d9f47002d0f808c28ea4999c9e8f1bde5ac1ae801b315cd923afa"
    "ef31c6a927f1cf0ed6a321af523f90eb32b613761c6a346d4b029426d49799"
)
# Computed once from reference_fingerprint (the definition) at the two points above, for the
# chunk bytes(range(256)) * 8; lets other implementations check themselves.
VECTOR_ROW = bytes.fromhex(
    "961b53ff32e5d6d590f801a77d582325f66d073063ecedef73e73469bae9c8"
    "3c6d02288d6a8c8f39ac6b1d014c9b02f2868843970920dd5892cc8e38b6b7"
    "0000"
)


def test_committed_vector() -> None:
    points = (keccak256(VECTOR_SEED + b"\x00") + keccak256(VECTOR_SEED + b"\x01"))[: 2 * DEGREE]
    assert points == VECTOR_POINTS
    chunk = bytes(range(256)) * 8
    assert len(VECTOR_ROW) == ROW
    for kernel in KERNELS:
        assert _rs.fingerprint(kernel, [chunk], len(chunk), points) == VECTOR_ROW, kernel
    assert _fingerprints_python([chunk], len(chunk), points) == VECTOR_ROW
    assert fingerprints([chunk], len(chunk), points) == VECTOR_ROW
    assert reference_fingerprint(chunk, list(points[:DEGREE])) == VECTOR_ROW[:DEGREE]


# --- 5. input errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 30, 32, 61, 63, 93, 124])
def test_points_of_a_wrong_length_are_refused(size: int) -> None:
    chunk = bytes(64)
    with pytest.raises(ValueError, match="points"):
        fingerprints([chunk], 64, bytes(size))
    for kernel in KERNELS:
        with pytest.raises(ValueError, match="points"):
            _rs.fingerprint(kernel, [chunk], 64, bytes(size))


def test_chunks_of_unequal_length_are_refused() -> None:
    points = bytes(range(2 * DEGREE))
    for chunks in ([bytes(64), bytes(128)], [bytes(128), bytes(64)], [bytes(64)] * 3 + [b""]):
        with pytest.raises(ValueError, match=r"must be (64|128) bytes"):
            fingerprints(chunks, len(chunks[0]), points)
        for kernel in KERNELS:
            with pytest.raises(ValueError):
                _rs.fingerprint(kernel, chunks, len(chunks[0]), points)


def test_unknown_kernel_and_bad_length_are_refused() -> None:
    with pytest.raises(ValueError, match="kernel"):
        _rs.fingerprint("avx9000", [bytes(64)], 64, bytes(DEGREE))
    for kernel in KERNELS:
        with pytest.raises(ValueError, match="length"):
            _rs.fingerprint(kernel, [], 0, bytes(DEGREE))


def test_zero_chunks_give_an_empty_result() -> None:
    points = bytes(range(2 * DEGREE))
    assert fingerprints([], 64, points) == b""
    assert _fingerprints_python([], 64, points) == b""
    for kernel in KERNELS:
        for length in (64, 6016):
            assert _rs.fingerprint(kernel, [], length, points) == b"", kernel
