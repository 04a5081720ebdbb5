"""BN254 (alt_bn128) points, the on-chain hash-to-curve and a pairing check.

Points are immutable values in affine coordinates with the EVM conventions: the point at infinity
is ``(0, 0)`` and a G2 point's coordinates are elements ``re + im·i`` of Fp² serialised imaginary
part first (EIP-197), which is how ``BN254.G2Point`` holds them on chain.

Scalar multiplication and addition are written here on plain Python integers (Jacobian
coordinates, width-5 NAF) because py_ecc's field classes cost about ten times as much per
operation; py_ecc's ``optimized_bn128`` provides the Miller loop. The final exponentiation is ours
too: the exponent (p¹² - 1)/r is split into the easy part (p⁶ - 1)(p² + 1), done with Frobenius
maps, and the hard part (p⁴ - p² + 1)/r, written in base p so that one 254-bit multi-exponentiation
of four Frobenius images replaces py_ecc's 2,800-bit square-and-multiply. The result is the same
element (the tests compare both).

``hash_to_g1`` is ``BN254.hashToG1`` of eigenlayer-middleware (``src/libraries/BN254.sol``):
x = digest mod p; loop β = x³ + 3, y = β^((p+1)/4); if y² = β return (x, y), else x = x + 1 mod p.
y is the root the exponentiation gives, never negated.

Decoding (``from_bytes``/``from_coordinates``) checks coordinates < p, the curve equation, the
order-r subgroup for G2 (G1 has cofactor 1) and refuses infinity unless asked to allow it. The
constructors themselves do not check: use them only for values this module produced.

G1 scalar multiplication and ``hash_to_g1`` (together, BLS signing) run in C when the optional
extension ``_bn254`` was built: the multiplication constant-time in the scalar, each about ten
times faster, and without the GIL. ``g1_backend`` says which code runs; the environment variable
``OPERATOR_NODE_BN254_BACKEND`` (``auto``, ``native`` or ``python``) forces one and is read at
every call, so a process can switch and tests need no reload. The Python code stays as the
fallback and the reference; it is not constant-time.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from py_ecc.fields import optimized_bn128_FQ as _FQ
from py_ecc.fields import optimized_bn128_FQ2 as _FQ2
from py_ecc.fields import optimized_bn128_FQ12 as _FQ12
from py_ecc.optimized_bn128 import optimized_pairing as _pairing

from operator_node.backends import pick_backend, read_backend_variable
from operator_node.crypto.errors import (
    CryptoError,
    InvalidBatchError,
    InvalidMessageError,
    InvalidPointError,
)

try:
    from operator_node.crypto import _bn254
except ImportError:  # the C extension is optional: the build may have failed
    _bn254 = None  # type: ignore[assignment]

FIELD_MODULUS = 21888242871839275222246405745257275088696311157297823662689037894645226208583
CURVE_ORDER = 21888242871839275222246405745257275088548364400416034343698204186575808495617
P = FIELD_MODULUS
R = CURVE_ORDER
# (p + 1) / 4: p ≡ 3 mod 4, so β^((p+1)/4) is a square root of β whenever one exists.
SQRT_EXPONENT = (P + 1) // 4
# The twist's b = 3 / (9 + i), as (re, im).
B2 = (
    19485874751759354771024239261021720505790618469301721065564631296452457478373,
    266929791119991161246907387137283842545076965332900288569378510910307636690,
)

_WINDOW = 5  # width of the NAF used by scalar multiplication

BACKEND_ENV = "OPERATOR_NODE_BN254_BACKEND"
"""Environment variable forcing G1 multiplication's backend: auto (default), native or python."""

G1_BACKENDS = ("native", "python")
"""The G1 multiplication backends, preferred first."""


class Bn254BackendError(CryptoError, ValueError):
    """``OPERATOR_NODE_BN254_BACKEND`` names an unknown backend, or native when it is not built."""


# Jacobian points are (X, Y, Z) with Z == 0 meaning infinity; Fp² elements are (re, im) pairs.
_Fp2 = tuple[int, int]
_Jac1 = tuple[int, int, int]
_Jac2 = tuple[_Fp2, _Fp2, _Fp2]


