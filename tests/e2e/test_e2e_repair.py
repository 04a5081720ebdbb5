"""Self-healing storage on a real devnet: a node that was down while batches were confirmed, or
lost its data directory, rebuilds from its peers every batch it should hold, and serves it.

Anvil, the contracts, four operator daemons repairing every second. Each batch is checked on the
repaired node through its public retrieval API: the reply proves the blob header against the
batch hash confirmed on chain and every chunk against the blob's commitment, and the node holds
exactly as many chunks as it was assigned when the batch was dispersed.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import Iterator

import pytest
from aiohttp import web
from support.daemon import http_get, run_cli, scrape

from operator_node.chain.view import ConnectionChainView
from operator_node.client.disperser import DispersalResult, Disperser
from operator_node.client.retriever import Retriever
from operator_node.devnet.network import Devnet, DevnetOperator
from operator_node.devnet.ports import free_port
from operator_node.protocol.messages import validate_blob_chunks, validate_retrieval_reply
from operator_node.protocol.wire import WireLimits, decode_retrieval_reply
from operator_node.repair.rebuild import rebuild_batch

pytestmark = pytest.mark.slow

BLOB = 48 * 1024


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    net = Devnet(tmp_path_factory.mktemp("devnet-repair"), repair={"interval": 1.0})
    asyncio.run(net.start())
    yield net
    net.stop()


async def _disperse(devnet: Devnet, count: int) -> list[DispersalResult]:
    connection = devnet.connect(devnet.disperser)
    try:
        disperser = Disperser(connection, devnet.disperser, payer=devnet.payer, retries=0)
        return [await disperser.disperse(os.urandom(BLOB), k=8) for _ in range(count)]
    finally:
        await connection.close()


def _metrics(operator: DevnetOperator) -> dict[str, float]:
    return scrape(f"http://127.0.0.1:{operator.metrics_port}/metrics")


def _repaired(operator: DevnetOperator) -> float:
    return _metrics(operator)["operator_node_repair_batches_total{outcome=repaired}"]


def _wait_repaired(operator: DevnetOperator, count: float, timeout: float = 60.0) -> float:
    """Seconds until the node has repaired ``count`` batches in all."""
    started = time.monotonic()
    while _repaired(operator) < count:
        assert time.monotonic() - started < timeout, operator.log_path.read_text()[-3000:]
        time.sleep(0.2)
    return time.monotonic() - started


def _assert_serves(operator: DevnetOperator, result: DispersalResult) -> None:
    """The node serves its chunks of the batch, proved against the confirmed batch hash, and
    holds as many as it was assigned at dispersal."""
    (assigned,) = [r.chunks for r in result.replies if r.socket == operator.socket]
    url = f"{operator.api_url}/v1/chunks/0x{result.batch_header_hash.hex()}/{result.blob_index}"
    status, body = http_get(url)
    assert status == 200, body
    reply = decode_retrieval_reply(body, WireLimits())
    validate_retrieval_reply(reply, result.batch_header_hash, result.blob_index)
    assert len(reply.blob.indices) == assigned > 0


async def test_a_node_down_during_dispersals_repairs_every_batch_it_was_assigned(
    devnet: Devnet,
) -> None:
    victim = devnet.operators[1]
    devnet.stop_node(victim)
    results = await _disperse(devnet, 3)
    for result in results:
        (missed,) = [r for r in result.replies if r.socket == victim.socket]
        assert missed.signature is None and missed.chunks > 0  # it was down
    devnet.start_node(victim)
    devnet.wait_ready(victim)
    _wait_repaired(victim, 3)
    for result in results:
        _assert_serves(victim, result)
    metrics = _metrics(victim)
    assert metrics["operator_node_repair_pending_batches"] == 0
    assert metrics["operator_node_repair_chunks_total"] == sum(
        r.chunks for result in results for r in result.replies if r.socket == victim.socket
    )
    # Repairs sign nothing: no batch was signed by this node since its start.
    assert metrics["operator_node_last_batch_signed_timestamp_seconds"] == 0
    status, _ = http_get(f"{victim.api_url}/eigen/node/services/repair/health")
    assert status == 200  # Up: nothing pending


async def test_a_wiped_data_directory_is_rebuilt_within_the_repair_rate(devnet: Devnet) -> None:
    results = await _disperse(devnet, 2)
    victim = devnet.operators[2]
    devnet.stop_node(victim)
    shutil.rmtree(victim.home / "data")
    rate = 32 * 1024  # bytes a second fetched from peers
    devnet.configure_node(victim, {"repair": {"interval": 1.0, "rate": rate}})
    try:
        devnet.start_node(victim)
        devnet.wait_ready(victim)
        # Every batch confirmed so far in this module is live, and this node holds chunks of
        # each (its stake is 30%).
        everything = await _count_confirmed(devnet)
        took = _wait_repaired(victim, everything, timeout=120)
        fetched = _metrics(victim)["operator_node_repair_fetched_bytes_total"]
        assert took >= 0.8 * fetched / rate, (took, fetched)
        for result in results:
            _assert_serves(victim, result)
    finally:
        devnet.configure_node(victim)


async def _count_confirmed(devnet: Devnet) -> int:
    connection = devnet.connect()
    try:
        reader = await connection.get_reader()
        event = reader.contracts.service_manager.events.BatchConfirmed
        return len(await event.get_logs(from_block=0, to_block="latest"))
    finally:
        await connection.close()


async def test_the_audit_finds_flipped_bytes_quarantines_them_and_the_repair_restores(
    devnet: Devnet,
) -> None:
    (result,) = await _disperse(devnet, 1)
    victim = devnet.operators[3]
    url = f"{victim.api_url}/v1/chunks/0x{result.batch_header_hash.hex()}/0"
    status, body = http_get(url)
    assert status == 200
    chunk = bytes(decode_retrieval_reply(body, WireLimits()).blob.chunks[0])
    devnet.stop_node(victim)
    # Flip one byte of the chunk where it lies on disk, as a failing sector would.
    flipped = []
    for segment in (victim.home / "data").rglob("segments/*.seg"):
        data = bytearray(segment.read_bytes())
        at = data.find(chunk[:64])
        if at >= 0:
            data[at + 10] ^= 0xFF
            segment.write_bytes(bytes(data))
            flipped.append(segment)
    assert flipped, "the chunk was not found in any segment"
    devnet.configure_node(
        victim, {"repair": {"interval": 1.0, "audit_interval": 1.0, "audit_rate": 64 << 20}}
    )
    try:
        devnet.start_node(victim)
        devnet.wait_ready(victim)
        deadline = time.monotonic() + 60
        while _metrics(victim)["operator_node_audit_damaged_batches_total"] < 1:
            assert time.monotonic() < deadline, victim.log_path.read_text()[-3000:]
            time.sleep(0.2)
        _wait_repaired(victim, 1)  # counted since this start
        _assert_serves(victim, result)
        status, body = http_get(url)
        assert bytes(decode_retrieval_reply(body, WireLimits()).blob.chunks[0]) == chunk
        quarantined = list((victim.home / "data").rglob("quarantine/*.seg"))
        assert [q.name for q in quarantined] == [f.name for f in flipped]
        assert "audit_found_damage" in victim.log_path.read_text()
    finally:
        devnet.stop_node(victim)
        devnet.configure_node(victim)
        devnet.start_node(victim)
        devnet.wait_ready(victim)


async def test_a_peer_serving_a_bad_chunk_is_caught_and_the_others_are_used(
    devnet: Devnet,
) -> None:
    (result,) = await _disperse(devnet, 1)
    honest = devnet.operators[3]
    asked: list[str] = []

    async def corrupting(request: web.Request) -> web.Response:
        """An operator that serves a real reply with one chunk byte flipped."""
        asked.append(request.path)
        status, body = http_get(f"{honest.api_url}{request.path}")
        data = bytearray(body)
        if status == 200:
            data[-5] ^= 0x01  # the last chunk's bytes end the reply
        return web.Response(status=status, body=bytes(data))

    app = web.Application()
    app.router.add_get("/v1/chunks/{batch}/{blob}", corrupting)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    connection = devnet.connect()
    try:
        retriever = Retriever(connection, fanout=1)
        me = devnet.operators[0]
        view = ConnectionChainView(connection)
        others = [op.socket for op in devnet.operators if op is not me]
        rebuilt = await rebuild_batch(
            retriever, result.batch_header_hash, me.keypair.operator_id,
            [f"127.0.0.1:{port}", *others], view.get_operator_state,
        )  # fmt: skip
    finally:
        await connection.close()
        await runner.cleanup()
    assert asked, "the bad peer was never asked: the test proves nothing"
    (blob,) = rebuilt.blobs
    validate_blob_chunks(blob)  # the chunks rebuilt are the committed ones
    (assigned,) = [r.chunks for r in result.replies if r.socket == me.socket]
    assert len(blob.indices) == assigned


async def test_store_repair_on_the_command_line_rebuilds_a_stopped_node(devnet: Devnet) -> None:
    (result,) = await _disperse(devnet, 1)
    victim = devnet.operators[1]
    devnet.stop_node(victim)
    shutil.rmtree(victim.home / "data")
    try:
        argv = ("store", "repair", "--config", str(victim.config_path), "--json")
        done = await asyncio.to_thread(run_cli, *argv, timeout=120)
        assert done.returncode == 0, done.stderr
        document = json.loads(done.stdout)
        confirmed = await _count_confirmed(devnet)
        assert document["failed"] == 0 and document["repaired"] == confirmed
        assert done.stderr.count("repaired") >= confirmed  # a progress line per batch
    finally:
        devnet.start_node(victim)
        devnet.wait_ready(victim)
    _assert_serves(victim, result)
