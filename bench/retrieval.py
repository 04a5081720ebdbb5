"""Retrieval of every blob of a many-blob batch over HTTP, with the batch-tree cache and without.

A retriever asks a node for each blob of a batch; each reply carries the blob header's proof to
the batch root, which needs the tree over all the batch's blob headers. The node keeps recent
batches' headers and trees (``api.retrieval.BatchTrees``) and then reads only the blob asked
for; the peer in the same run is the same handler reading the whole batch and rebuilding its tree
on every request, as the node did before. Real LMDB store, real aiohttp server and client on
loopback. Prints a table, then one JSON line of figures (medians of the per-request latency).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from operator_node.api.ratelimit import RateLimiter
from operator_node.api.retrieval import BatchIndex, BatchTrees, RetrievalHandler
from operator_node.client.batch import EncodedBlob, prepare_batch
from operator_node.crypto.bls import BlsKeyPair
from operator_node.devnet.ports import free_port
from operator_node.dispersal.records import (
    decode_batch_record,
    decode_blob_header,
    encode_batch_record,
    encode_blob_record,
)
from operator_node.health import Health
from operator_node.logging import configure_logging
from operator_node.metrics import Metrics
from operator_node.protocol.headers import QuorumParams, compute_batch_tree
from operator_node.store import AsyncStore, StoredBatch, StoredBlob, open_store

CHUNKS = 8
CHUNK_SIZE = 512


class RebuildEveryTime(BatchTrees):
    """The peer: every request reads the whole batch and builds its tree on the event loop."""

    async def get(
        self, batch_hash: bytes, load: Callable[[], Awaitable[StoredBatch | None]]
    ) -> BatchIndex | None:
        """A fresh index of the batch ``load()`` returns."""
        batch = await load()
        if batch is None:
            return None
        tree = compute_batch_tree([decode_blob_header(record) for record in batch.blob_headers])
        return BatchIndex(decode_batch_record(batch.header), tree)


def _records(blobs: int) -> tuple[bytes, list[StoredBlob]]:
    """A batch of ``blobs`` blobs as stored (records made by the real client path)."""
    operators = [BlsKeyPair.from_secret(9000 + i) for i in range(4)]
    states = {0: [(kp.operator_id, 25) for kp in operators]}
    base = EncodedBlob.from_data(
        os.urandom(4 * CHUNK_SIZE),
        n=16,
        k=4,
        quorums=[QuorumParams(0, 25, 50)],
        account=bytes(20),
    )
    encoded = [
        EncodedBlob(replace(base.header, account=i.to_bytes(20, "big")), base.chunks, base.tree)
        for i in range(blobs)
    ]
    batch = prepare_batch(encoded, states, 10)
    request = batch.requests[operators[0].operator_id]
    stored = [
        StoredBlob(encode_blob_record(blob), dict(zip(blob.indices, blob.chunks, strict=True)))
        for blob in request.blobs
    ]
    return encode_batch_record(batch.header), stored


async def _serve(store: AsyncStore, trees: BatchTrees) -> tuple[web.AppRunner, int]:
    app = web.Application()
    metrics = Metrics(CollectorRegistry(), avs_name="bench", version="0")
    RetrievalHandler(store, RateLimiter(0, 1), metrics, trees).add_routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


async def _fetch_all(port: int, batch_hash: bytes, blobs: int, clients: int) -> list[float]:
    """Latency of GET for every blob of the batch, ``clients`` requests at a time."""
    latencies: list[float] = []
    queue = list(range(blobs))

    async def client(session: aiohttp.ClientSession) -> None:
        while queue:
            index = queue.pop()
            start = time.perf_counter()
            url = f"http://127.0.0.1:{port}/v1/chunks/0x{batch_hash.hex()}/{index}"
            async with session.get(url) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"blob {index}: HTTP {response.status}")
            latencies.append(time.perf_counter() - start)

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    return latencies


async def _run(blobs: int, clients: int) -> dict[str, object]:
    header, stored = _records(blobs)
    results: dict[str, object] = {"bench": "retrieval", "blobs": blobs, "clients": clients}
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as root:
        store = await open_store(
            Path(root) / "chunks", store_duration=3600, max_size=1 << 30, health=Health()
        )
        try:
            batch_hash = os.urandom(32)
            await store.put_batch(batch_hash, header, stored)
            for name, trees in (("rebuild_each_request", RebuildEveryTime()), ("cached", None)):
                runner, port = await _serve(store, BatchTrees() if trees is None else trees)
                start = time.perf_counter()
                latencies = await _fetch_all(port, batch_hash, blobs, clients)
                elapsed = time.perf_counter() - start
                await runner.cleanup()
                ordered = sorted(latencies)
                results[name] = {
                    "requests_per_s": round(blobs / elapsed, 1),
                    "p50_ms": round(statistics.median(latencies) * 1000, 2),
                    "p99_ms": round(
                        ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000, 2
                    ),
                }
        finally:
            await store.close()
    return results


def main() -> None:
    """Run the benchmark and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blobs", type=int, default=1000, help="blobs in the batch")
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    configure_logging(level="warning")
    results = asyncio.run(_run(args.blobs, args.clients))
    print(f"{'trees':>22} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for name in ("rebuild_each_request", "cached"):
        r = results[name]
        assert isinstance(r, dict)
        print(f"{name:>22} {r['requests_per_s']:>8} {r['p50_ms']:>8} {r['p99_ms']:>8}")
    cached, rebuilt = results["cached"], results["rebuild_each_request"]
    assert isinstance(cached, dict) and isinstance(rebuilt, dict)
    results["speedup"] = round(cached["requests_per_s"] / rebuilt["requests_per_s"], 2)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
