"""End to end on an operator-set devnet: four node daemons whose operators allocated half their
stake to quorum 0's operator set (slashable stake) and registered through the AllocationManager.

A blob is dispersed, signed by every node, confirmed on chain and retrieved; an allocation still
pending at a batch's reference block counts for nothing there (the nodes and the disperser agree,
from the chain's recorded stake) and counts once it took effect and stakes were updated; an
operator leaving its operator set is refused dispersal by its own node (503 not_registered),
logged, and shown in its metrics and health. The devnet's paying accounts are in the AVS's
payment vault.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.daemon import http_get

from operator_node.chain.deploy import update_operators
from operator_node.chain.operator_sets import OperatorSets, modify_allocations
from operator_node.chain.registration import deregister
from operator_node.client.disperser import DispersalResult, Disperser
from operator_node.client.retriever import Retriever
from operator_node.crypto.keystore import load_ecdsa_keystore
from operator_node.devnet.anvil import mine
from operator_node.devnet.network import (
    DEVNET_ALLOCATION_DELAY,
    DEVNET_MAGNITUDE,
    QUORUM,
    TOKEN,
    Devnet,
    DevnetOperator,
)
from operator_node.payments.vault import find_vault, read_deposit, read_reservation

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    net = Devnet(tmp_path_factory.mktemp("devnet-sets"), registration="operator_sets")
    asyncio.run(net.start())
    yield net
    net.stop()


async def _disperse(devnet: Devnet, data: bytes) -> DispersalResult:
    connection = devnet.connect(devnet.disperser)
    try:
        return await Disperser(connection, devnet.disperser, payer=devnet.payer).disperse(data, k=8)
    finally:
        await connection.close()


async def _stakes_at(devnet: Devnet, block: int) -> dict[bytes, int]:
    connection = devnet.connect()
    try:
        reader = await connection.get_reader()
        state = await reader.get_operator_state([QUORUM], block)
    finally:
        await connection.close()
    return {op.operator_id: op.stake for op in state[QUORUM]}


def _chunks(result: DispersalResult, operator: DevnetOperator) -> int:
    (reply,) = [r for r in result.replies if r.operator_id == operator.keypair.operator_id]
    return reply.chunks


async def test_operator_set_devnet_disperses_and_a_pending_allocation_counts_from_its_block(
    devnet: Devnet,
) -> None:
    # Everyone registered through the AllocationManager with half its stake allocated.
    top = devnet.operators[-1]
    connection = devnet.connect(top.account)
    try:
        writer = await connection.get_writer()
        sets = OperatorSets(writer.reader)
        kinds = await sets.quorum_kinds((QUORUM,))
        assert kinds[QUORUM].kind == "slashable"
        for operator in devnet.operators:
            standing = await sets.standing(operator.account.address, kinds[QUORUM])
            assert standing.member
            assert [a.current for a in standing.allocations] == [DEVNET_MAGNITUDE]

        data = bytes(range(256)) * 700
        first = await _disperse(devnet, data)
        assert first.complete and first.signed_stake[QUORUM][0] == first.signed_stake[QUORUM][1]
        stakes = await _stakes_at(devnet, first.reference_block)
        assert stakes[top.keypair.operator_id] == top.stake * TOKEN // 2

        # The top operator raises its allocation to all of its stake: pending for the delay.
        strategies = await sets.strategies(QUORUM)
        receipt = await modify_allocations(writer, [(QUORUM, strategies, 2 * DEVNET_MAGNITUDE)])
        effect = int(receipt["blockNumber"]) + DEVNET_ALLOCATION_DELAY
        pending = await _disperse(devnet, data[::-1])
        assert pending.reference_block < effect and pending.complete
        stakes = await _stakes_at(devnet, pending.reference_block)
        assert stakes[top.keypair.operator_id] == top.stake * TOKEN // 2
        assert _chunks(pending, top) == _chunks(first, top)

        # In effect and recorded (updateOperators): the next batch weighs the whole stake.
        await mine(writer.reader.w3, DEVNET_ALLOCATION_DELAY)
        addresses = [op.account.address for op in devnet.operators]
        assert devnet.deployment is not None
        await update_operators(writer.reader.w3, top.account, devnet.deployment, addresses)
        after = await _disperse(devnet, data)
        stakes = await _stakes_at(devnet, after.reference_block)
        assert stakes[top.keypair.operator_id] == top.stake * TOKEN
        assert after.complete and _chunks(after, top) > _chunks(first, top)

        for result, expected in ((first, data), (pending, data[::-1]), (after, data)):
            retrieval = devnet.connect()
            try:
                blob = await Retriever(retrieval).retrieve(
                    result.batch_header_hash, result.blob_index
                )
            finally:
                await retrieval.close()
            assert blob.data == expected
    finally:
        await connection.close()


async def test_operator_leaving_its_operator_set_is_refused_logged_and_shown(
    devnet: Devnet,
) -> None:
    leaver = devnet.operators[0]
    # A node that re-reads its registration every second (the default is every minute).
    devnet.stop_node(leaver)
    devnet.configure_node(leaver, {"chain": {"refresh_interval": 1.0}})
    devnet.start_node(leaver)
    devnet.wait_ready(leaver)
    metrics_url = f"http://127.0.0.1:{leaver.metrics_port}/metrics"
    member = f'operator_node_quorum_registered{{kind="slashable",quorum="{QUORUM}"}} 1.0'
    deadline = time.monotonic() + 30
    while member not in http_get(metrics_url)[1].decode():  # it has seen itself in the set
        if time.monotonic() > deadline:
            pytest.fail(f"{leaver.name} never exported that it is in quorum {QUORUM}")
        await asyncio.sleep(0.2)
    connection = devnet.connect(leaver.account)
    try:
        leaving, steps = await deregister(await connection.get_writer())
    finally:
        await connection.close()
    assert leaving == (QUORUM,)
    assert steps[0].what.startswith(f"left operator-set quorums [{QUORUM}]")

    # The node notices at its next refresh: metrics, health, log.
    gone = member.replace("} 1.0", "} 0.0")
    deadline = time.monotonic() + 30
    while gone not in http_get(metrics_url)[1].decode():
        if time.monotonic() > deadline:
            pytest.fail(f"{leaver.name} never exported that it left quorum {QUORUM}")
        await asyncio.sleep(0.5)
    services = json.loads(http_get(f"{leaver.api_url}/eigen/node/services")[1])["services"]
    assert {s["id"]: s["status"] for s in services}["chain"] == "Down"
    log = leaver.log_path.read_text()
    assert '"event": "chain_removed_from_quorum"' in log and '"kind": "slashable"' in log

    # And the others still disperse without it.
    result = await _disperse(devnet, b"after the leave" * 1000)
    assert all(r.operator_id != leaver.keypair.operator_id for r in result.replies)


async def test_devnet_creates_a_reserved_and_an_on_demand_account(devnet: Devnet) -> None:
    described = json.loads((devnet.root / "devnet.json").read_text())["payments"]
    assert devnet.deployment is not None
    assert described["vault"] == devnet.deployment.payment_vault
    assert described["global"]["on_demand_quorums"] == [QUORUM]
    reserved, on_demand = described["accounts"]
    assert (reserved["name"], on_demand["name"]) == ("reserved", "on-demand")
    connection = devnet.connect()
    try:
        reader = await connection.get_reader()
        vault = await find_vault(reader.contracts)
        reservation = await read_reservation(vault, reserved["address"])
        assert reservation.active(time.time()) and reservation.quorums == (QUORUM,)
        assert reservation.symbols_per_second == reserved["reservation"]["symbols_per_second"]
        assert await read_deposit(vault, on_demand["address"]) == int(
            on_demand["on_demand_deposit_wei"]
        )
        assert not (await read_reservation(vault, on_demand["address"])).exists
    finally:
        await connection.close()
    for account in (reserved, on_demand):  # each keystore opens with its password file
        password = Path(account["password_file"]).read_text().strip()
        key = load_ecdsa_keystore(Path(account["keystore"]), password)
        assert key.address == account["address"]
