"""Per-operator reads in JSON-RPC batches: sockets, BLS keys, and what a failed call says."""

from __future__ import annotations

import pytest
from chain.chain_support import BLS_KEYS, OPERATORS, SOCKET, Devnet
from prometheus_client import CollectorRegistry

from operator_node.chain.calls import call_views
from operator_node.chain.client import ChainConnection
from operator_node.chain.contracts import bind
from operator_node.chain.errors import ContractRevertError
from operator_node.metrics import Metrics


def _requests(metrics: Metrics, method: str) -> float:
    value = metrics.registry.get_sample_value(
        "eigen_rpc_request_total",
        {"avs_name": "test", "method": method, "client_version": "anvil/v1.7.1"},
    )
    return value or 0.0


async def test_batch_reads_sockets_and_keys_in_one_request_each(devnet: Devnet) -> None:
    for index in range(len(OPERATORS)):
        await devnet.register(index)
    ids = [key.operator_id for key in BLS_KEYS]
    metrics = Metrics(CollectorRegistry(), avs_name="test", version="0")
    connection = ChainConnection(devnet.chain_config(), metrics=metrics)
    try:
        reader = await connection.get_reader()
        before = _requests(metrics, "eth_call")
        assert await reader.sockets.fetch_sockets(ids) == dict.fromkeys(ids, SOCKET)
        addresses = [op.address for op in OPERATORS]
        keys = await reader.fetch_operator_pubkeys_g1(addresses)
        assert keys == [key.pubkey_g1_point for key in BLS_KEYS]
        assert _requests(metrics, "eth_call") == before + 2  # one batch for each
    finally:
        await connection.close()


async def test_batch_reads_name_the_call_that_reverted(devnet: Devnet) -> None:
    connection = devnet.connection()
    try:
        reader = await connection.get_reader()
        rc = reader.contracts.registry_coordinator
        unknown = b"\x07" * 32
        fns = [
            rc.functions.quorumCount(),
            rc.functions.getQuorumBitmapIndicesAtBlockNumber(1, [unknown]),
        ]
        with pytest.raises(ContractRevertError, match="getQuorumBitmapIndicesAtBlockNumber") as exc:
            await call_views("RegistryCoordinator", fns)
        assert "no bitmap update found" in str(exc.value)
        # No such function at the address: "returned nothing", as call_view says it.
        wrong = bind(connection.w3, "SocketRegistry", devnet.deployment.index_registry)
        fns = [wrong.functions.getOperatorSocket(unknown)] * 2
        with pytest.raises(ContractRevertError, match="may not have the function"):
            await call_views("SocketRegistry", fns)
    finally:
        await connection.close()


async def test_pubkeys_from_events_and_from_the_registry_before_the_scan(devnet: Devnet) -> None:
    connection = devnet.connection()
    try:
        reader = await connection.get_reader()
        before = await reader.get_current_block()
        await devnet.register(0)
        await devnet.register(1)
        head = await reader.get_current_block()
        g2 = await reader.pubkeys.fetch_g2_keys(head)
        assert g2 == {key.operator_id: key.pubkey_g2 for key in BLS_KEYS[:2]}
        assert await reader.pubkeys.fetch_g2_keys(before) == {}
    finally:
        await connection.close()
    # A scan that starts after the registrations finds no events: G1 keys come from the registry.
    late = devnet.connection(events_from_block=head + 1)
    try:
        reader = await late.get_reader()
        addresses = [OPERATORS[0].address, OPERATORS[1].address]
        assert await reader.pubkeys.fetch_g1_keys(addresses) == {
            a: key.pubkey_g1_point for a, key in zip(addresses, BLS_KEYS, strict=False)
        }
        assert await reader.pubkeys.fetch_g2_keys(head) == {}
    finally:
        await late.close()
