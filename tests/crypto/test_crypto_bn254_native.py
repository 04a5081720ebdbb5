"""The C G1 multiplication and hash-to-G1 against the Python code and py_ecc; the backend switch.

The native backend is compared with the pure-Python code it replaces (forced through the same
environment variable a deployment would use) and with py_ecc's own multiplication, which shares
nothing with either. The kernel is also called directly with unreduced scalars, which reach the
cases its masked selects exist for (a sum of equal points, of opposite points, a zero window).
Native tests are skipped, with the reason, only where the C extension was not built.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_ecc.fields import optimized_bn128_FQ as FQ
from py_ecc.optimized_bn128 import optimized_curve as ecc
from support.probe import run_probe

from operator_node.crypto.bls import BlsKeyPair
from operator_node.crypto.bn254 import (
    BACKEND_ENV,
    CURVE_ORDER,
    FIELD_MODULUS,
    G1_GENERATOR,
    G1_INFINITY,
    Bn254BackendError,
    G1Point,
    g1_backend,
    g1_multiply,
    g1_neg,
    hash_to_g1,
)
from operator_node.crypto.errors import CryptoError, InvalidPointError

try:
    from operator_node.crypto import _bn254 as NATIVE
except ImportError:  # the build failed: the native tests skip and say so
    NATIVE = None  # type: ignore[assignment]

R, P = CURVE_ORDER, FIELD_MODULUS
needs_native = pytest.mark.skipif(
    NATIVE is None, reason="the C extension operator_node.crypto._bn254 failed to build"
)
VECTORS = json.loads((Path(__file__).parent / "vectors" / "bn254_bls.json").read_text())
ROOT = Path(__file__).resolve().parents[2]

EDGE_SCALARS = [
    0,
    1,
    2,
    3,
    15,
    16,
    17,
    R - 1,
    R,
    R + 1,
    2**255,
    2**256 - 1,
    2**256 + 5,
    -1,
    -(2**300),
]


@contextmanager
def backend(name: str | None) -> Iterator[None]:
    """Set (None: unset) the backend variable for the block; g1_multiply reads it per call."""
    saved = os.environ.get(BACKEND_ENV)
    if name is None:
        os.environ.pop(BACKEND_ENV, None)
    else:
        os.environ[BACKEND_ENV] = name
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(BACKEND_ENV, None)
        else:
            os.environ[BACKEND_ENV] = saved


def on(name: str, point: G1Point, scalar: int) -> G1Point:
    """g1_multiply on the named backend."""
    with backend(name):
        return g1_multiply(point, scalar)


def py_ecc_multiply(point: G1Point, scalar: int) -> G1Point:
    """py_ecc's own double-and-add, for a non-negative scalar."""
    result = ecc.multiply((FQ(point.x), FQ(point.y), FQ.one()), scalar)
    if ecc.is_inf(result):
        return G1_INFINITY
    x, y = ecc.normalize(result)
    return G1Point(int(x), int(y))


def kernel(point: G1Point, scalar: int) -> G1Point:
    """The C function itself, with a scalar that need not be reduced (any value below 2^256)."""
    out = NATIVE.g1_multiply(point.to_bytes(), scalar.to_bytes(32, "big"))
    return G1Point(int.from_bytes(out[:32], "big"), int.from_bytes(out[32:], "big"))


points = st.one_of(
    st.binary(min_size=32, max_size=32).map(hash_to_g1),
    st.integers(1, R - 1).map(lambda k: on("python", G1_GENERATOR, k)),
)


@needs_native
@settings(max_examples=25, deadline=None)
@given(point=points, scalar=st.integers(min_value=0, max_value=2**256 - 1))
def test_bn254_native_matches_python_and_py_ecc(point: G1Point, scalar: int) -> None:
    native = on("native", point, scalar)
    assert native == on("python", point, scalar)
    assert native == py_ecc_multiply(point, scalar)


@needs_native
@pytest.mark.parametrize("scalar", EDGE_SCALARS)
def test_bn254_native_edge_scalars_match_python(scalar: int) -> None:
    for point in (G1_GENERATOR, hash_to_g1(bytes(32))):
        assert on("native", point, scalar) == on("python", point, scalar)


