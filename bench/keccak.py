"""keccak256 of a StoreChunks request's chunks: keccak256_many per backend against pycryptodome.

The workload is what a node hashes to check a request's Merkle proofs: 192 chunks of 64 KiB (and
24, one blob's share), all the same length, as memoryview slices of one request body. Each
backend of ``keccak256_many`` this machine runs (avx512, avx2, scalar: forced in turn through
OPERATOR_NODE_KECCAK_BACKEND) hashes the whole list on 1 thread, then the list split in two
halves on 2 threads at once (the C code releases the GIL). The peer is pycryptodome's keccak, one
chunk at a time, on 1 and 2 threads the same way: what ``keccak256`` runs today.

Figures are MB/s of chunk bytes, medians over repeats; the ratios divide by pycryptodome on the
same number of threads. The last line printed is a JSON object of the figures.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from operator_node.protocol.hashes import (
    KECCAK_BACKEND_ENV,
    available_keccak_backends,
    keccak256,
    keccak256_many,
)

CHUNK = 64 * 1024
SHAPES = (192, 24)  # chunks per request
REPEATS = 31
PEER = "pycryptodome"


def median_seconds(run: Callable[[], object], repeats: int = REPEATS) -> float:
    """Median wall time of run() over ``repeats`` calls, after one warm-up call."""
    run()
    times = []
    gc.disable()
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return statistics.median(times)


def hash_list(backend: str, chunks: Sequence[memoryview]) -> list[bytes]:
    """Hash chunks the way ``backend`` would: pycryptodome one by one, else keccak256_many."""
    if backend == PEER:
        return [keccak256(c) for c in chunks]
    return keccak256_many(chunks)


def throughput(
    backend: str, chunks: list[memoryview], pool: ThreadPoolExecutor
) -> dict[str, float]:
    """MB/s of `backend` on the chunks: on 1 thread, and split in halves on 2 threads."""
    if backend != PEER:
        os.environ[KECCAK_BACKEND_ENV] = backend
    half = len(chunks) // 2
    halves = (chunks[:half], chunks[half:])

    def two_threads() -> None:
        for future in [pool.submit(hash_list, backend, h) for h in halves]:
            future.result()

    total = len(chunks) * CHUNK / 1e6
    one = median_seconds(lambda: hash_list(backend, chunks))
    two = median_seconds(two_threads)
    os.environ.pop(KECCAK_BACKEND_ENV, None)
    return {"1 thread": round(total / one, 1), "2 threads": round(total / two, 1)}


def check_digests(backends: Sequence[str], chunks: list[memoryview]) -> None:
    """Refuse to report speed for a backend whose digests differ from pycryptodome's."""
    expected = hash_list(PEER, chunks[:9])
    for backend in backends:
        os.environ[KECCAK_BACKEND_ENV] = backend
        assert hash_list(backend, chunks[:9]) == expected, backend
    os.environ.pop(KECCAK_BACKEND_ENV, None)


def main() -> None:
    """Measure every shape and backend, print the table and the JSON line."""
    os.environ.pop(KECCAK_BACKEND_ENV, None)
    backends = [b for b in available_keccak_backends() if b != PEER]
    body = memoryview(os.urandom(max(SHAPES) * CHUNK + 1))[1:]  # unaligned, like a request body
    figures: dict[str, dict[str, dict[str, float]]] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for count in SHAPES:
            chunks = [body[i * CHUNK : (i + 1) * CHUNK] for i in range(count)]
            check_digests(backends, chunks)
            figures[f"{count}x64KiB"] = {b: throughput(b, chunks, pool) for b in [*backends, PEER]}
    ratios = {
        shape: {b: {t: round(row[b][t] / row[PEER][t], 2) for t in row[b]} for b in backends}
        for shape, row in figures.items()
    }
    print(f"cpus: {os.cpu_count()}, default backend: {available_keccak_backends()[0]}")
    print(
        f"{'chunks':<12}{'backend':<14}{'1 thread MB/s':>15}{'2 threads MB/s':>16}"
        f"{'x peer (1)':>12}{'x peer (2)':>12}"
    )
    for shape, row in figures.items():
        for backend, speed in row.items():
            ratio = ratios[shape].get(backend, {"1 thread": 1.0, "2 threads": 1.0})
            print(
                f"{shape:<12}{backend:<14}{speed['1 thread']:>15.0f}{speed['2 threads']:>16.0f}"
                f"{ratio['1 thread']:>12.2f}{ratio['2 threads']:>12.2f}"
            )
    print(
        json.dumps(
            {
                "bench": "keccak",
                "unit": "MB/s",
                "peer": PEER,
                "mb_per_s": figures,
                "ratio_to_peer": ratios,
            }
        )
    )


if __name__ == "__main__":
    main()