@dataclass(frozen=True, slots=True)
class G1Point:
    """A point of G1 in affine coordinates; ``(0, 0)`` is the point at infinity."""

    x: int
    y: int

    @property
    def is_infinity(self) -> bool:
        """True for the point at infinity ``(0, 0)``."""
        return self.x == 0 and self.y == 0

    def to_bytes(self) -> bytes:
        """64 bytes: X ‖ Y, each a 32-byte big-endian word (infinity is 64 zero bytes)."""
        return self.x.to_bytes(32, "big") + self.y.to_bytes(32, "big")

    def to_abi(self) -> tuple[int, int]:
        """The ``BN254.G1Point`` tuple ``(X, Y)`` for ABI encoding."""
        return (self.x, self.y)

    @classmethod
    def from_bytes(cls, data: bytes, *, allow_infinity: bool = False) -> G1Point:
        """Decode 64 bytes X ‖ Y; raises :class:`InvalidPointError` unless it is a valid point."""
        if len(data) != 64:
            raise InvalidPointError(f"a G1 point is 64 bytes, got {len(data)}")
        x, y = int.from_bytes(data[:32], "big"), int.from_bytes(data[32:], "big")
        return cls.from_coordinates(x, y, allow_infinity=allow_infinity)

    @classmethod
    def from_coordinates(cls, x: int, y: int, *, allow_infinity: bool = False) -> G1Point:
        """Validate integer coordinates; raises :class:`InvalidPointError` if not a G1 point."""
        if not (0 <= x < P and 0 <= y < P):
            raise InvalidPointError("G1 coordinate is not below the field modulus")
        if x == 0 and y == 0:
            if not allow_infinity:
                raise InvalidPointError("G1 point is the point at infinity")
            return G1_INFINITY
        if (y * y - x * x * x - 3) % P != 0:
            raise InvalidPointError("G1 point is not on the curve y^2 = x^3 + 3")
        return cls(x, y)


