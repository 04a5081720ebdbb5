"""The BLS known-answer vectors, checked on chain by the contracts' own BN254 code on anvil.

hashToG1, G1 multiplication and signature pairings run in a test harness contract built on
``BN254.sol``; the registration proof runs BLSApkRegistry's check (the harness inherits it); the
aggregate check runs the deployed ServiceManager's ``trySignatureAndApkVerification``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chain.chain_support import DEPLOYER, Devnet

from operator_node.chain.contracts import bind
from operator_node.chain.txmanager import TxManager, TxPolicy

_ROOT = Path(__file__).resolve().parents[2]
_VECTORS = json.loads((_ROOT / "tests/crypto/vectors/bn254_bls.json").read_text())
_HARNESS = json.loads((_ROOT / "contracts/test/artifacts/BN254Harness.json").read_text())


def _g1(p: dict[str, str]) -> tuple[int, int]:
    return (int(p["x"]), int(p["y"]))


def _g2(p: dict[str, str]) -> tuple[tuple[int, int], tuple[int, int]]:
    return ((int(p["x_im"]), int(p["x_re"])), (int(p["y_im"]), int(p["y_re"])))


def _flip(point: tuple[int, int]) -> tuple[int, int]:
    """The negated point: a valid point that is the wrong answer."""
    p = int(_VECTORS["field_modulus"])
    return (point[0], p - point[1])


async def _harness(devnet: Devnet) -> tuple[Any, Any]:
    connection = devnet.connection(DEPLOYER)
    factory = connection.w3.eth.contract(abi=_HARNESS["abi"], bytecode=_HARNESS["bytecode"])
    tx = TxManager(connection.w3, DEPLOYER, TxPolicy())
    receipt = await tx.send(factory.constructor(), "deploy BN254Harness")
    return connection, connection.w3.eth.contract(
        address=receipt["contractAddress"], abi=_HARNESS["abi"]
    )


async def test_bn254_vectors_hash_to_g1_and_signatures_on_chain(devnet: Devnet) -> None:
    connection, harness = await _harness(devnet)
    try:
        for v in _VECTORS["hash_to_g1"]:
            point = await harness.functions.hashToG1(bytes.fromhex(v["digest"][2:])).call()
            assert tuple(point) == _g1(v), v["note"]
        for v in _VECTORS["signatures"]:
            assert tuple(await harness.functions.scalarMulG1(int(v["secret"])).call()) == _g1(
                v["pubkey_g1"]
            )
            message = bytes.fromhex(v["message"][2:])
            sig, pk = _g1(v["signature"]), _g2(v["pubkey_g2"])
            assert await harness.functions.verifySignature(message, sig, pk).call(), v["note"]
            assert not await harness.functions.verifySignature(message, _flip(sig), pk).call()
    finally:
        await connection.close()


async def test_bn254_vectors_registration_and_aggregate_on_chain(devnet: Devnet) -> None:
    connection, harness = await _harness(devnet)
    try:
        r = _VECTORS["registration"]
        params = (_g1(r["pubkey_registration_signature"]), _g1(r["pubkey_g1"]), _g2(r["pubkey_g2"]))
        h = _g1(r["message_point"])
        assert await harness.functions.checkPossession(params, h).call()
        bad = (_flip(params[0]), params[1], params[2])
        assert not await harness.functions.checkPossession(bad, h).call()

        a = _VECTORS["aggregate"]
        manager = bind(connection.w3, "ServiceManager", devnet.deployment.service_manager)
        check = manager.functions.trySignatureAndApkVerification
        message = bytes.fromhex(a["message"][2:])
        apk, apk2, sigma = _g1(a["apk_g1"]), _g2(a["apk_g2"]), _g1(a["sigma"])
        assert await check(message, apk, apk2, sigma).call() == [True, True]
        assert await check(message, apk, apk2, _flip(sigma)).call() == [True, False]
    finally:
        await connection.close()
