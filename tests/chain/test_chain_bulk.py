"""Many operators at once (the scale devnet's operators without a node) through the real
contracts: stake, sockets and keys as the chain holds them, and a failure that names its step."""

from __future__ import annotations

import dataclasses

import pytest
from chain.chain_support import DEPLOYER, QUORUMS, Devnet

from operator_node.chain.rpc import connect
from operator_node.devnet.bulk import (
    BulkRegistrationError,
    IdleOperator,
    derive_idle_operator,
    register_idle_operators,
)
from operator_node.devnet.stakes import StakeProfile


def _operators(count: int) -> list[IdleOperator]:
    stakes = StakeProfile(alpha=1.5, top=10_000).compute_stakes(count)
    return [
        derive_idle_operator(i, stake, f"127.0.0.1:{40_000 + i}", seed=b"chain test")
        for i, stake in enumerate(stakes)
    ]


async def test_bulk_registers_every_operator_with_its_stake_socket_and_keys(
    devnet: Devnet,
) -> None:
    operators = _operators(12)
    w3 = connect(devnet.rpc_url, metrics=None)
    try:
        timings = await register_idle_operators(w3, DEPLOYER, devnet.deployment, operators, QUORUMS)
    finally:
        await w3.provider.disconnect()
    assert set(timings) == {"fund", "sign", "mint", "register", "check"}

    connection = devnet.connection()
    try:
        reader = await connection.get_reader()
        block = await reader.get_current_block()
        state = await reader.get_operator_state(QUORUMS, block)
        expected = {(op.account.address, op.operator_id, op.stake * 10**18) for op in operators}
        for quorum in QUORUMS:
            assert {(o.address, o.operator_id, o.stake) for o in state[quorum]} == expected
        sockets = await reader.sockets.fetch_sockets(op.operator_id for op in operators)
        assert sockets == {op.operator_id: op.socket for op in operators}
        keys = await reader.pubkeys.fetch_g2_keys(block)
        assert keys == {op.operator_id: op.keypair.pubkey_g2 for op in operators}
        for op in operators:
            registration = await reader.get_registration(op.account.address)
            assert registration.is_eigenlayer_operator  # delegated to itself, as a node's is
    finally:
        await connection.close()


async def test_bulk_names_the_operator_and_the_step_that_failed(devnet: Devnet) -> None:
    first, second = _operators(2)
    # The same BLS key twice: the BLSApkRegistry refuses the second registration.
    twin = dataclasses.replace(second, keypair=first.keypair)
    w3 = connect(devnet.rpc_url, metrics=None)
    try:
        with pytest.raises(BulkRegistrationError) as failure:
            await register_idle_operators(w3, DEPLOYER, devnet.deployment, [first, twin], QUORUMS)
    finally:
        await w3.provider.disconnect()
    message = str(failure.value)
    assert "1 of 2 operators" in message
    assert f"idle-1 ({twin.account.address}): registerOperator reverted" in message
