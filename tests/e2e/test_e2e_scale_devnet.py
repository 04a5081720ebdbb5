"""End to end at scale: 250 registered operators with heavy-tailed stakes, 4 of them running.

The other 246 are registered through the real contracts like the nodes' operators, hold stake
and refuse every connection. The chain holds what the devnet says (operators, stakes, sockets,
keys); a disperser reads that state at 250 operators in a handful of RPC requests, not one per
operator; and a dispersal treats the 246 as non-signers without stalling, is confirmed on chain
by the four nodes' signatures alone (they hold 67% of the stake), and is retrieved from them.

Two dispersals: a 2 KB blob with k = 1 (n = 251, one chunk each: the only shape a GF(2^8) code
has room for with 250 operators, and within the AVS's overhead bound only because a blob counts
as at least 128 KiB there), and a 4 MiB blob in 8,192 chunks of GF(2^16), which the retriever
rebuilds from the first wave of sockets it asks, the running nodes being the largest stakes.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from operator_node.chain.client import ChainConnection
from operator_node.client.disperser import Disperser
from operator_node.client.retriever import Retriever
from operator_node.devnet.network import QUORUM, TOKEN, Devnet
from operator_node.devnet.stakes import StakeProfile
from operator_node.metrics import Metrics

pytestmark = pytest.mark.slow

OPERATORS, NODES = 250, 4


@pytest.fixture(scope="module")
def scale_devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    net = Devnet.scale(tmp_path_factory.mktemp("scale"), operators=OPERATORS, nodes=NODES)
    asyncio.run(net.start())
    yield net
    net.stop()


def _requests(metrics: Metrics) -> dict[str, float]:
    counts: dict[str, float] = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name == "eigen_rpc_request_total":
                method = sample.labels["method"]
                counts[method] = counts.get(method, 0.0) + sample.value
    return counts


async def test_e2e_scale_chain_holds_every_operator_stake_socket_and_key(
    scale_devnet: Devnet,
) -> None:
    net = scale_devnet
    assert net.timings["register_idle"] < 60, net.timings  # about 2.5 s here
    metrics = Metrics(CollectorRegistry(), avs_name="test", version="0")
    connection = ChainConnection(net.chain_section(), metrics=metrics)
    try:
        reader = await connection.get_reader()
        block = await reader.get_current_block()
        before = _requests(metrics)
        state = (await reader.get_operator_state([QUORUM], block))[QUORUM]
        ids = [op.operator_id for op in state]
        sockets = await reader.sockets.fetch_sockets(ids)
        g2_keys = await reader.pubkeys.fetch_g2_keys(block)
        g1_keys = await reader.pubkeys.fetch_g1_keys(op.address for op in state)
        after = _requests(metrics)
    finally:
        await connection.close()

    stakes = {op.operator_id: op.stake for op in state}
    expected = StakeProfile().compute_stakes(OPERATORS)
    assert sorted(stakes.values(), reverse=True) == [s * TOKEN for s in expected]
    nodes = {op.keypair.operator_id: op for op in net.operators}
    idle = {op.operator_id: op for op in net.idle_operators}
    assert set(stakes) == set(nodes) | set(idle) and len(stakes) == OPERATORS
    top = sorted(stakes, key=stakes.__getitem__, reverse=True)[:NODES]
    assert set(top) == set(nodes)  # the running nodes are the top 4 by stake
    share = sum(stakes[i] for i in nodes) / sum(stakes.values())
    assert share == pytest.approx(net.node_share) and share > 0.5

    assert {i: sockets[i] for i in nodes} == {i: op.socket for i, op in nodes.items()}
    assert {i: sockets[i] for i in idle} == {i: op.socket for i, op in idle.items()}
    assert len(set(sockets.values())) == OPERATORS
    assert g2_keys == {
        **{i: op.keypair.pubkey_g2 for i, op in nodes.items()},
        **{i: op.keypair.pubkey_g2 for i, op in idle.items()},
    }
    assert len(g1_keys) == OPERATORS
    # State, 250 sockets and 250 key pairs in a few requests, not one (or more) per operator.
    new = {m: after.get(m, 0.0) - before.get(m, 0.0) for m in after}
    assert new.get("eth_call", 0) <= 4, new
    assert sum(new.values()) <= 10, new


async def test_e2e_scale_silent_operators_refuse_at_once(scale_devnet: Devnet) -> None:
    for op in scale_devnet.idle_operators[:: len(scale_devnet.idle_operators) // 8]:
        host, port = op.socket.rsplit(":", 1)
        started = time.monotonic()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout=5)
        assert time.monotonic() - started < 1.0


async def test_e2e_scale_dispersal_signed_by_the_running_nodes_alone(scale_devnet: Devnet) -> None:
    net = scale_devnet
    data = os.urandom(2_000)
    connection = net.connect(net.disperser)
    try:
        started = time.monotonic()
        result = await Disperser(connection, net.disperser, payer=net.payer).disperse(data, k=1)
        elapsed = time.monotonic() - started
    finally:
        await connection.close()

    signers = {r.operator_id for r in result.replies if r.signature is not None}
    assert signers == {op.keypair.operator_id for op in net.operators}
    refused = [r for r in result.replies if r.signature is None]
    assert len(refused) == OPERATORS - NODES
    assert all("Connect" in r.error for r in refused), refused[0].error
    signed, total = result.signed_stake[QUORUM]
    assert signed == sum(net.stakes) * TOKEN and signed / total == pytest.approx(net.node_share)
    # 246 refusals cost their retries' pauses (0.6 s), not timeouts; a stall would take 30 s+.
    assert result.timings["send"] < 10, result.timings
    assert elapsed < 30, result.timings

    reader = net.connect()
    try:
        blob = await Retriever(reader).retrieve(result.batch_header_hash, result.blob_index)
    finally:
        await reader.close()
    assert blob.data == data
    assert set(blob.sources) <= {op.socket for op in net.operators}


async def test_e2e_scale_8192_chunk_blob_dispersed_and_retrieved_from_the_running_nodes(
    scale_devnet: Devnet,
) -> None:
    net = scale_devnet
    data = os.urandom(4 << 20)
    connection = net.connect(net.disperser)
    try:
        result = await Disperser(connection, net.disperser, payer=net.payer).disperse(
            data, k=1024, n=8192
        )
    finally:
        await connection.close()
    assert (result.code, result.k, result.n) == (1, 1024, 8192)  # GF(2^16)
    signers = {r.operator_id for r in result.replies if r.signature is not None}
    assert signers == {op.keypair.operator_id for op in net.operators}
    held = sum(r.chunks for r in result.replies if r.signature is not None)
    assert held >= 1024  # the running nodes alone hold enough to rebuild
    assert result.timings["send"] < 20, result.timings

    reader = net.connect()
    retriever = Retriever(reader)
    try:
        blob = await retriever.retrieve(result.batch_header_hash, result.blob_index)
        chosen = await retriever.fetch_sockets()
    finally:
        await reader.close()
    assert blob.data == data and blob.header.code == 1 and blob.header.n == 8192
    assert set(blob.sources) == {op.socket for op in net.operators}
    # Largest stakes first: the four nodes lead the list, and one wave of eight was enough.
    assert set(chosen[:NODES]) == {op.socket for op in net.operators}
    assert len(blob.sources) + len(blob.failures) <= 8, blob.failures
