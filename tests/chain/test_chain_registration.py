"""Registration against the real contracts on anvil: both steps, idempotence, rejections."""

from __future__ import annotations

import secrets

import pytest
from chain.chain_support import BLS_KEYS, OPERATORS, OUTSIDER, QUORUMS, SOCKET, WEIGHTS, Devnet
from eth_typing import Hash32

from operator_node.chain.errors import ContractRevertError, NotRegisteredError
from operator_node.chain.reader import OperatorStatus
from operator_node.chain.registration import deregister, ensure_registered, ensure_socket
from operator_node.chain.writer import ChainWriter, m2_entry_points
from operator_node.crypto.bn254 import G1Point, g1_multiply


async def test_registration_registers_core_then_avs_with_onchain_pairing_check(
    devnet: Devnet,
) -> None:
    connection = devnet.connection(OPERATORS[0])
    try:
        writer = await connection.get_writer()
        result = await ensure_registered(writer, BLS_KEYS[0], QUORUMS, SOCKET)
        reg = result.after
        assert result.registered_core and result.registered_quorums == QUORUMS
        assert reg.status is OperatorStatus.REGISTERED and reg.is_eigenlayer_operator
        assert reg.operator_id == BLS_KEYS[0].operator_id
        assert reg.quorums == QUORUMS and reg.stakes == {0: WEIGHTS[0], 1: WEIGHTS[0]}
        assert reg.socket == SOCKET
        # The BLS registry accepted the key: it is now quorum 0's whole aggregate key.
        apk = await writer.reader.contracts.bls_apk_registry.functions.getApk(0).call()
        assert G1Point(*apk) == BLS_KEYS[0].pubkey_g1_point
        directory = writer.reader.contracts.avs_directory.functions
        manager = writer.reader.contracts.service_manager.address
        assert await directory.avsOperatorStatus(manager, writer.address).call() == 1
    finally:
        await connection.close()


async def test_registration_twice_sends_nothing(devnet: Devnet) -> None:
    connection = devnet.connection(OPERATORS[1])
    try:
        writer = await connection.get_writer()
        await ensure_registered(writer, BLS_KEYS[1], QUORUMS, SOCKET)
        nonce = await connection.w3.eth.get_transaction_count(OPERATORS[1].address)
        again = await ensure_registered(writer, BLS_KEYS[1], QUORUMS, SOCKET)
        assert again.already_registered and again.gas_used == 0
        assert await connection.w3.eth.get_transaction_count(OPERATORS[1].address) == nonce
        # A quorum added to the config later is the only thing a rerun registers.
        await deregister(writer, [1])
        third = await ensure_registered(writer, BLS_KEYS[1], QUORUMS, SOCKET)
        assert third.registered_quorums == (1,) and not third.registered_core
    finally:
        await connection.close()


async def _register_call(writer: ChainWriter, params: object, signature: object) -> None:
    coordinator = writer.reader.contracts.registry_coordinator
    register = m2_entry_points(coordinator).functions.registerOperator
    call = register(bytes(QUORUMS), SOCKET, params, signature)
    await writer.tx.send(call, "registerOperator")


async def test_registration_contract_rejects_wrong_bls_proof(devnet: Devnet) -> None:
    connection = devnet.connection(OPERATORS[2])
    try:
        writer = await connection.get_writer()
        await writer.register_as_operator()
        message = await writer.reader.get_pubkey_registration_message(writer.address)
        good = BLS_KEYS[2].registration_params(message)
        # Signed by the key of another operator: a valid point, but not this key's signature.
        forged = g1_multiply(message, 12345).to_abi()
        params = (forged, good.pubkey_g1.to_abi(), good.pubkey_g2.to_abi())
        with pytest.raises(ContractRevertError, match="G1 signature is wrong"):
            await _register_call(writer, params, await writer._avs_consent())
        reg = await writer.reader.get_registration(writer.address)
        assert reg.status is OperatorStatus.NEVER_REGISTERED and reg.quorums == ()
    finally:
        await connection.close()


async def test_registration_contract_rejects_wrong_ecdsa_signature(devnet: Devnet) -> None:
    connection = devnet.connection(OPERATORS[2])
    try:
        writer = await connection.get_writer()
        await writer.register_as_operator()
        message = await writer.reader.get_pubkey_registration_message(writer.address)
        params = BLS_KEYS[2].registration_params(message).to_abi()
        salt, expiry = secrets.token_bytes(32), 2**40
        digest = await writer.reader.get_avs_registration_digest(writer.address, salt, expiry)
        wrong = bytes(OUTSIDER.unsafe_sign_hash(Hash32(digest)).signature)
        with pytest.raises(ContractRevertError, match="signature not from operator"):
            await _register_call(writer, params, (wrong, salt, expiry))
        assert (await writer.reader.get_registration(writer.address)).quorums == ()
    finally:
        await connection.close()


async def test_registration_avs_before_core_is_refused(devnet: Devnet) -> None:
    connection = devnet.connection(OPERATORS[3])
    try:
        writer = await connection.get_writer()
        with pytest.raises(ContractRevertError, match="not registered to EigenLayer yet"):
            await writer.register_operator(QUORUMS, SOCKET, BLS_KEYS[3])
    finally:
        await connection.close()


async def test_registration_socket_update_and_deregistration(devnet: Devnet) -> None:
    connection = devnet.connection(OPERATORS[0])
    try:
        writer = await connection.get_writer()
        await ensure_registered(writer, BLS_KEYS[0], QUORUMS, SOCKET)
        kept = await ensure_socket(writer, "10.0.0.1:4000", update=False)
        assert not kept.updated and not kept.matches and kept.onchain == SOCKET
        moved = await ensure_socket(writer, "10.0.0.1:4000", update=True)
        assert moved.updated
        assert (await writer.reader.get_registration(writer.address)).socket == "10.0.0.1:4000"

        assert (await deregister(writer, [1]))[0] == (1,)
        reg = await writer.reader.get_registration(writer.address)
        assert reg.quorums == (0,) and reg.status is OperatorStatus.REGISTERED
        with pytest.raises(NotRegisteredError, match=r"quorum\(s\) \[1\]"):
            await deregister(writer, [1])
        assert (await deregister(writer))[0] == (0,)
        reg = await writer.reader.get_registration(writer.address)
        assert reg.status is OperatorStatus.DEREGISTERED and reg.quorums == ()
        with pytest.raises(NotRegisteredError):
            await deregister(writer)
        with pytest.raises(ContractRevertError, match="operator is not registered"):
            await writer.update_socket("10.0.0.2:4000")
    finally:
        await connection.close()
