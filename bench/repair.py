"""Repair throughput: a node rebuilding from its peers the batches it lost, against the time to
fetch the same bytes from its peers and the codec's decode speed, in the same run.

A devnet (anvil, the contracts, four nodes with stakes 10/20/30/40) has ``--batches`` blobs of
``--blob-size`` bytes dispersed and confirmed (the disperser's default coding). Then, ``--rounds``
times, the node of stake 20 is stopped, its data directory wiped, and one repair pass run in this
process (``RepairService.run_pass``, as ``operator-node store repair``), timed:

- ``repair_MBps``: this node's chunk bytes rebuilt and stored per second of the pass (the
  figure a repair is judged by: how fast the node gets back what it should hold);
- ``fetch_MBps``: the same blobs' k chunks fetched from the same peers with the same retriever
  and nothing else done (each blob's replies, proved against the batch hash): the network and
  the peers' serving, which the repair cannot beat;
- ``decode_MBps``: the codec alone rebuilding each blob from k chunks and encoding it again
  (what the repair adds to the fetch), on this process's CPU;
- ``fetched_MBps``: chunk bytes received per second of the pass (what the peers served).

The repair's rate limit is lifted for the measurement (``rate`` = 1 TiB/s); the chain connection
has found the contracts before the pass starts, as a running node's has. Then the audit of the
repaired store (``audit_MBps``: stored chunk bytes re-read and checked per second, in this
process) and, from it, what the audit costs at its default rate: ``audit_core_share``, the
fraction of one core that checking 8 MiB a second takes. Medians over the rounds; the JSON line
has every round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from operator_node import __version__
from operator_node.client.disperser import DispersalResult, Disperser
from operator_node.client.retriever import Retriever
from operator_node.config import RepairSection as RepairDefaults
from operator_node.devnet.network import Devnet, DevnetOperator
from operator_node.erasure import cached_codec
from operator_node.health import Health
from operator_node.logging import configure_logging
from operator_node.metrics import Metrics
from operator_node.protocol.headers import CODE_FIELD_BITS
from operator_node.repair.audit import audit_batch
from operator_node.repair.service import RepairService, RepairSettings
from operator_node.store import open_store


async def _disperse(devnet: Devnet, count: int, size: int) -> list[DispersalResult]:
    connection = devnet.connect(devnet.disperser)
    try:
        disperser = Disperser(connection, devnet.disperser, payer=devnet.payer)
        return [await disperser.disperse(os.urandom(size)) for _ in range(count)]
    finally:
        await connection.close()


async def _repair_pass(devnet: Devnet, victim: DevnetOperator) -> dict[str, float]:
    """Wipe the victim's store and time one repair pass into a fresh one."""
    shutil.rmtree(victim.home / "data", ignore_errors=True)
    store = await open_store(
        victim.home / "data" / "chunks", store_duration=3600.0, max_size=4 << 30, health=Health()
    )
    connection = devnet.connect()
    registry = CollectorRegistry()
    metrics = Metrics(registry, avs_name="bench", version=__version__)
    try:
        service = RepairService(
            connection, store, operator_id=victim.keypair.operator_id, own_socket=victim.socket,
            metrics=metrics, health=Health(),
            settings=RepairSettings(rate=float(1 << 40), lookback_blocks=1 << 30),
        )  # fmt: skip
        await connection.get_reader()  # the contracts found, as in a node that is running
        started = time.perf_counter()
        repaired, failed = await service.run_pass()
        seconds = time.perf_counter() - started
    finally:
        await connection.close()
        await store.close()
    assert failed == 0 and repaired > 0, (repaired, failed)
    sample = registry.get_sample_value
    return {
        "seconds": seconds,
        "batches": repaired,
        "chunk_bytes": sample("operator_node_repair_chunk_bytes_total") or 0.0,
        "fetched_bytes": sample("operator_node_repair_fetched_bytes_total") or 0.0,
    }


async def _audit(victim: DevnetOperator) -> dict[str, float]:
    """One unpaced audit of the victim's repaired store, in this process: bytes checked, wall
    seconds and this process's CPU seconds."""
    store = await open_store(
        victim.home / "data" / "chunks", store_duration=3600.0, max_size=4 << 30, health=Health()
    )
    try:
        cpu, started = time.process_time(), time.perf_counter()
        checked = 0
        for batch_hash, _ in await store.list_batches():
            done, problem = await audit_batch(store, batch_hash)
            assert not problem, problem
            checked += done
        return {
            "bytes": float(checked),
            "seconds": time.perf_counter() - started,
            "cpu_seconds": time.process_time() - cpu,
        }
    finally:
        await store.close()


