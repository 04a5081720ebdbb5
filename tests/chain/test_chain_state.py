"""Operator state at past blocks, batch confirmation with aggregate BLS signatures, M2 core."""

from __future__ import annotations

import pytest
from chain.chain_support import BLS_KEYS, DEPLOYER, OPERATORS, QUORUMS, SOCKET, WEIGHTS, Devnet
from prometheus_client import CollectorRegistry

from operator_node.chain.client import ChainConnection
from operator_node.chain.confirm import ChainBatchHeader, Signature, build_signature_witness
from operator_node.chain.contracts import discover
from operator_node.chain.deploy import deposit, update_operators
from operator_node.chain.errors import ContractRevertError, FutureBlockError
from operator_node.chain.registration import ensure_registered
from operator_node.crypto.bn254 import G1Point
from operator_node.metrics import Metrics


async def test_state_at_past_block_is_history_and_cached(devnet: Devnet) -> None:
    await devnet.register(0)
    metrics = Metrics(CollectorRegistry(), avs_name="test", version="0")
    connection = ChainConnection(devnet.chain_config(), metrics=metrics)
    try:
        reader = await connection.get_reader()
        first = await reader.get_current_block()
        await devnet.register(1)
        await deposit(connection.w3, DEPLOYER, devnet.deployment, OPERATORS[0], 899)
        await update_operators(
            connection.w3, OPERATORS[2], devnet.deployment, [OPERATORS[0].address]
        )
        past = await reader.get_operator_state([0, 1], first)
        assert [(op.address, op.operator_id, op.stake) for op in past[0]] == [
            (OPERATORS[0].address, BLS_KEYS[0].operator_id, WEIGHTS[0])
        ]
        now = await reader.get_operator_state([0], await reader.get_current_block())
        assert [(op.operator_id, op.stake) for op in now[0]] == [
            (BLS_KEYS[0].operator_id, 999),
            (BLS_KEYS[1].operator_id, WEIGHTS[1]),
        ]
        calls_before = _eth_calls(metrics)
        assert await reader.get_operator_state([1, 0], first) == {1: past[1], 0: past[0]}
        assert _eth_calls(metrics) == calls_before  # served from the cache
        with pytest.raises(FutureBlockError):
            await reader.get_operator_state([0], await reader.get_current_block() + 5)
    finally:
        await connection.close()


def _eth_calls(metrics: Metrics) -> float:
    value = metrics.registry.get_sample_value(
        "eigen_rpc_request_total",
        {"avs_name": "test", "method": "eth_call", "client_version": "anvil/v1.7.1"},
    )
    return value or 0.0


async def test_state_confirm_batch_accepts_aggregate_and_rejects_tampering(
    devnet: Devnet,
) -> None:
    for i in range(3):
        await devnet.register(i)
    disperser = devnet.connection(DEPLOYER)
    try:
        writer = await disperser.get_writer()
        reference = await writer.reader.get_current_block()
        await disperser.w3.provider.make_request("evm_mine", [])
        header = ChainBatchHeader(b"\x42" * 32, QUORUMS, (50, 50), reference)
        message = header.compute_signed_hash()
        # Operators 1 and 2 sign (500 of 600 stake); operator 0 does not.
        signatures = {
            BLS_KEYS[i].operator_id: Signature(
                G1Point.from_bytes(BLS_KEYS[i].sign(message)), BLS_KEYS[i].pubkey_g2_point
            )
            for i in (1, 2)
        }
        witness = await build_signature_witness(writer.reader, QUORUMS, reference, signatures)
        assert witness.non_signer_pubkeys == (BLS_KEYS[0].pubkey_g1_point,)

        other = ChainBatchHeader(b"\x43" * 32, QUORUMS, (50, 50), reference)
        with pytest.raises(ContractRevertError, match="signature is invalid"):
            await writer.confirm_batch(other, witness)  # signatures are over another root
        strict = ChainBatchHeader(b"\x42" * 32, QUORUMS, (90, 50), reference)
        with pytest.raises(ContractRevertError, match="threshold percentage"):
            await writer.confirm_batch(strict, witness)  # 5/6 of the stake is below 90%

        confirmed = await writer.confirm_batch(header, witness)
        assert confirmed.batch_id == 0 and confirmed.batch_header_hash == message
        assert int(confirmed.receipt["gasUsed"]) < 400_000
    finally:
        await disperser.close()


async def test_state_confirm_batch_only_by_disperser(devnet: Devnet) -> None:
    await devnet.register(0)
    connection = devnet.connection(OPERATORS[0])
    try:
        writer = await connection.get_writer()
        assert await writer.reader.dispersers.contains(DEPLOYER.address)
        assert not await writer.reader.dispersers.contains(OPERATORS[0].address)
        reference = await writer.reader.get_current_block()
        await connection.w3.provider.make_request("evm_mine", [])
        header = ChainBatchHeader(b"\x01" * 32, (0,), (50,), reference)
        sig = Signature(
            G1Point.from_bytes(BLS_KEYS[0].sign(header.compute_signed_hash())),
            BLS_KEYS[0].pubkey_g2_point,
        )
        witness = await build_signature_witness(
            writer.reader, (0,), reference, {BLS_KEYS[0].operator_id: sig}
        )
        with pytest.raises(ContractRevertError, match="not a disperser"):
            await writer.confirm_batch(header, witness)
    finally:
        await connection.close()


async def test_state_m2_core_is_detected_and_registers(devnet: Devnet) -> None:
    m2 = await devnet.deploy_m2({3: 50})
    connection = devnet.connection_to(m2, OPERATORS[3])
    try:
        writer = await connection.get_writer()
        assert writer.reader.contracts.core == "m2"
        result = await ensure_registered(writer, BLS_KEYS[3], (0,), SOCKET)
        assert result.registered_core and result.after.stakes == {0: 50}
        details = await writer.reader.contracts.delegation.functions.operatorDetails(
            writer.address
        ).call()
        assert details[0] == writer.address  # the M2 struct's earningsReceiver
        slashing = await discover(
            connection.w3,
            devnet.deployment.registry_coordinator,
            devnet.deployment.operator_state_retriever,
        )
        assert slashing.core == "slashing"
    finally:
        await connection.close()
