"""Write ``tests/crypto/vectors/bn254_bls.json``, the BLS known-answer vectors.

Run once from the repository root (``.venv/bin/python tests/crypto/make_vectors.py``); the output is
committed. ``test_crypto_vectors.py`` checks every value against our implementation *and* against
an independent one written in the test (plain affine arithmetic for hashToG1 and G1
multiplications, py_ecc for G2 multiplications, pairings for the signatures); the contracts' tests
check the same file on chain. The file format is described in ``vectors/README.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_hash.auto import keccak

from operator_node.crypto.bls import (
    BlsKeyPair,
    aggregate_pubkeys_g1,
    aggregate_pubkeys_g2,
    aggregate_signature_gamma,
    aggregate_signatures,
    check_aggregate_signature,
    registration_gamma,
)
from operator_node.crypto.bn254 import CURVE_ORDER, FIELD_MODULUS, G1Point, G2Point, hash_to_g1

OUT = Path(__file__).parent / "vectors" / "bn254_bls.json"

# A secret from eigensdk-go's public test data with the G1 key gnark-crypto wrote for it: a
# known answer computed by an implementation independent of ours.
EIGENSDK_SECRET = 2695733600625131346122864983303466385927445828993184612262398097053003827945
EIGENSDK_PUBKEY = (
    20770760626397288647989719952430268435412940027317835986854114355284449304367,
    14860742301798284656486681596150725088757741265286915113692865360170725264111,
)


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _g1(point: G1Point) -> dict[str, str]:
    return {"x": str(point.x), "y": str(point.y)}


def _g2(point: G2Point) -> dict[str, str]:
    return {
        "x_im": str(point.x_im),
        "x_re": str(point.x_re),
        "y_im": str(point.y_im),
        "y_re": str(point.y_re),
    }


def _increments(digest: bytes) -> int:
    return (hash_to_g1(digest).x - int.from_bytes(digest, "big") % FIELD_MODULUS) % FIELD_MODULUS


def _hash_digests() -> list[tuple[str, bytes]]:
    digests = [
        ("zero", bytes(32)),
        ("one", (1).to_bytes(32, "big")),
        ("keccak256 of the empty string", keccak(b"")),
        ("all ones, above p: reduced mod p", b"\xff" * 32),
        ("p itself: x starts at 0", FIELD_MODULUS.to_bytes(32, "big")),
        ("p - 1: beta = 2, a square mod p", (FIELD_MODULUS - 1).to_bytes(32, "big")),
    ]
    digests += [(f"keccak256('hashToG1 vector {i}')", keccak(f"hashToG1 vector {i}".encode()))
                for i in range(6)]  # fmt: skip
    # The first few digests that need at least three increments.
    found, i = 0, 0
    while found < 2:
        digest = keccak(f"several increments {i}".encode())
        if _increments(digest) >= 3:
            digests.append((f"keccak256('several increments {i}')", digest))
            found += 1
        i += 1
    return digests


def _hash_vectors() -> list[dict[str, Any]]:
    out = []
    for note, digest in _hash_digests():
        point = hash_to_g1(digest)
        out.append({"note": note, "digest": _hex(digest), **_g1(point),
                    "increments": _increments(digest)})  # fmt: skip
    return out


def _secrets() -> list[tuple[str, int]]:
    return [
        ("one", 1),
        ("two", 2),
        ("r - 1", CURVE_ORDER - 1),
        ("keccak256('secret 0') mod r", int.from_bytes(keccak(b"secret 0"), "big") % CURVE_ORDER),
        ("keccak256('secret 1') mod r", int.from_bytes(keccak(b"secret 1"), "big") % CURVE_ORDER),
        ("eigensdk-go test data key 1", EIGENSDK_SECRET),
    ]


def _signature_vectors() -> list[dict[str, Any]]:
    messages = [keccak(b"batch header 0"), bytes(32), b"\xff" * 32]
    out = []
    for index, (note, secret) in enumerate(_secrets()):
        keypair = BlsKeyPair(secret)
        message = messages[index % len(messages)]
        out.append({
            "note": note,
            "secret": str(secret),
            "pubkey_g1": _g1(keypair.pubkey_g1_point),
            "pubkey_g2": _g2(keypair.pubkey_g2_point),
            "operator_id": _hex(keypair.operator_id),
            "message": _hex(message),
            "signature": _g1(G1Point.from_bytes(keypair.sign(message))),
        })  # fmt: skip
    assert out[-1]["pubkey_g1"] == {"x": str(EIGENSDK_PUBKEY[0]), "y": str(EIGENSDK_PUBKEY[1])}
    return out


def _registration_vector() -> dict[str, Any]:
    keypair = BlsKeyPair(int.from_bytes(keccak(b"secret 0"), "big") % CURVE_ORDER)
    message_point = hash_to_g1(keccak(b"BN254PubkeyRegistration vector"))
    params = keypair.registration_params(message_point)
    return {
        "secret": str(int.from_bytes(keypair.secret_bytes(), "big")),
        "message_point": _g1(message_point),
        "pubkey_registration_signature": _g1(params.pubkey_registration_signature),
        "pubkey_g1": _g1(params.pubkey_g1),
        "pubkey_g2": _g2(params.pubkey_g2),
        "gamma": str(registration_gamma(params, message_point)),
    }


def _aggregate_vector() -> dict[str, Any]:
    keypairs = [BlsKeyPair(int.from_bytes(keccak(f"signer {i}".encode()), "big") % CURVE_ORDER)
                for i in range(3)]  # fmt: skip
    message = keccak(b"aggregate vector batch header")
    sigma = G1Point.from_bytes(aggregate_signatures(k.sign(message) for k in keypairs))
    apk = G1Point.from_bytes(aggregate_pubkeys_g1(k.pubkey_g1 for k in keypairs))
    apk_g2 = G2Point.from_bytes(aggregate_pubkeys_g2(k.pubkey_g2 for k in keypairs))
    assert check_aggregate_signature(message, apk, apk_g2, sigma)
    return {
        "secrets": [str(int.from_bytes(k.secret_bytes(), "big")) for k in keypairs],
        "message": _hex(message),
        "apk_g1": _g1(apk),
        "apk_g2": _g2(apk_g2),
        "sigma": _g1(sigma),
        "gamma": str(aggregate_signature_gamma(message, apk, apk_g2, sigma)),
    }


def main() -> None:
    """Compute every vector and write the JSON file."""
    document = {
        "format": "see tests/crypto/vectors/README.md",
        "field_modulus": str(FIELD_MODULUS),
        "curve_order": str(CURVE_ORDER),
        "hash_to_g1": _hash_vectors(),
        "signatures": _signature_vectors(),
        "registration": _registration_vector(),
        "aggregate": _aggregate_vector(),
    }
    OUT.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
