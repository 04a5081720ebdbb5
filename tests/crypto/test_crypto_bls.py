"""Signing, verification, aggregation and the contracts' pairing equations.

Each pairing check costs about a quarter of a second in Python, so each test proves one behaviour
with as few checks as it takes.
"""

from __future__ import annotations

import dataclasses

import pytest
from eth_hash.auto import keccak

from operator_node.crypto.bls import (
    BlsKeyPair,
    PubkeyRegistrationParams,
    aggregate_pubkeys_g1,
    aggregate_pubkeys_g2,
    aggregate_signatures,
    batch_verify,
    check_aggregate_signature,
    check_registration_params,
    operator_id_of,
    verify,
)
from operator_node.crypto.bn254 import (
    CURVE_ORDER,
    G1_GENERATOR,
    G1_INFINITY,
    G1Point,
    G2Point,
    g1_add,
    hash_to_g1,
)
from operator_node.crypto.errors import (
    InvalidBatchError,
    InvalidMessageError,
    InvalidPointError,
    InvalidScalarError,
    RegistrationProofError,
)

MESSAGE = keccak(b"batch header hash")
OTHER_MESSAGE = keccak(b"another batch header hash")


def keys(count: int, label: str = "key") -> list[BlsKeyPair]:
    return [BlsKeyPair(int.from_bytes(keccak(f"{label} {i}".encode()), "big") % CURVE_ORDER)
            for i in range(count)]  # fmt: skip


def test_keypair_rejects_secrets_outside_one_to_r() -> None:
    for bad in (0, CURVE_ORDER, -1, CURVE_ORDER + 5):
        with pytest.raises(InvalidScalarError):
            BlsKeyPair(bad)
    with pytest.raises(InvalidScalarError):
        BlsKeyPair(True)
    with pytest.raises(InvalidScalarError):
        BlsKeyPair.from_secret(b"\x01" * 31)
    with pytest.raises(InvalidScalarError):
        BlsKeyPair.from_secret(CURVE_ORDER.to_bytes(32, "big"))


def test_keypair_encodings_and_repr_never_show_the_secret() -> None:
    secret = 0x1234567890ABCDEF1234567890ABCDEF
    keypair = BlsKeyPair.from_secret(secret.to_bytes(32, "big"))
    assert keypair.secret_bytes() == secret.to_bytes(32, "big")
    assert len(keypair.pubkey_g1) == 64 and len(keypair.pubkey_g2) == 128
    assert keypair.operator_id == keccak(keypair.pubkey_g1) == operator_id_of(keypair.pubkey_g1)
    text = repr(keypair)
    assert str(secret) not in text and f"{secret:x}" not in text
    assert keypair.operator_id.hex() in text


def test_generate_draws_distinct_valid_keys() -> None:
    generated = {BlsKeyPair.generate().pubkey_g1 for _ in range(4)}
    assert len(generated) == 4


def test_sign_refuses_a_message_hash_that_is_not_32_bytes() -> None:
    keypair = keys(1)[0]
    for bad in (b"", b"\x00" * 31, b"\x00" * 33):
        with pytest.raises(InvalidMessageError):
            keypair.sign(bad)
    with pytest.raises(InvalidPointError):
        keypair.sign_g1_point(G1_INFINITY)


def test_verify_accepts_the_signature_and_rejects_wrong_message_key_or_point() -> None:
    signer, other = keys(2)
    signature = signer.sign(MESSAGE)
    assert verify(signature, MESSAGE, signer.pubkey_g2)
    assert not verify(signature, OTHER_MESSAGE, signer.pubkey_g2)
    assert not verify(signature, MESSAGE, other.pubkey_g2)
    tampered = g1_add(G1Point.from_bytes(signature), G1_GENERATOR).to_bytes()
    assert not verify(tampered, MESSAGE, signer.pubkey_g2)


def test_verify_raises_for_bytes_that_are_not_points() -> None:
    signer = keys(1)[0]
    signature = bytearray(signer.sign(MESSAGE))
    signature[63] ^= 1
    with pytest.raises(InvalidPointError):
        verify(bytes(signature), MESSAGE, signer.pubkey_g2)
    with pytest.raises(InvalidPointError):
        verify(signer.sign(MESSAGE), MESSAGE, signer.pubkey_g2[:-1])
    with pytest.raises(InvalidMessageError):
        verify(signer.sign(MESSAGE), MESSAGE[:16], signer.pubkey_g2)


def test_aggregate_signature_verifies_against_the_aggregate_g2_key() -> None:
    signers = keys(3)
    signature = aggregate_signatures(k.sign(MESSAGE) for k in signers)
    assert verify(signature, MESSAGE, aggregate_pubkeys_g2(k.pubkey_g2 for k in signers))
    expected_g1 = BlsKeyPair(
        sum(int.from_bytes(k.secret_bytes(), "big") for k in signers) % CURVE_ORDER
    )
    assert aggregate_pubkeys_g1(k.pubkey_g1 for k in signers) == expected_g1.pubkey_g1
    for aggregate in (aggregate_signatures, aggregate_pubkeys_g1, aggregate_pubkeys_g2):
        with pytest.raises(InvalidBatchError):
            aggregate([])


