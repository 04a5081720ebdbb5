"""GF(2^8) arithmetic in reedsolo's field and the systematic generator matrix of its code.

Only the small, once-per-shape work lives here; products over whole chunks are the C kernels'.
"""

from __future__ import annotations

from functools import cache, lru_cache

PRIMITIVE = 0x11D  # reedsolo's default primitive polynomial
GENERATOR = 2  # reedsolo's default generator; fcr (first consecutive root) is 0


@cache
def _tables() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Return (exp, log) tables of the field; exp is doubled so exp[a + b] needs no modulo."""
    exp = [0] * 510
    log = [0] * 256
    x = 1
    for i in range(255):
        exp[i] = exp[i + 255] = x
        log[x] = i
        x <<= 1
        if x & 0x100:
            x ^= PRIMITIVE
    return tuple(exp), tuple(log)


def gf_mul(a: int, b: int) -> int:
    """Return the product of two field elements."""
    if a == 0 or b == 0:
        return 0
    exp, log = _tables()
    return exp[log[a] + log[b]]


def generator_polynomial(nsym: int) -> list[int]:
    """Return prod_{i < nsym} (x - 2^i), coefficients highest degree first (leading 1)."""
    exp, _ = _tables()
    poly = [1]
    for i in range(nsym):
        root = exp[i]
        # Multiply by (x + root): subtraction is addition in characteristic 2.
        poly = [*poly, 0]
        for t in range(len(poly) - 1, 0, -1):
            poly[t] ^= gf_mul(poly[t - 1], root)
    return poly


# Matrices are kept for the shapes in use; the bound keeps a stream of odd shapes from growing it.
@lru_cache(maxsize=64)
def parity_matrix(k: int, n: int) -> bytes:
    """Return the (n - k) x k parity rows of the systematic generator matrix, row-major.

    reedsolo encodes a message m as m followed by the remainder of m(x) * x^nsym modulo the
    generator polynomial g, where message byte j is the coefficient of x^(k-1-j). The remainder is
    linear in m, so data row j contributes x^(nsym+k-1-j) mod g: the powers of x modulo g are
    computed by repeated multiplication by x, and their coefficients (highest first) are the
    columns of the parity matrix.
    """
    nsym = n - k
    g = generator_polynomial(nsym)
    power = g[1:]  # x^nsym mod g: the leading term cancels, the rest is what remains
    columns: list[list[int]] = []
    for _ in range(k):
        columns.append(power)
        top = power[0]
        power = [*power[1:], 0]
        if top:
            power = [p ^ gf_mul(top, c) for p, c in zip(power, g[1:], strict=True)]
    columns.reverse()  # column j is x^(nsym + k - 1 - j) mod g
    return bytes(columns[j][p] for p in range(nsym) for j in range(k))


@lru_cache(maxsize=64)
def generator_matrix(k: int, n: int) -> bytes:
    """Return the n x k systematic generator matrix [I; P], row-major: row i makes chunk i."""
    identity = bytes(1 if i == j else 0 for i in range(k) for j in range(k))
    return identity + parity_matrix(k, n)
