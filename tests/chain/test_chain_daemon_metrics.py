"""What a real daemon on a real devnet exports, read as Prometheus reads it (one scrape):

- a batch confirmed without this operator's signature shows as missed, with the signing rate
  and the performance score down, in the first scrape one watch interval after the confirm; a
  batch it signed counts as signed; the chain head and its age are there;
- a StoreChunks request it signs moves the store figures, the bytes stored and the time of the
  last batch signed, and a retrieval the bytes served;
- idle, its RPC calls stay under 8 a minute (intervals scaled down, calls counted by a proxy),
  whether the chain stands still or produces blocks; its RPC URL's key is never logged.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chain.batches import confirm_batch
from chain.chain_support import BLS_KEYS, DEPLOYER, QUORUMS, Devnet, rpc_call
from chain.rpc_proxy import RpcProxy
from support.daemon import NodeProcess, http_get, node_config, scrape

from operator_node.client.batch import EncodedBlob, prepare_batch
from operator_node.crypto.keystore import save_bls_keystore
from operator_node.protocol.auth import compute_auth_headers, compute_request_hash
from operator_node.protocol.headers import QuorumParams
from operator_node.protocol.wire import encode_store_chunks

NodeFactory = Callable[..., NodeProcess]
WATCH = 0.25  # seconds between the watcher's polls in these tests (30 by default)
KEY = "pr0v1derK3y0123456789abcdef"  # a made-up API key in the RPC URL


def _sections(
    tmp_path: Path,
    devnet: Devnet,
    payments: str = "enforce",
    payments_refresh: float = 30.0,
    **chain: Any,
) -> dict[str, dict[str, Any]]:
    """Operator 0's node on the devnet (its BLS key, both quorums) with ``chain`` overrides;
    ``payments`` is its ``[payments] mode`` (this devnet has a vault but no paying account)."""
    keystore, password = tmp_path / "bls.key.json", tmp_path / "bls.password"
    if not keystore.exists():
        save_bls_keystore(keystore, BLS_KEYS[0], "pw", scrypt_n=1024)
        password.write_text("pw\n")
        os.chmod(password, 0o600)
    deployment = devnet.deployment
    return node_config(
        tmp_path,
        keys={"bls_keystore": str(keystore), "bls_password_file": str(password)},
        chain={
            "rpc_url": devnet.rpc_url,
            "chain_id": devnet.anvil.chain_id,
            "registry_coordinator": deployment.registry_coordinator,
            "operator_state_retriever": deployment.operator_state_retriever,
            "quorums": list(QUORUMS),
            "watch_interval": WATCH,
            "refresh_interval": 0.5,
            **chain,
        },
        dispersal={"max_blob_size": 1 << 20},
        payments={"mode": payments, "refresh_interval": payments_refresh},
        repair={"interval": 2 * payments_refresh},
    )


def _scrape(node: NodeProcess) -> dict[str, float]:
    """One scrape of the node's metrics (see ``support.daemon.scrape``)."""
    return scrape(node.metrics_url())


async def _wait_for(
    node: NodeProcess, ready: Callable[[dict[str, float]], bool], timeout: float = 15.0
) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        samples = await asyncio.to_thread(_scrape, node)
        if ready(samples):
            return samples
        await asyncio.sleep(0.05)
    raise AssertionError(f"metrics never got there; log:\n{node.log()[-3000:]}")


def _up_fraction(node: NodeProcess) -> float:
    services = json.loads(http_get(node.url("/eigen/node/services"))[1])["services"]
    return float(sum(s["status"] == "Up" for s in services) / len(services))


async def _start(node_factory: NodeFactory, sections: dict[str, dict[str, Any]]) -> NodeProcess:
    node = node_factory(sections)
    await asyncio.to_thread(node.wait_ready)
    return node


async def test_daemon_shows_a_missed_batch_in_the_first_scrape_after_its_confirmation(
    devnet: Devnet, tmp_path: Path, node_factory: NodeFactory
) -> None:
    for index in range(3):
        await devnet.register(index)
    node = await _start(node_factory, _sections(tmp_path, devnet))
    await _wait_for(node, lambda m: m.get("operator_node_signing_rate") == 1.0)

    missed = await confirm_batch(devnet, signers=(1, 2))  # this node's key did not sign
    await asyncio.sleep(WATCH + 1.0)  # one watch interval, and time to judge the batch
    samples = await asyncio.to_thread(_scrape, node)
    assert samples["operator_node_batches_confirmed_total"] == 1
    assert samples["operator_node_batches_missed_total"] == 1
    assert samples["operator_node_batches_signed_total"] == 0
    assert samples["operator_node_signing_rate"] == 0.0
    assert samples["eigen_performance_score{avs_name=data-availability}"] == 0.0
    assert f'"batch_header_hash": "0x{missed.compute_signed_hash().hex()}"' in node.log()

    await confirm_batch(devnet, signers=(0, 1))
    await asyncio.sleep(WATCH + 1.0)
    up = _up_fraction(node)
    samples = await asyncio.to_thread(_scrape, node)
    assert samples["operator_node_batches_signed_total"] == 1
    assert samples["operator_node_signing_rate"] == 0.5
    score = samples["eigen_performance_score{avs_name=data-availability}"]
    assert score == min(100 * up, 50.0)
    latest = rpc_call(devnet.rpc_url, "eth_getBlockByNumber", ["latest", False])
    assert samples["operator_node_chain_head_block"] == int(latest["number"], 16)
    assert samples["operator_node_chain_watcher_block"] == int(latest["number"], 16)
    # Now minus the head's timestamp when last read (anvil's clock may lag after reverts).
    lag = max(0.0, time.time() - int(latest["timestamp"], 16))
    assert abs(samples["operator_node_chain_head_age_seconds"] - lag) < 5