def test_batch_verify_accepts_valid_signatures_and_rejects_one_bad_one() -> None:
    signers = keys(5)
    signatures = [k.sign(MESSAGE) for k in signers]
    pubkeys = [G2Point.from_bytes(k.pubkey_g2) for k in signers]
    assert batch_verify(MESSAGE, signatures, pubkeys)
    signatures[2] = signers[2].sign(OTHER_MESSAGE)
    assert not batch_verify(MESSAGE, signatures, pubkeys)


def test_batch_verify_refuses_empty_or_uneven_batches() -> None:
    signer = keys(1)[0]
    with pytest.raises(InvalidBatchError):
        batch_verify(MESSAGE, [], [])
    with pytest.raises(InvalidBatchError):
        batch_verify(MESSAGE, [signer.sign(MESSAGE)], [])


def test_registration_params_pass_the_registry_equation() -> None:
    keypair = keys(1, "operator")[0]
    message_point = hash_to_g1(keccak(b"pubkeyRegistrationMessageHash"))
    params = keypair.registration_params(message_point)  # raises if the local check fails
    assert params.pubkey_registration_signature == keypair.sign_g1_point(message_point)
    assert params.to_abi() == (
        params.pubkey_registration_signature.to_abi(),
        keypair.pubkey_g1_point.to_abi(),
        keypair.pubkey_g2_point.to_abi(),
    )


def test_registration_check_fails_when_any_point_is_replaced() -> None:
    keypair, other = keys(2, "operator")
    message_point = hash_to_g1(keccak(b"pubkeyRegistrationMessageHash"))
    params = PubkeyRegistrationParams(
        pubkey_registration_signature=keypair.sign_g1_point(message_point),
        pubkey_g1=keypair.pubkey_g1_point,
        pubkey_g2=keypair.pubkey_g2_point,
    )
    replaced = [
        dataclasses.replace(
            params, pubkey_registration_signature=other.sign_g1_point(message_point)
        ),
        dataclasses.replace(params, pubkey_g1=other.pubkey_g1_point),
        dataclasses.replace(params, pubkey_g2=other.pubkey_g2_point),
    ]
    for changed in replaced:
        assert not check_registration_params(changed, message_point)
    assert not check_registration_params(params, hash_to_g1(keccak(b"another operator")))
    assert not check_registration_params(
        dataclasses.replace(params, pubkey_g1=G1_INFINITY), message_point
    )


def test_registration_coordinates_changed_by_one_no_longer_decode() -> None:
    keypair = keys(1, "operator")[0]
    message_point = hash_to_g1(keccak(b"pubkeyRegistrationMessageHash"))
    params = keypair.registration_params(message_point)
    encoded = [
        (G1Point.from_bytes, params.pubkey_registration_signature.to_bytes()),
        (G1Point.from_bytes, params.pubkey_g1.to_bytes()),
        (G2Point.from_bytes, params.pubkey_g2.to_bytes()),
        (G1Point.from_bytes, message_point.to_bytes()),
    ]
    for decode, data in encoded:
        for word in range(len(data) // 32):
            changed = bytearray(data)
            changed[32 * word + 31] ^= 1
            with pytest.raises(InvalidPointError):
                decode(bytes(changed))


def test_registration_params_raise_when_the_local_check_fails() -> None:
    class BrokenKeyPair(BlsKeyPair):
        __slots__ = ()

        def sign_g1_point(self, point: G1Point) -> G1Point:
            return g1_add(super().sign_g1_point(point), G1_GENERATOR)

    broken = BrokenKeyPair(12345)
    with pytest.raises(RegistrationProofError):
        broken.registration_params(hash_to_g1(MESSAGE))


def test_aggregate_check_predicts_the_signature_checker() -> None:
    signers = keys(3, "signer")
    sigma = G1Point.from_bytes(aggregate_signatures(k.sign(MESSAGE) for k in signers[:2]))
    apk_two = G1Point.from_bytes(aggregate_pubkeys_g1(k.pubkey_g1 for k in signers[:2]))
    apk_g2_two = G2Point.from_bytes(aggregate_pubkeys_g2(k.pubkey_g2 for k in signers[:2]))
    assert check_aggregate_signature(MESSAGE, apk_two, apk_g2_two, sigma)
    # The third operator did not sign but is counted in the G1 aggregate: the check must fail.
    apk_all = G1Point.from_bytes(aggregate_pubkeys_g1(k.pubkey_g1 for k in signers))
    assert not check_aggregate_signature(MESSAGE, apk_all, apk_g2_two, sigma)