@dataclass(frozen=True, slots=True)
class G2Point:
    """A point of G2 in affine coordinates over Fp² (x = x_re + x_im·i); all zero is infinity."""

    x_re: int
    x_im: int
    y_re: int
    y_im: int

    @property
    def is_infinity(self) -> bool:
        """True for the point at infinity (all four coordinates zero)."""
        return not (self.x_re or self.x_im or self.y_re or self.y_im)

    def to_bytes(self) -> bytes:
        """128 bytes in EIP-197 order: x_im ‖ x_re ‖ y_im ‖ y_re, 32-byte big-endian words."""
        words = (self.x_im, self.x_re, self.y_im, self.y_re)
        return b"".join(w.to_bytes(32, "big") for w in words)

    def to_abi(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """The ``BN254.G2Point`` tuple ``([x_im, x_re], [y_im, y_re])`` for ABI encoding."""
        return ((self.x_im, self.x_re), (self.y_im, self.y_re))

    @classmethod
    def from_bytes(cls, data: bytes, *, allow_infinity: bool = False) -> G2Point:
        """Decode the 128-byte EIP-197 form; raises :class:`InvalidPointError` if not in G2."""
        if len(data) != 128:
            raise InvalidPointError(f"a G2 point is 128 bytes, got {len(data)}")
        x_im, x_re, y_im, y_re = (int.from_bytes(data[i : i + 32], "big") for i in (0, 32, 64, 96))
        return cls.from_coordinates(x_re, x_im, y_re, y_im, allow_infinity=allow_infinity)

    @classmethod
    def from_abi(
        cls, xs: Sequence[int], ys: Sequence[int], *, allow_infinity: bool = False
    ) -> G2Point:
        """Validate the on-chain form ``X = [x_im, x_re], Y = [y_im, y_re]``."""
        return cls.from_coordinates(xs[1], xs[0], ys[1], ys[0], allow_infinity=allow_infinity)

    @classmethod
    def from_coordinates(
        cls, x_re: int, x_im: int, y_re: int, y_im: int, *, allow_infinity: bool = False
    ) -> G2Point:
        """Validate coordinates, the twist equation and membership of the order-r subgroup."""
        if not all(0 <= c < P for c in (x_re, x_im, y_re, y_im)):
            raise InvalidPointError("G2 coordinate is not below the field modulus")
        point = cls(x_re, x_im, y_re, y_im)
        if point.is_infinity:
            if not allow_infinity:
                raise InvalidPointError("G2 point is the point at infinity")
            return G2_INFINITY
        x, y = (x_re, x_im), (y_re, y_im)
        if _f2_sub(_f2_sqr(y), _f2_add(_f2_mul(_f2_sqr(x), x), B2)) != (0, 0):
            raise InvalidPointError("G2 point is not on the twist curve y^2 = x^3 + 3/(9+i)")
        if _jac2_mul((x, y, (1, 0)), R)[2] != (0, 0):
            raise InvalidPointError("G2 point is not in the order-r subgroup")
        return point


G1_INFINITY = G1Point(0, 0)
G2_INFINITY = G2Point(0, 0, 0, 0)
G1_GENERATOR = G1Point(1, 2)
G2_GENERATOR = G2Point(
    x_re=10857046999023057135944570762232829481370756359578518086990519993285655852781,
    x_im=11559732032986387107991004021392285783925812861821192530917403151452391805634,
    y_re=8495653923123431417604973247489272438418190587263600148770280649306958101930,
    y_im=4082367875863433681332203403145435568316851327593401208105741076214120093531,
)


# --- hash to curve -------------------------------------------------------------------------


def hash_to_g1(digest: bytes) -> G1Point:
    """``BN254.hashToG1``: the G1 point a 32-byte digest maps to (try-and-increment).

    Runs in C on the native backend (:func:`g1_backend`). Raises :class:`InvalidMessageError` if
    ``digest`` is not 32 bytes, :class:`Bn254BackendError` if the backend variable is invalid.
    """
    if len(digest) != 32:
        raise InvalidMessageError(f"a message hash is 32 bytes, got {len(digest)}")
    if g1_backend() == "native":
        out = _bn254.hash_to_g1(bytes(digest))
        return G1Point(int.from_bytes(out[:32], "big"), int.from_bytes(out[32:], "big"))
    x = int.from_bytes(digest, "big") % P
    while True:
        beta = (x * x * x + 3) % P
        y = pow(beta, SQRT_EXPONENT, P)
        if y * y % P == beta:
            return G1Point(x, y)
        x = (x + 1) % P


# --- G1 arithmetic -------------------------------------------------------------------------


def _jac1_double(pt: _Jac1) -> _Jac1:
    x, y, z = pt
    if z == 0 or y == 0:
        return (1, 1, 0)
    a = x * x % P
    b = y * y % P
    c = b * b % P
    d = 2 * ((x + b) * (x + b) - a - c) % P
    e = 3 * a % P
    x3 = (e * e - 2 * d) % P
    return (x3, (e * (d - x3) - 8 * c) % P, 2 * y * z % P)


def _jac1_add_affine(pt: _Jac1, qx: int, qy: int) -> _Jac1:
    x1, y1, z1 = pt
    if z1 == 0:
        return (qx, qy, 1)
    z1z1 = z1 * z1 % P
    h = (qx * z1z1 - x1) % P
    r = 2 * (qy * z1 * z1z1 - y1) % P
    if h == 0:
        return _jac1_double(pt) if r == 0 else (1, 1, 0)
    hh = h * h % P
    i = 4 * hh % P
    j = h * i % P
    v = x1 * i % P
    x3 = (r * r - j - 2 * v) % P
    return (x3, (r * (v - x3) - 2 * y1 * j) % P, ((z1 + h) * (z1 + h) - z1z1 - hh) % P)


def _jac1_to_affine(pt: _Jac1) -> G1Point:
    x, y, z = pt
    if z == 0:
        return G1_INFINITY
    zinv = pow(z, -1, P)
    zinv2 = zinv * zinv % P
    return G1Point(x * zinv2 % P, y * zinv2 * zinv % P)


def _naf(k: int) -> list[int]:
    """Width-``_WINDOW`` NAF digits of ``k``, least significant first."""
    digits = []
    full, half = 1 << _WINDOW, 1 << (_WINDOW - 1)
    while k:
        if k & 1:
            d = k & (full - 1)
            if d >= half:
                d -= full
            k -= d
        else:
            d = 0
        digits.append(d)
        k >>= 1
    return digits


def g1_backend() -> str:
    """Return the backend :func:`g1_multiply` and :func:`hash_to_g1` use: "native" or "python".

    Reads ``OPERATOR_NODE_BN254_BACKEND`` at each call: unset, empty or ``auto`` picks native when
    the extension was built, else python. Raises :class:`Bn254BackendError` for any other value
    than auto/native/python, and for native when the extension is missing. Call it at start-up to
    log the backend and to fail early on a bad environment.
    """
    return pick_backend(
        read_backend_variable(BACKEND_ENV),
        component="BN254",
        source=BACKEND_ENV,
        known=G1_BACKENDS,
        available=G1_BACKENDS if _bn254 is not None else ("python",),
        unknown_error=Bn254BackendError,
        unavailable_error=Bn254BackendError,
        why_unavailable="the C extension operator_node.crypto._bn254 was not built",
    )


def g1_multiply(point: G1Point, scalar: int) -> G1Point:
    """``scalar · point`` (scalar taken mod r), on the backend :func:`g1_backend` names.

    The native backend is constant-time in the scalar once it is reduced (the reduction and the
    conversion to bytes are Python big-integer code, which is not) and checks that ``point`` is on
    the curve, raising :class:`InvalidPointError` if not; the Python backend trusts the G1Point
    invariant. Raises :class:`Bn254BackendError` if the backend variable is invalid.
    """
    backend = g1_backend()
    k = scalar % R
    if k == 0 or point.is_infinity:
        return G1_INFINITY
    if backend == "native":
        return _g1_multiply_native(point, k)
    return _g1_multiply_python(point, k)


def _g1_multiply_native(point: G1Point, k: int) -> G1Point:
    """``k · point`` in C for 0 < k < r; never infinity, as G1 has prime order r."""
    try:
        out = _bn254.g1_multiply(point.to_bytes(), k.to_bytes(32, "big"))
    except (ValueError, OverflowError) as exc:  # off the curve; a coordinate >= 2^256 or < 0
        raise InvalidPointError(f"cannot multiply this G1 point: {exc}") from None
    return G1Point(int.from_bytes(out[:32], "big"), int.from_bytes(out[32:], "big"))


def _g1_multiply_python(point: G1Point, k: int) -> G1Point:
    """``k · point`` in Python (width-5 NAF, Jacobian) for 0 < k < r; not constant-time."""
    # Odd multiples P, 3P, ..., 15P in affine form so every addition is a cheap mixed one.
    twice = _jac1_double((point.x, point.y, 1))
    jac = [(point.x, point.y, 1)]
    table = [point]
    for _ in range((1 << (_WINDOW - 2)) - 1):
        jac.append(_jac1_add_jac(jac[-1], twice))
        table.append(_jac1_to_affine(jac[-1]))
    acc: _Jac1 = (1, 1, 0)
    for d in reversed(_naf(k)):
        acc = _jac1_double(acc)
        if d > 0:
            q = table[d >> 1]
            acc = _jac1_add_affine(acc, q.x, q.y)
        elif d < 0:
            q = table[(-d) >> 1]
            acc = _jac1_add_affine(acc, q.x, P - q.y)
    return _jac1_to_affine(acc)


def _jac1_add_jac(p1: _Jac1, p2: _Jac1) -> _Jac1:
    if p2[2] == 0:
        return p1
    if p1[2] == 0:
        return p2
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    z1z1, z2z2 = z1 * z1 % P, z2 * z2 % P
    u1, u2 = x1 * z2z2 % P, x2 * z1z1 % P
    s1, s2 = y1 * z2 * z2z2 % P, y2 * z1 * z1z1 % P
    h, r = (u2 - u1) % P, 2 * (s2 - s1) % P
    if h == 0:
        return _jac1_double(p1) if r == 0 else (1, 1, 0)
    i = 4 * h * h % P
    j, v = h * i % P, u1 * i % P
    x3 = (r * r - j - 2 * v) % P
    y3 = (r * (v - x3) - 2 * s1 * j) % P
    return (x3, y3, ((z1 + z2) * (z1 + z2) - z1z1 - z2z2) * h % P)


def g1_add(a: G1Point, b: G1Point) -> G1Point:
    """``a + b``."""
    return g1_sum((a, b))


def g1_neg(a: G1Point) -> G1Point:
    """``-a``."""
    return a if a.is_infinity else G1Point(a.x, (P - a.y) % P)


def g1_sum(points: Iterable[G1Point]) -> G1Point:
    """The sum of ``points`` (infinity for none)."""
    acc: _Jac1 = (1, 1, 0)
    for q in points:
        if not q.is_infinity:
            acc = _jac1_add_affine(acc, q.x, q.y)
    return _jac1_to_affine(acc)


def g1_msm(points: Sequence[G1Point], scalars: Sequence[int]) -> G1Point:
    """``Σ scalars[i] · points[i]`` with shared doublings (Straus); meant for short scalars."""
    if len(points) != len(scalars):
        raise InvalidBatchError("g1_msm needs as many scalars as points")
    ks = [k % R for k in scalars]
    acc: _Jac1 = (1, 1, 0)
    for bit in reversed(range(max((k.bit_length() for k in ks), default=0))):
        acc = _jac1_double(acc)
        for q, k in zip(points, ks, strict=True):
            if (k >> bit) & 1 and not q.is_infinity:
                acc = _jac1_add_affine(acc, q.x, q.y)
    return _jac1_to_affine(acc)


# --- Fp² and G2 arithmetic ---------------------------------------------------------------------


def _f2_add(a: _Fp2, b: _Fp2) -> _Fp2:
    return ((a[0] + b[0]) % P, (a[1] + b[1]) % P)


def _f2_sub(a: _Fp2, b: _Fp2) -> _Fp2:
    return ((a[0] - b[0]) % P, (a[1] - b[1]) % P)


def _f2_mul(a: _Fp2, b: _Fp2) -> _Fp2:
    t0, t1 = a[0] * b[0], a[1] * b[1]
    return ((t0 - t1) % P, ((a[0] + a[1]) * (b[0] + b[1]) - t0 - t1) % P)


def _f2_sqr(a: _Fp2) -> _Fp2:
    return ((a[0] + a[1]) * (a[0] - a[1]) % P, 2 * a[0] * a[1] % P)


def _f2_scale(a: _Fp2, k: int) -> _Fp2:
    return (a[0] * k % P, a[1] * k % P)


def _f2_inv(a: _Fp2) -> _Fp2:
    d = pow((a[0] * a[0] + a[1] * a[1]) % P, -1, P)
    return (a[0] * d % P, -a[1] * d % P)


_F2_ZERO: _Fp2 = (0, 0)
_F2_ONE: _Fp2 = (1, 0)
_JAC2_INF: _Jac2 = (_F2_ONE, _F2_ONE, _F2_ZERO)


def _jac2_double(pt: _Jac2) -> _Jac2:
    x, y, z = pt
    if _F2_ZERO in (z, y):
        return _JAC2_INF
    a = _f2_sqr(x)
    b = _f2_sqr(y)
    c = _f2_sqr(b)
    d = _f2_scale(_f2_sub(_f2_sub(_f2_sqr(_f2_add(x, b)), a), c), 2)
    e = _f2_scale(a, 3)
    x3 = _f2_sub(_f2_sqr(e), _f2_scale(d, 2))
    y3 = _f2_sub(_f2_mul(e, _f2_sub(d, x3)), _f2_scale(c, 8))
    return (x3, y3, _f2_scale(_f2_mul(y, z), 2))


def _jac2_add(p1: _Jac2, p2: _Jac2) -> _Jac2:
    if p2[2] == _F2_ZERO:
        return p1
    if p1[2] == _F2_ZERO:
        return p2
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    z1z1, z2z2 = _f2_sqr(z1), _f2_sqr(z2)
    u1, u2 = _f2_mul(x1, z2z2), _f2_mul(x2, z1z1)
    s1, s2 = _f2_mul(_f2_mul(y1, z2), z2z2), _f2_mul(_f2_mul(y2, z1), z1z1)
    h, r = _f2_sub(u2, u1), _f2_scale(_f2_sub(s2, s1), 2)
    if h == _F2_ZERO:
        return _jac2_double(p1) if r == _F2_ZERO else _JAC2_INF
    i = _f2_scale(_f2_sqr(h), 4)
    j, v = _f2_mul(h, i), _f2_mul(u1, i)
    x3 = _f2_sub(_f2_sub(_f2_sqr(r), j), _f2_scale(v, 2))
    y3 = _f2_sub(_f2_mul(r, _f2_sub(v, x3)), _f2_scale(_f2_mul(s1, j), 2))
    z3 = _f2_mul(_f2_sub(_f2_sub(_f2_sqr(_f2_add(z1, z2)), z1z1), z2z2), h)
    return (x3, y3, z3)


def _jac2_neg(pt: _Jac2) -> _Jac2:
    return (pt[0], _f2_sub(_F2_ZERO, pt[1]), pt[2])


def _jac2_mul(pt: _Jac2, k: int) -> _Jac2:
    """``k · pt`` for any non-negative ``k`` (not reduced mod r: the subgroup check needs k = r)."""
    odd = [pt]
    twice = _jac2_double(pt)
    for _ in range((1 << (_WINDOW - 2)) - 1):
        odd.append(_jac2_add(odd[-1], twice))
    acc = _JAC2_INF
    for d in reversed(_naf(k)):
        acc = _jac2_double(acc)
        if d > 0:
            acc = _jac2_add(acc, odd[d >> 1])
        elif d < 0:
            acc = _jac2_add(acc, _jac2_neg(odd[(-d) >> 1]))
    return acc


def _jac2_from(point: G2Point) -> _Jac2:
    if point.is_infinity:
        return _JAC2_INF
    return ((point.x_re, point.x_im), (point.y_re, point.y_im), _F2_ONE)


def _jac2_to_affine(pt: _Jac2) -> G2Point:
    x, y, z = pt
    if z == _F2_ZERO:
        return G2_INFINITY
    zinv = _f2_inv(z)
    zinv2 = _f2_sqr(zinv)
    ax, ay = _f2_mul(x, zinv2), _f2_mul(_f2_mul(y, zinv2), zinv)
    return G2Point(x_re=ax[0], x_im=ax[1], y_re=ay[0], y_im=ay[1])


def g2_multiply(point: G2Point, scalar: int) -> G2Point:
    """``scalar · point`` (scalar taken mod r)."""
    k = scalar % R
    if k == 0 or point.is_infinity:
        return G2_INFINITY
    return _jac2_to_affine(_jac2_mul(_jac2_from(point), k))


def g2_neg(a: G2Point) -> G2Point:
    """``-a``."""
    if a.is_infinity:
        return a
    return G2Point(x_re=a.x_re, x_im=a.x_im, y_re=(P - a.y_re) % P, y_im=(P - a.y_im) % P)


def g2_add(a: G2Point, b: G2Point) -> G2Point:
    """``a + b``."""
    return g2_sum((a, b))


def g2_sum(points: Iterable[G2Point]) -> G2Point:
    """The sum of ``points`` (infinity for none)."""
    acc = _JAC2_INF
    for q in points:
        acc = _jac2_add(acc, _jac2_from(q))
    return _jac2_to_affine(acc)


def g2_msm(points: Sequence[G2Point], scalars: Sequence[int]) -> G2Point:
    """``Σ scalars[i] · points[i]`` with shared doublings (Straus); meant for short scalars."""
    if len(points) != len(scalars):
        raise InvalidBatchError("g2_msm needs as many scalars as points")
    ks = [k % R for k in scalars]
    jacs = [_jac2_from(q) for q in points]
    acc = _JAC2_INF
    for bit in reversed(range(max((k.bit_length() for k in ks), default=0))):
        acc = _jac2_double(acc)
        for q, k in zip(jacs, ks, strict=True):
            if (k >> bit) & 1:
                acc = _jac2_add(acc, q)
    return _jac2_to_affine(acc)


# --- pairing -------------------------------------------------------------------------------


def pairing_check(pairs: Sequence[tuple[G1Point, G2Point]]) -> bool:
    """True iff ``Π e(g1_i, g2_i) == 1``, the question the EVM pairing precompile answers.

    Pairs with a point at infinity contribute 1, as in the precompile. Inputs must be valid points
    (decode them with ``from_bytes``/``from_coordinates``). Costs one Miller loop per pair plus one
    final exponentiation: hundreds of milliseconds, so never call it on a request path.
    """
    f = _FQ12.one()
    for g1, g2 in pairs:
        if g1.is_infinity or g2.is_infinity:
            continue
        q = (_FQ2([g2.x_re, g2.x_im]), _FQ2([g2.y_re, g2.y_im]), _FQ2.one())
        p = (_FQ(g1.x), _FQ(g1.y), _FQ.one())
        f = f * _pairing.pairing(q, p, final_exponentiate=False)
    return bool(final_exponentiate(f) == _FQ12.one())


@functools.cache
def _frobenius_table(power: int) -> tuple[tuple[int, ...], ...]:
    """Coefficients of (w^i)^(p^power) for i < 12, so that x ↦ x^(p^power) is linear."""
    if power == 1:
        w = _FQ12([0, 1] + [0] * 10)
        wp = w**P
        rows, acc = [], _FQ12.one()
        for _ in range(12):
            rows.append(tuple(int(c) for c in acc.coeffs))
            acc = acc * wp
        return tuple(rows)
    previous = _frobenius_table(power - 1)
    return tuple(_frobenius_apply(row, _frobenius_table(1)) for row in previous)


def _frobenius_apply(coeffs: Sequence[int], table: Sequence[Sequence[int]]) -> tuple[int, ...]:
    out = [0] * 12
    for c, row in zip(coeffs, table, strict=True):
        if c:
            for j in range(12):
                out[j] += c * row[j]
    return tuple(v % P for v in out)


def _frobenius(f: _FQ12, power: int) -> _FQ12:
    return _FQ12(list(_frobenius_apply([int(c) for c in f.coeffs], _frobenius_table(power))))


@functools.cache
def _hard_exponent_digits() -> tuple[int, ...]:
    """(p⁴ - p² + 1)/r written in base p, least significant digit first."""
    h, digits = (P**4 - P**2 + 1) // R, []
    while h:
        h, d = divmod(h, P)
        digits.append(d)
    return tuple(digits)


def final_exponentiate(f: _FQ12) -> _FQ12:
    """``f ** ((p¹² - 1) / r)``, computed with Frobenius maps (same value as py_ecc's)."""
    easy = _frobenius(f, 6) * f.inv()  # f^(p⁶ - 1)
    easy = _frobenius(easy, 2) * easy  # ... ^(p² + 1)
    digits = _hard_exponent_digits()
    bases = [easy] + [_frobenius(easy, i) for i in range(1, len(digits))]
    # Products of every subset of the bases, indexed by the bit mask of the subset.
    table = [_FQ12.one()]
    for base in bases:
        table += [t * base for t in table]
    acc = _FQ12.one()
    for bit in reversed(range(max(d.bit_length() for d in digits))):
        acc = acc * acc
        mask = sum(((d >> bit) & 1) << i for i, d in enumerate(digits))
        if mask:
            acc = acc * table[mask]
    return acc
