"""Point decoding, group arithmetic and the pairing check of ``operator_node.crypto.bn254``."""

from __future__ import annotations

import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_ecc.fields import optimized_bn128_FQ2 as FQ2
from py_ecc.fields import optimized_bn128_FQ12 as FQ12
from py_ecc.optimized_bn128 import optimized_curve, optimized_pairing

from operator_node.crypto.bn254 import (
    B2,
    CURVE_ORDER,
    FIELD_MODULUS,
    G1_GENERATOR,
    G1_INFINITY,
    G2_GENERATOR,
    G2_INFINITY,
    G1Point,
    G2Point,
    final_exponentiate,
    g1_add,
    g1_msm,
    g1_multiply,
    g1_neg,
    g1_sum,
    g2_add,
    g2_msm,
    g2_multiply,
    g2_neg,
    g2_sum,
    hash_to_g1,
    pairing_check,
)
from operator_node.crypto.errors import InvalidMessageError, InvalidPointError

P = FIELD_MODULUS
# BN254.sol's generatorG2(): G2Point([G2x1, G2x0], [G2y1, G2y0]), imaginary parts first.
SOL_G2X1 = 11559732032986387107991004021392285783925812861821192530917403151452391805634
SOL_G2X0 = 10857046999023057135944570762232829481370756359578518086990519993285655852781
SOL_G2Y1 = 4082367875863433681332203403145435568316851327593401208105741076214120093531
SOL_G2Y0 = 8495653923123431417604973247489272438418190587263600148770280649306958101930
# BN254.sol's negGeneratorG2() Y coordinates.
SOL_NG2Y1 = 17805874995975841540914202342111839520379459829704422454583296818431106115052
SOL_NG2Y0 = 13392588948715843804641432497768002650278120570034223513918757245338268106653


def words(*values: int) -> bytes:
    return b"".join(v.to_bytes(32, "big") for v in values)


def twist_point_outside_subgroup() -> G2Point:
    """A point on the twist curve that is not in G2 (the twist's cofactor is huge)."""
    for x0 in range(1, 100):
        x = FQ2([x0, 1])
        rhs = x * x * x + FQ2(list(B2))
        # Square root in Fp2 for p = 3 mod 4 (Adj and Rodriguez-Henriquez, algorithm 9).
        a1 = rhs ** ((P - 3) // 4)
        alpha = a1 * a1 * rhs
        if alpha**P * alpha == FQ2([P - 1, 0]):
            continue  # not a square
        x0_root = a1 * rhs
        y = (
            FQ2([0, 1]) * x0_root
            if alpha == FQ2([P - 1, 0])
            else (alpha + FQ2.one()) ** ((P - 1) // 2) * x0_root
        )
        assert y * y == rhs
        return G2Point(*(int(c) for c in (*x.coeffs, *y.coeffs)))
    raise AssertionError("no square found")


def test_g2_generator_bytes_follow_eip197_and_the_solidity_library() -> None:
    assert G2_GENERATOR.to_abi() == ((SOL_G2X1, SOL_G2X0), (SOL_G2Y1, SOL_G2Y0))
    assert G2_GENERATOR.to_bytes() == words(SOL_G2X1, SOL_G2X0, SOL_G2Y1, SOL_G2Y0)
    assert g2_neg(G2_GENERATOR).to_abi() == ((SOL_G2X1, SOL_G2X0), (SOL_NG2Y1, SOL_NG2Y0))
    assert G2Point.from_abi((SOL_G2X1, SOL_G2X0), (SOL_G2Y1, SOL_G2Y0)) == G2_GENERATOR
    assert G2Point.from_bytes(G2_GENERATOR.to_bytes()) == G2_GENERATOR


def test_g1_decode_round_trips_and_rejects_each_kind_of_bad_point() -> None:
    point = g1_multiply(G1_GENERATOR, 123456789)
    assert G1Point.from_bytes(point.to_bytes()) == point
    with pytest.raises(InvalidPointError, match="64 bytes"):
        G1Point.from_bytes(point.to_bytes()[:63])
    with pytest.raises(InvalidPointError, match="field modulus"):
        G1Point.from_bytes(words(point.x + P, point.y))
    with pytest.raises(InvalidPointError, match="field modulus"):
        G1Point.from_bytes(words(point.x, point.y + P))
    with pytest.raises(InvalidPointError, match="not on the curve"):
        G1Point.from_bytes(words(point.x, (point.y + 1) % P))
    with pytest.raises(InvalidPointError, match="infinity"):
        G1Point.from_bytes(bytes(64))
    assert G1Point.from_bytes(bytes(64), allow_infinity=True) == G1_INFINITY


def test_g2_decode_rejects_each_kind_of_bad_point() -> None:
    good = g2_multiply(G2_GENERATOR, 987654321)
    encoded = bytearray(good.to_bytes())
    with pytest.raises(InvalidPointError, match="128 bytes"):
        G2Point.from_bytes(bytes(encoded[:127]))
    with pytest.raises(InvalidPointError, match="field modulus"):
        G2Point.from_coordinates(good.x_re, good.x_im + P, good.y_re, good.y_im)
    encoded[127] ^= 1
    with pytest.raises(InvalidPointError, match="twist curve"):
        G2Point.from_bytes(bytes(encoded))
    outside = twist_point_outside_subgroup()
    with pytest.raises(InvalidPointError, match="subgroup"):
        G2Point.from_bytes(outside.to_bytes())
    with pytest.raises(InvalidPointError, match="infinity"):
        G2Point.from_bytes(bytes(128))
    assert G2Point.from_bytes(bytes(128), allow_infinity=True) == G2_INFINITY


def test_hash_to_g1_refuses_digests_that_are_not_32_bytes() -> None:
    with pytest.raises(InvalidMessageError):
        hash_to_g1(b"\x01" * 31)


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=0, max_value=2**256), st.integers(min_value=0, max_value=2**256))
def test_g1_arithmetic_is_linear(a: int, b: int) -> None:
    pa, pb = g1_multiply(G1_GENERATOR, a), g1_multiply(G1_GENERATOR, b)
    assert g1_add(pa, pb) == g1_multiply(G1_GENERATOR, a + b)
    assert g1_msm([pa, pb], [3, 5]) == g1_multiply(G1_GENERATOR, 3 * a + 5 * b)
    assert g1_add(pa, g1_neg(pa)) == G1_INFINITY


