"""Our contracts fail where EigenLayer's would, and the node reads only what EigenLayer has.

- the signature checker verifies every index hint against its history at the reference block,
  with EigenLayer's revert strings ("not latest apk update", ...);
- stake is delegated shares x multiplier: deposits count, a quorum's minimum stake is enforced at
  registration, and ``updateOperators`` refreshes stakes and removes operators below it;
- a deployment in the M2 shape (no socket registry, no ``isDisperser``) is probed, not assumed:
  sockets come from ``OperatorSocketUpdate`` events, scanned in bounded ranges;
- a call a deployment cannot answer fails with an error naming the contract and the function.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from chain.chain_support import BLS_KEYS, DEPLOYER, OPERATORS, QUORUMS, SOCKET, WEIGHTS, Devnet

from operator_node.chain.confirm import (
    ChainBatchHeader,
    Signature,
    SignatureWitness,
    build_signature_witness,
)
from operator_node.chain.contracts import discover
from operator_node.chain.deploy import (
    deposit,
    set_minimum_stake,
    update_operators,
)
from operator_node.chain.errors import ContractRevertError
from operator_node.chain.reader import OperatorStatus
from operator_node.chain.registration import deregister, ensure_registered
from operator_node.chain.view import ConnectionChainView
from operator_node.crypto.bn254 import G1Point
from operator_node.dispersal.errors import ChainUnavailable


async def test_checker_refuses_every_stale_or_future_index_hint(devnet: Devnet) -> None:
    await devnet.register(0)
    await devnet.register(1)
    disperser = devnet.connection(DEPLOYER)
    try:
        writer = await disperser.get_writer()
        reference = await writer.reader.get_current_block()
        # After the reference block: a new operator (apks and totals move on) and operator 1
        # leaving quorum 1 (its bitmap and its stake there move on).
        await devnet.register(2)
        leaver = devnet.connection(OPERATORS[1])
        try:
            await deregister(await leaver.get_writer(), (1,))
        finally:
            await leaver.close()
        header = ChainBatchHeader(b"\x42" * 32, QUORUMS, (30, 30), reference)
        sigma = G1Point.from_bytes(BLS_KEYS[0].sign(header.compute_signed_hash()))
        signatures = {BLS_KEYS[0].operator_id: Signature(sigma, BLS_KEYS[0].pubkey_g2_point)}
        witness = await build_signature_witness(writer.reader, QUORUMS, reference, signatures)
        # Quorum creation, operator 0, operator 1: the third entry of each history is in force.
        assert witness.indices.quorum_apk_indices == (2, 2)
        assert witness.indices.total_stake_indices == (2, 2)
        assert witness.indices.non_signer_quorum_bitmap_indices == (0,)
        assert witness.indices.non_signer_stake_indices == ((0,), (0,))

        def hint(**changes: Any) -> SignatureWitness:
            return replace(witness, indices=replace(witness.indices, **changes))

        wrong = [
            (
                hint(quorum_apk_indices=(1, 2)),
                "_validateApkHashAtBlockNumber: not latest apk update",
            ),
            (hint(quorum_apk_indices=(2, 3)), "_validateApkHashAtBlockNumber: index too recent"),
            (hint(total_stake_indices=(1, 2)), "newer stakeUpdate available before blockNumber"),
            (hint(non_signer_quorum_bitmap_indices=(1,)), "quorumBitmapUpdate is from after"),
            (hint(non_signer_stake_indices=((0,), (1,))), "stakeUpdate is from after blockNumber"),
            (hint(non_signer_stake_indices=((0,), ())), "reverted"),  # one hint missing
        ]
        for tampered, reason in wrong:
            with pytest.raises(ContractRevertError, match=reason):
                await writer.confirm_batch(header, tampered)
        confirmed = await writer.confirm_batch(header, witness)
        assert confirmed.batch_header_hash == header.compute_signed_hash()
    finally:
        await disperser.close()


async def test_stake_is_delegated_shares_with_minimum_and_update(devnet: Devnet) -> None:
    owner = devnet.connection(DEPLOYER)
    w3, deployment = owner.w3, devnet.deployment
    try:
        await set_minimum_stake(w3, DEPLOYER, deployment, 0, WEIGHTS[0] + 1)
        with pytest.raises(ContractRevertError, match="does not meet minimum stake requirement"):
            await devnet.register(0, (0,))
        await devnet.register(1)
        reader = await owner.get_reader()
        operator_id = BLS_KEYS[1].operator_id
        assert await reader.get_current_stake(operator_id, 0) == WEIGHTS[1]
        # A deposit counts for the operator at once in its delegated shares, in its stake only
        # once someone calls updateOperators (as on EigenLayer).
        await deposit(w3, DEPLOYER, deployment, OPERATORS[1], 7)
        assert await reader.get_current_stake(operator_id, 0) == WEIGHTS[1]
        await update_operators(w3, OPERATORS[3], deployment, [OPERATORS[1].address])
        assert await reader.get_current_stake(operator_id, 0) == WEIGHTS[1] + 7
        # Raising the minimum above it: the next update removes it from that quorum only.
        await set_minimum_stake(w3, DEPLOYER, deployment, 0, WEIGHTS[1] + 8)
        await update_operators(w3, OPERATORS[3], deployment, [OPERATORS[1].address])
        registration = await reader.get_registration(OPERATORS[1].address)
        assert registration.quorums == (1,) and registration.stakes == {1: WEIGHTS[1] + 7}
        assert registration.status is OperatorStatus.REGISTERED
        state = await reader.get_operator_state([0], await reader.get_current_block())
        assert state[0] == ()
    finally:
        await owner.close()


async def test_m2_shaped_deployment_is_probed_and_sockets_come_from_events(devnet: Devnet) -> None:
    m2 = await devnet.deploy_m2({3: 50})
    operator = devnet.connection_to(m2, OPERATORS[3])
    try:
        writer = await operator.get_writer()
        contracts = writer.reader.contracts
        assert contracts.socket_registry is None and not contracts.has_disperser_check
        assert "OperatorSocketUpdate events" in contracts.describe()["sockets_from"]
        await ensure_registered(writer, BLS_KEYS[3], (0,), SOCKET)
        registered_at = await writer.reader.get_current_block()
        await writer.update_socket("127.0.0.9:4000")
        await writer.update_socket("127.0.0.9:4001")
    finally:
        await operator.close()
    operator_id = BLS_KEYS[3].operator_id
    # Ranges of one block: the scan walks every block and keeps the latest socket.
    reader_conn = devnet.connection_to(m2, events_block_range=1)
    late_conn = devnet.connection_to(m2, events_from_block=registered_at + 3)
    try:
        reader = await reader_conn.get_reader()
        assert await reader.get_operator_socket(operator_id) == "127.0.0.9:4001"
        registration = await reader.get_registration(OPERATORS[3].address)
        assert registration.socket == "127.0.0.9:4001"
        late = await late_conn.get_reader()
        assert await late.get_operator_socket(operator_id) == ""  # scanned from after it
        assert "from block" in late.sockets.source
    finally:
        await reader_conn.close()
        await late_conn.close()


async def test_current_shaped_deployment_has_registry_and_disperser_check(devnet: Devnet) -> None:
    await devnet.register(0)
    connection = devnet.connection()
    try:
        reader = await connection.get_reader()
        assert reader.contracts.socket_registry is not None
        assert reader.contracts.has_disperser_check
        assert await reader.get_operator_socket(BLS_KEYS[0].operator_id) == SOCKET
        assert await reader.dispersers.contains(DEPLOYER.address)
    finally:
        await connection.close()


async def test_a_call_the_deployment_cannot_answer_names_contract_and_function(
    devnet: Devnet,
) -> None:
    connection = devnet.connection()
    try:
        with pytest.raises(ContractRevertError) as caught:
            # An IndexRegistry is no registry coordinator: it has no serviceManager().
            await discover(
                connection.w3,
                devnet.deployment.index_registry,
                devnet.deployment.operator_state_retriever,
            )
        message = str(caught.value)
        assert (
            f"RegistryCoordinator.serviceManager() at {devnet.deployment.index_registry}" in message
        )
        assert "this deployment may not have the function" in message
    finally:
        await connection.close()


async def test_node_view_refuses_chain_disperser_check_where_there_is_none(devnet: Devnet) -> None:
    m2 = await devnet.deploy_m2()
    connection = devnet.connection_to(m2)
    try:
        with pytest.raises(ChainUnavailable, match="has no isDisperser"):
            await ConnectionChainView(connection).is_disperser(DEPLOYER.address)
    finally:
        await connection.close()