def _store_chunks_request(devnet: Devnet, reference: int) -> tuple[bytes, bytes, int]:
    """Operator 0's StoreChunks body of a one-blob batch over quorum 0 as stakes stand at
    ``reference``; (body, batch header hash, operator 0's chunk bytes)."""
    rng = random.Random(21)
    blob = EncodedBlob.from_data(
        rng.randbytes(200),
        n=32,
        k=4,
        quorums=[QuorumParams(0, 25, 50)],
        account=b"\xaa" * 20,
    )
    stakes = [(BLS_KEYS[i].operator_id, stake) for i, stake in enumerate((100, 200, 300))]
    batch = prepare_batch([blob], {0: stakes}, reference)
    request = batch.requests[BLS_KEYS[0].operator_id]
    body = b"".join(encode_store_chunks(request))
    return body, batch.header_hash, sum(b.chunk_bytes for b in request.blobs)


def _post(node: NodeProcess, body: bytes) -> int:
    headers = compute_auth_headers(
        DEPLOYER, BLS_KEYS[0].operator_id, int(time.time()), compute_request_hash(body)
    )
    request = urllib.request.Request(
        node.dispersal_url("/v1/store-chunks"), data=body, headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status)


async def test_daemon_store_figures_and_bytes_move_on_a_write_and_a_read(
    devnet: Devnet, tmp_path: Path, node_factory: NodeFactory
) -> None:
    for index in range(3):
        await devnet.register(index)
    node = await _start(node_factory, _sections(tmp_path, devnet, payments="off"))
    deadline = time.monotonic() + 15
    while http_get(node.url("/eigen/node/services/dispersal/health"))[0] != 200:
        assert time.monotonic() < deadline, node.log()[-3000:]
        await asyncio.sleep(0.05)
    before = await asyncio.to_thread(_scrape, node)
    assert before["operator_node_last_batch_signed_timestamp_seconds"] == 0

    reference = int(rpc_call(devnet.rpc_url, "eth_blockNumber"), 16)
    body, batch_hash, chunk_bytes = _store_chunks_request(devnet, reference)
    sent_at = time.time()
    assert await asyncio.to_thread(_post, node, body) == 200
    after = await asyncio.to_thread(_scrape, node)
    assert after["operator_node_store_entries"] > before["operator_node_store_entries"]
    assert after["operator_node_store_used_bytes"] > before["operator_node_store_used_bytes"]
    assert after["operator_node_store_free_bytes"] < before["operator_node_store_free_bytes"]
    assert after["operator_node_stored_bytes_total{code=gf8}"] == chunk_bytes
    assert after["operator_node_stored_bytes_total{code=gf16}"] == 0
    signed_at = after["operator_node_last_batch_signed_timestamp_seconds"]
    assert sent_at - 1 <= signed_at <= time.time() + 1

    status, _ = http_get(node.url(f"/v1/chunks/0x{batch_hash.hex()}/0"))
    assert status == 200
    served = await asyncio.to_thread(_scrape, node)
    assert served["operator_node_retrieval_bytes_total"] == chunk_bytes


async def test_daemon_idle_rpc_calls_stay_under_twelve_a_minute(
    devnet: Devnet, tmp_path: Path, node_factory: NodeFactory
) -> None:
    await devnet.register(0, quorums=(0,))
    scale = 30  # 1 s here is 30 s at the defaults (watch 30, refresh 60, payments 30, repair 60)
    window = 4.0  # two minutes at the default intervals
    async with RpcProxy(devnet.rpc_url) as proxy:
        sections = _sections(
            tmp_path,
            devnet,
            rpc_url=proxy.url(f"/v2/{KEY}"),
            quorums=[0],
            watch_interval=30 / scale,
            refresh_interval=60 / scale,
            payments_refresh=30 / scale,
        )
        node = await _start(node_factory, sections)
        await _wait_for(node, lambda m: "operator_node_signing_rate" in m)
        await asyncio.sleep(60 / scale)  # past start-up (discovery, first reads)

        async def calls_per_default_minute() -> float:
            start = proxy.total_calls
            await asyncio.sleep(window)
            return (proxy.total_calls - start) / (window * scale / 60)

        still = await calls_per_default_minute()  # anvil mines only on transactions
        rpc_call(devnet.rpc_url, "evm_setIntervalMining", [1])  # a block every 30 s, scaled
        try:
            await asyncio.sleep(1.0)
            moving = await calls_per_default_minute()
        finally:
            rpc_call(devnet.rpc_url, "evm_setIntervalMining", [0])
            rpc_call(devnet.rpc_url, "evm_setAutomine", [True])
    # Measured: 4 a minute on a still chain, 7.5 to 9.5 on a moving one (the watcher's and the
    # payment vault's eth_getLogs every 30 s, the repair's every 60 s; how their polls fall
    # against each other moves it by a call or two).
    assert still <= 8, (still, proxy.calls)
    assert moving <= 12, (moving, proxy.calls)
    assert proxy.calls["eth_chainId"] <= 2  # checked at start, never per request
    assert KEY not in node.log()
