"""Dispersal end to end on the devnet: 2 MiB blobs encoded, sent to 4 nodes, signatures
batch-verified, confirmed on chain. Prints a table and a final JSON line.

Run: ``.venv/bin/python bench/dispersal.py [--runs N] [--k K]`` (``make bench`` runs it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from operator_node.client.disperser import Disperser
from operator_node.devnet.network import Devnet

BLOB_BYTES = 2 << 20


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _run(runs: int, k: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-dispersal-") as root:
        devnet = Devnet(Path(root))
        await devnet.start()
        connection = devnet.connect(devnet.disperser)
        try:
            disperser = Disperser(connection, devnet.disperser, payer=devnet.payer)
            await disperser.disperse(os.urandom(BLOB_BYTES), k=k)  # warm-up: caches, sessions
            latencies, steps = [], []
            for _ in range(runs):
                data = os.urandom(BLOB_BYTES)
                start = time.perf_counter()
                result = await disperser.disperse(data, k=k)
                latencies.append(time.perf_counter() - start)
                steps.append(result.timings)
        finally:
            await connection.close()
            devnet.stop()
    p50 = statistics.median(latencies)
    return {
        "bench": "dispersal",
        "operators": 4,
        "blob_bytes": BLOB_BYTES,
        "k": k,
        "n": result.n,
        "runs": runs,
        "latency_p50_s": round(p50, 4),
        "latency_p99_s": round(_percentile(latencies, 0.99), 4),
        "MBps_confirmed": round(BLOB_BYTES / p50 / 1e6, 2),
        "step_median_ms": {
            step: round(statistics.median(t[step] for t in steps) * 1000, 1) for step in steps[0]
        },
    }


def main() -> None:
    """Run the benchmark and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--k", type=int, default=32)
    args = parser.parse_args()
    figures = asyncio.run(_run(args.runs, args.k))
    print(f"{'blob':>10} {'k/n':>7} {'p50 s':>8} {'p99 s':>8} {'MB/s':>8}")
    p50, p99, rate = figures["latency_p50_s"], figures["latency_p99_s"], figures["MBps_confirmed"]
    shape = f"{figures['k']}/{figures['n']}"
    print(f"{figures['blob_bytes']:>10} {shape:>7} {p50:>8} {p99:>8} {rate:>8}")
    print("median per step (ms):", figures["step_median_ms"])
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