@needs_native
def test_bn254_native_edge_scalars_have_the_expected_values() -> None:
    point = hash_to_g1(b"\x07" * 32)
    with backend("native"):
        assert g1_multiply(point, 0) == G1_INFINITY
        assert g1_multiply(point, R) == G1_INFINITY
        assert g1_multiply(point, 1) == point
        assert g1_multiply(point, R + 1) == point
        assert g1_multiply(point, R - 1) == g1_neg(point)
        assert g1_multiply(point, -1) == g1_neg(point)
        assert g1_multiply(G1_GENERATOR, R - 1) == G1Point(1, P - 2)
        assert g1_multiply(G1_GENERATOR, 2) == py_ecc_multiply(G1_GENERATOR, 2)
        assert g1_multiply(G1_GENERATOR, 2**255) == py_ecc_multiply(G1_GENERATOR, 2**255)


@needs_native
def test_bn254_native_infinity_input_gives_infinity() -> None:
    for name in ("native", "python"):
        assert on(name, G1_INFINITY, 5) == G1_INFINITY
        assert on(name, G1_INFINITY, R - 1) == G1_INFINITY


@needs_native
@pytest.mark.parametrize(
    ("scalar", "expected"),
    [
        (0, 0),  # every window zero: the accumulator stays infinity throughout
        (16, 16),  # a zero window added to a finite accumulator
        (R, 0),  # last addition is (r - 1)P + P: opposite points, Z = 0 from the formula
        (R + 30, 30),  # last addition is (r + 15)P + 15P = 15P + 15P: the doubling select
        (2**256 - 1, (2**256 - 1) % R),
    ],
)
def test_bn254_native_kernel_handles_unreduced_scalars(scalar: int, expected: int) -> None:
    for point in (G1_GENERATOR, hash_to_g1(b"\x01" * 32)):
        assert kernel(point, scalar) == on("python", point, expected)


@needs_native
def test_bn254_native_kernel_infinity_is_all_zero_bytes() -> None:
    assert NATIVE.g1_multiply(G1_GENERATOR.to_bytes(), R.to_bytes(32, "big")) == bytes(64)


@needs_native
@pytest.mark.parametrize(
    "point",
    [G1Point(1, 3), G1Point(P, 2), G1Point(1, P + 2), G1Point(-1, 2), G1Point(2**256, 2)],
    ids=["off-curve", "x=p", "y>p", "negative", "x>=2^256"],
)
def test_bn254_native_refuses_an_invalid_point(point: G1Point) -> None:
    with backend("native"), pytest.raises(InvalidPointError):
        g1_multiply(point, 12345)


@needs_native
def test_bn254_native_kernel_refuses_bad_arguments() -> None:
    good_point, good_scalar = G1_GENERATOR.to_bytes(), (5).to_bytes(32, "big")
    with pytest.raises(ValueError, match="not on the curve"):
        NATIVE.g1_multiply(bytes(64), good_scalar)  # infinity is not an input
    with pytest.raises(ValueError, match="64-byte point"):
        NATIVE.g1_multiply(good_point[:63], good_scalar)
    with pytest.raises(ValueError, match="32-byte scalar"):
        NATIVE.g1_multiply(good_point, good_scalar + b"\x00")
    with pytest.raises(TypeError):
        NATIVE.g1_multiply(bytearray(good_point), good_scalar)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        NATIVE.g1_multiply(good_point)  # type: ignore[call-arg]


@needs_native
def test_bn254_native_is_correct_from_concurrent_threads() -> None:
    # The GIL is released around the arithmetic: results must not depend on what else runs.
    jobs = [(hash_to_g1(bytes([i]) * 32), R - 1000 * i - 1) for i in range(16)]
    with backend("native"), ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: g1_multiply(*job), jobs))
    assert results == [on("python", point, scalar) for point, scalar in jobs]


def hash_on(name: str, digest: bytes) -> G1Point:
    """hash_to_g1 on the named backend."""
    with backend(name):
        return hash_to_g1(digest)


@needs_native
@settings(max_examples=50, deadline=None)
@given(digest=st.binary(min_size=32, max_size=32))
def test_bn254_native_hash_to_g1_matches_python(digest: bytes) -> None:
    assert hash_on("native", digest) == hash_on("python", digest)