async def _fetch_only(
    devnet: Devnet, victim: DevnetOperator, results: list[DispersalResult]
) -> dict[str, float]:
    """The same blobs' k chunks fetched from the same peers, checked, and nothing else; then
    the codec alone on what was fetched."""
    connection = devnet.connect()
    retriever = Retriever(connection, fanout=RepairSettings().fanout)
    sockets = [s for s in await retriever.fetch_sockets() if s != victim.socket]
    fetch_s = decode_s = 0.0
    fetched = data_bytes = 0
    try:
        for result in results:
            started = time.perf_counter()
            replies, _ = await retriever.fetch_chunks(
                sockets, result.batch_header_hash, result.blob_index, None
            )
            fetch_s += time.perf_counter() - started
            header = next(iter(replies.values())).blob.header
            chunks: dict[int, bytes] = {}
            for reply in replies.values():
                fetched += len(reply.blob.indices) * header.chunk_length
                chunks.update(zip(reply.blob.indices, map(bytes, reply.blob.chunks), strict=True))
            chosen = dict(sorted(chunks.items())[: header.k])
            codec = cached_codec(header.k, header.n, "auto", CODE_FIELD_BITS[header.code])
            started = time.perf_counter()
            data = bytes(codec.decode(chosen, length=header.data_length))
            codec.encode(data)
            decode_s += time.perf_counter() - started
            data_bytes += header.data_length
    finally:
        await connection.close()
    return {
        "fetch_s": fetch_s,
        "fetched_bytes": fetched,
        "decode_s": decode_s,
        "data_bytes": data_bytes,
    }


async def _run(batches: int, size: int, rounds: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-repair-") as root:
        devnet = Devnet(Path(root), repair={"enabled": False})
        await devnet.start()
        try:
            results = await _disperse(devnet, batches, size)
            victim = devnet.operators[1]
            devnet.stop_node(victim)
            per_round = []
            for _ in range(rounds):
                repair = await _repair_pass(devnet, victim)
                audit = await _audit(victim)
                fetch = await _fetch_only(devnet, victim, results)
                per_round.append(
                    {
                        "repair_MBps": repair["chunk_bytes"] / repair["seconds"] / 1e6,
                        "fetched_MBps": repair["fetched_bytes"] / repair["seconds"] / 1e6,
                        "fetch_MBps": fetch["fetched_bytes"] / fetch["fetch_s"] / 1e6,
                        "decode_MBps": fetch["data_bytes"] / fetch["decode_s"] / 1e6,
                        "repair_s": repair["seconds"],
                        "fetch_s": fetch["fetch_s"],
                        "decode_s": fetch["decode_s"],
                        "audit_MBps": audit["bytes"] / audit["seconds"] / 1e6,
                        "audit_core_share": RepairDefaults.audit_rate
                        / (audit["bytes"] / audit["cpu_seconds"]),
                        "chunk_MiB": repair["chunk_bytes"] / (1 << 20),
                        "fetched_MiB": repair["fetched_bytes"] / (1 << 20),
                    }
                )
        finally:
            devnet.stop()

    def median(key: str) -> float:
        return round(statistics.median(r[key] for r in per_round), 3)

    code = {0: "gf8", 1: "gf16"}[results[0].code]
    return {
        "bench": "repair",
        "batches": batches,
        "blob_bytes": size,
        "coding": f"{code} k={results[0].k} n={results[0].n}",
        "rounds": rounds,
        **{key: median(key) for key in per_round[0]},
        # How the pass compares with its parts, on the same blobs: a pass can take no less than
        # the fetch, and adds the decode, the chain reads and the store.
        "repair_over_fetch_plus_decode": round(
            statistics.median(r["repair_s"] / (r["fetch_s"] + r["decode_s"]) for r in per_round), 2
        ),
        "per_round": [{k: round(v, 3) for k, v in r.items()} for r in per_round],
    }


def main() -> None:
    """Run the benchmark and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--blob-size", type=int, default=4 << 20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    configure_logging("warning")
    results = asyncio.run(_run(args.batches, args.blob_size, args.rounds))
    print(
        f"{'repair':>10} {'fetched':>10} {'fetch':>10} {'decode':>10} {'repair s':>9} "
        f"{'fetch s':>8} {'decode s':>9} {'audit':>8} {'core':>6}  (MB/s; medians of "
        f"{args.rounds} rounds; core: the audit's share of a core at its default rate)"
    )
    print(
        f"{results['repair_MBps']:>10} {results['fetched_MBps']:>10} {results['fetch_MBps']:>10} "
        f"{results['decode_MBps']:>10} {results['repair_s']:>9} {results['fetch_s']:>8} "
        f"{results['decode_s']:>9} {results['audit_MBps']:>8} {results['audit_core_share']:>6}"
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