def test_group_orders_and_identities() -> None:
    assert g1_multiply(G1_GENERATOR, CURVE_ORDER) == G1_INFINITY
    assert g1_multiply(G1_GENERATOR, CURVE_ORDER + 7) == g1_multiply(G1_GENERATOR, 7)
    assert g2_multiply(G2_GENERATOR, CURVE_ORDER) == G2_INFINITY
    assert g1_sum([]) == G1_INFINITY and g2_sum([]) == G2_INFINITY
    assert g1_add(G1_INFINITY, G1_GENERATOR) == G1_GENERATOR
    assert g2_add(G2_GENERATOR, G2_GENERATOR) == g2_multiply(G2_GENERATOR, 2)
    assert g2_add(G2_GENERATOR, g2_neg(G2_GENERATOR)) == G2_INFINITY


def test_g2_multiply_and_msm_agree_with_py_ecc() -> None:
    a, b = secrets.randbelow(CURVE_ORDER), secrets.randbelow(CURVE_ORDER)
    ref = optimized_curve.normalize(optimized_curve.multiply(optimized_curve.G2, a))
    ours = g2_multiply(G2_GENERATOR, a)
    assert (ours.x_re, ours.x_im) == tuple(ref[0].coeffs)
    assert (ours.y_re, ours.y_im) == tuple(ref[1].coeffs)
    pb = g2_multiply(G2_GENERATOR, b)
    assert g2_msm([ours, pb], [11, 13]) == g2_multiply(G2_GENERATOR, 11 * a + 13 * b)


def test_final_exponentiation_equals_py_ecc() -> None:
    element = FQ12([secrets.randbelow(P) for _ in range(12)])
    assert final_exponentiate(element) == optimized_pairing.final_exponentiate(element)


def test_pairing_check_is_bilinear_and_rejects_a_wrong_product() -> None:
    a, b = secrets.randbelow(CURVE_ORDER - 1) + 1, secrets.randbelow(CURVE_ORDER - 1) + 1
    pa, qb = g1_multiply(G1_GENERATOR, a), g2_multiply(G2_GENERATOR, b)
    minus_ab = g1_neg(g1_multiply(G1_GENERATOR, a * b))
    assert pairing_check([(pa, qb), (minus_ab, G2_GENERATOR)])
    assert not pairing_check([(pa, qb), (g1_add(minus_ab, G1_GENERATOR), G2_GENERATOR)])
    assert pairing_check([(G1_INFINITY, qb), (pa, G2_INFINITY)])