@needs_native
@pytest.mark.parametrize(
    "value", [0, 1, P - 1, P, P + 1, 2 * P, 2**256 - 1], ids=lambda v: hex(v)[:12]
)
def test_bn254_native_hash_to_g1_edge_digests(value: int) -> None:
    # Digests >= p are reduced first (up to five subtractions of p in C).
    digest = value.to_bytes(32, "big")
    native = hash_on("native", digest)
    assert native == hash_on("python", digest)
    assert (native.y**2 - native.x**3 - 3) % P == 0


@needs_native
def test_bn254_native_hash_to_g1_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="32-byte digest"):
        NATIVE.hash_to_g1(bytes(31))
    with pytest.raises(TypeError):
        NATIVE.hash_to_g1(bytearray(32))  # type: ignore[arg-type]


def xy(obj: dict[str, str]) -> G1Point:
    return G1Point(int(obj["x"]), int(obj["y"]))


@pytest.mark.parametrize("name", ["native", "python"])
def test_bn254_native_hash_and_signing_vectors_pass_on_each_backend(name: str) -> None:
    if name == "native" and NATIVE is None:
        pytest.skip("the C extension operator_node.crypto._bn254 failed to build")
    with backend(name):
        for vector in VECTORS["hash_to_g1"]:
            point = hash_to_g1(bytes.fromhex(vector["digest"][2:]))
            assert point == xy(vector), vector["note"]
        for vector in VECTORS["signatures"]:
            keypair = BlsKeyPair(int(vector["secret"]))
            message = bytes.fromhex(vector["message"][2:])
            assert keypair.pubkey_g1_point == xy(vector["pubkey_g1"]), vector["note"]
            assert keypair.sign(message) == xy(vector["signature"]).to_bytes(), vector["note"]
        registration: dict[str, Any] = VECTORS["registration"]
        signed = BlsKeyPair(int(registration["secret"])).sign_g1_point(
            xy(registration["message_point"])
        )
        assert signed == xy(registration["pubkey_registration_signature"])


def test_bn254_backend_env_selects_and_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    default = "native" if NATIVE is not None else "python"
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    assert g1_backend() == default
    for value, expected in (("auto", default), ("", default), (" Python ", "python")):
        monkeypatch.setenv(BACKEND_ENV, value)
        assert g1_backend() == expected
    monkeypatch.setenv(BACKEND_ENV, "gpu")
    with pytest.raises(Bn254BackendError, match=f"unknown BN254 backend 'gpu' from {BACKEND_ENV}"):
        g1_backend()
    with pytest.raises(Bn254BackendError):
        g1_multiply(G1_GENERATOR, 5)
    assert issubclass(Bn254BackendError, CryptoError)


@needs_native
def test_bn254_backend_env_native_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BACKEND_ENV, "native")
    assert g1_backend() == "native"


# A fresh interpreter: what it selects and whether it signs the first vector, or the error it gets.
PROBE = """
import json, sys
if sys.argv[1] == "no-extension":
    sys.modules["operator_node.crypto._bn254"] = None  # as if the C build had failed
from operator_node.crypto import bn254
from operator_node.crypto.bls import BlsKeyPair
vector = json.loads(sys.argv[2])
try:
    backend = bn254.g1_backend()
    signature = BlsKeyPair(int(vector["secret"])).sign(bytes.fromhex(vector["message"][2:]))
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
else:
    expected = int(vector["signature"]["x"]).to_bytes(32, "big")
    expected += int(vector["signature"]["y"]).to_bytes(32, "big")
    print(json.dumps({"backend": backend, "ok": signature == expected}))
"""


def probe(mode: str, env_value: str | None) -> dict[str, object]:
    vector = json.dumps(VECTORS["signatures"][-1])
    return run_probe(PROBE, mode, vector, variable=BACKEND_ENV, value=env_value)


@needs_native
def test_bn254_backend_env_python_is_honoured_by_a_fresh_process() -> None:
    assert probe("normal", "python") == {"backend": "python", "ok": True}


def test_bn254_backend_without_extension_falls_back_to_python() -> None:
    assert probe("no-extension", None) == {"backend": "python", "ok": True}


def test_bn254_backend_without_extension_refuses_native() -> None:
    result = probe("no-extension", "native")
    assert result["error"] == "Bn254BackendError"
    assert "not built" in str(result["message"]) and BACKEND_ENV in str(result["message"])


def test_bn254_native_extension_is_built_here() -> None:
    # CI has a C compiler: signing must run in C there, not silently fall back to Python.
    assert NATIVE is not None, "operator_node.crypto._bn254 did not build"
