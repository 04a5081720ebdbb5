"""Known-answer vectors, checked against our code and against an independent implementation.

The reference below is deliberately naive and shares nothing with ``operator_node.crypto``:
affine formulas with modular inverses, double-and-add from the least significant bit, and
hashToG1 written from the Solidity source (the exponent is the literal constant in
``BN254.findYFromX``). G2 keys are checked with py_ecc's own multiplication and, all at once, with
one pairing check per equation.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st
from py_ecc.optimized_bn128 import optimized_curve as ecc

from operator_node.crypto.bls import (
    NEG_G2_GENERATOR,
    BlsKeyPair,
    PubkeyRegistrationParams,
    aggregate_signature_gamma,
    check_aggregate_signature,
    check_registration_params,
    registration_gamma,
)
from operator_node.crypto.bn254 import (
    G1_GENERATOR,
    G1Point,
    G2Point,
    g1_msm,
    hash_to_g1,
    pairing_check,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "bn254_bls.json").read_text())
P = 21888242871839275222246405745257275088696311157297823662689037894645226208583
R = 21888242871839275222246405745257275088548364400416034343698204186575808495617
FIND_Y_EXPONENT = 0xC19139CB84C680A6E14116DA060561765E05AA45A1C72A34F082305B61F3F52

Affine = tuple[int, int] | None


def ref_add(a: Affine, b: Affine) -> Affine:
    if a is None:
        return b
    if b is None:
        return a
    (x1, y1), (x2, y2) = a, b
    if x1 == x2 and (y1 + y2) % P == 0:
        return None
    numerator, denominator = (3 * x1 * x1, 2 * y1) if a == b else (y2 - y1, x2 - x1)
    slope = numerator * pow(denominator, -1, P) % P
    x3 = (slope * slope - x1 - x2) % P
    return (x3, (slope * (x1 - x3) - y1) % P)


def ref_mul(point: Affine, k: int) -> Affine:
    result: Affine = None
    while k:
        if k & 1:
            result = ref_add(result, point)
        point = ref_add(point, point)
        k >>= 1
    return result


def ref_hash_to_g1(digest: bytes) -> tuple[int, int]:
    x = int.from_bytes(digest, "big") % P
    while True:
        beta = (pow(x, 3, P) + 3) % P
        y = pow(beta, FIND_Y_EXPONENT, P)
        if pow(y, 2, P) == beta:
            return (x, y)
        x = (x + 1) % P


def g1_of(d: dict[str, str]) -> G1Point:
    return G1Point.from_coordinates(int(d["x"]), int(d["y"]))


def g2_of(d: dict[str, str]) -> G2Point:
    return G2Point.from_coordinates(int(d["x_re"]), int(d["x_im"]), int(d["y_re"]), int(d["y_im"]))


def xy(d: dict[str, str]) -> tuple[int, int]:
    return (int(d["x"]), int(d["y"]))


def test_vectors_constants_match_the_solidity_library() -> None:
    assert int(VECTORS["field_modulus"]) == P and int(VECTORS["curve_order"]) == R
    assert (P + 1) // 4 == FIND_Y_EXPONENT


def test_vectors_hash_to_g1_matches_reference_and_ours() -> None:
    for vector in VECTORS["hash_to_g1"]:
        digest = bytes.fromhex(vector["digest"][2:])
        expected = xy(vector)
        assert ref_hash_to_g1(digest) == expected, vector["note"]
        point = hash_to_g1(digest)
        assert (point.x, point.y) == expected, vector["note"]
        assert (point.x - int.from_bytes(digest, "big") % P) % P == vector["increments"]


def test_vectors_g1_keys_signatures_and_ids_match_reference_and_ours() -> None:
    for vector in VECTORS["signatures"]:
        secret = int(vector["secret"])
        message = bytes.fromhex(vector["message"][2:])
        assert ref_mul((1, 2), secret) == xy(vector["pubkey_g1"]), vector["note"]
        signature = ref_mul(ref_hash_to_g1(message), secret)
        assert signature == xy(vector["signature"]), vector["note"]
        ref_id = keccak(b"".join(c.to_bytes(32, "big") for c in xy(vector["pubkey_g1"])))
        assert "0x" + ref_id.hex() == vector["operator_id"]
        keypair = BlsKeyPair(secret)
        assert keypair.pubkey_g1_point == g1_of(vector["pubkey_g1"])
        assert keypair.operator_id.hex() == vector["operator_id"][2:]
        assert keypair.sign(message) == g1_of(vector["signature"]).to_bytes()


def test_vectors_g2_keys_match_py_ecc_and_ours() -> None:
    for vector in VECTORS["signatures"]:
        secret = int(vector["secret"])
        x, y = ecc.normalize(ecc.multiply(ecc.G2, secret))
        g2 = vector["pubkey_g2"]
        assert (x.coeffs[0], x.coeffs[1]) == (int(g2["x_re"]), int(g2["x_im"])), vector["note"]
        assert (y.coeffs[0], y.coeffs[1]) == (int(g2["y_re"]), int(g2["y_im"])), vector["note"]
        assert BlsKeyPair(secret).pubkey_g2_point == g2_of(g2)


def test_vectors_every_signature_and_key_pair_passes_the_pairing_equations() -> None:
    # Random weights fold every vector's two equations (G1/G2 key agreement and the signature)
    # into one pairing check; a single wrong value makes it fail except with probability 2^-128.
    sigs, keys1, keys2, hashes, weights = [], [], [], [], []
    for vector in VECTORS["signatures"]:
        sigs.append(g1_of(vector["signature"]))
        keys1.append(g1_of(vector["pubkey_g1"]))
        keys2.append(g2_of(vector["pubkey_g2"]))
        hashes.append(hash_to_g1(bytes.fromhex(vector["message"][2:])))
        weights.append(secrets.randbits(128))
    extra = [secrets.randbits(128) for _ in weights]
    lhs = g1_msm(sigs + keys1, weights + extra)
    pairs = [(lhs, NEG_G2_GENERATOR)]
    pairs += [(g1_msm([h, G1_GENERATOR], [w, e]), k)
              for h, w, e, k in zip(hashes, weights, extra, keys2, strict=True)]  # fmt: skip
    assert pairing_check(pairs)


def test_vectors_registration_params_and_gamma() -> None:
    vector: dict[str, Any] = VECTORS["registration"]
    message_point = g1_of(vector["message_point"])
    params = PubkeyRegistrationParams(
        pubkey_registration_signature=g1_of(vector["pubkey_registration_signature"]),
        pubkey_g1=g1_of(vector["pubkey_g1"]),
        pubkey_g2=g2_of(vector["pubkey_g2"]),
    )
    packed = b"".join(
        int(v).to_bytes(32, "big")
        for v in (*xy(vector["pubkey_registration_signature"]), *xy(vector["pubkey_g1"]),
                  vector["pubkey_g2"]["x_im"], vector["pubkey_g2"]["x_re"],
                  vector["pubkey_g2"]["y_im"], vector["pubkey_g2"]["y_re"],
                  *xy(vector["message_point"]))
    )  # fmt: skip
    assert int.from_bytes(keccak(packed), "big") % R == int(vector["gamma"])
    assert registration_gamma(params, message_point) == int(vector["gamma"])
    assert ref_mul(xy(vector["message_point"]), int(vector["secret"])) == xy(
        vector["pubkey_registration_signature"]
    )
    assert check_registration_params(params, message_point)


def test_vectors_aggregate_signature_and_gamma() -> None:
    vector: dict[str, Any] = VECTORS["aggregate"]
    message = bytes.fromhex(vector["message"][2:])
    secrets_ = [int(s) for s in vector["secrets"]]
    apk: Affine = None
    sigma: Affine = None
    for s in secrets_:
        apk = ref_add(apk, ref_mul((1, 2), s))
        sigma = ref_add(sigma, ref_mul(ref_hash_to_g1(message), s))
    assert apk == xy(vector["apk_g1"]) and sigma == xy(vector["sigma"])
    apk_g1, apk_g2, sig = g1_of(vector["apk_g1"]), g2_of(vector["apk_g2"]), g1_of(vector["sigma"])
    assert apk_g2 == BlsKeyPair(sum(secrets_) % R).pubkey_g2_point
    packed = message + apk_g1.to_bytes() + apk_g2.to_bytes() + sig.to_bytes()
    assert int.from_bytes(keccak(packed), "big") % R == int(vector["gamma"])
    assert aggregate_signature_gamma(message, apk_g1, apk_g2, sig) == int(vector["gamma"])
    assert check_aggregate_signature(message, apk_g1, apk_g2, sig)


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_hash_to_g1_matches_reference_on_random_digests(digest: bytes) -> None:
    point = hash_to_g1(digest)
    assert (point.x, point.y) == ref_hash_to_g1(digest)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=R - 1), st.binary(min_size=32, max_size=32))
def test_sign_matches_reference_multiplication(secret: int, message: bytes) -> None:
    keypair = BlsKeyPair(secret)
    assert (keypair.pubkey_g1_point.x, keypair.pubkey_g1_point.y) == ref_mul((1, 2), secret)
    expected = ref_mul(ref_hash_to_g1(message), secret)
    assert expected is not None
    assert keypair.sign(message) == b"".join(c.to_bytes(32, "big") for c in expected)
