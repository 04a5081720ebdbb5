"""Chunk store benchmark: durable batch writes against the disk's raw bound, and warm reads.

Writes: ``put_batch`` of batches holding 24 chunks x 64 KiB (one blob) against the raw bound
measured in the same run and directory: the same bytes appended to a plain file with one fsync
per batch. Each batch is written both ways back to back, so that drift of the shared disk hits
both; figures are medians over all batches. Reads: ``get_chunks`` of one blob (all 24 chunks)
from a warm cache, p50 and p99, directly and through the asyncio facade.
Targets: writes >= 70% of raw, read p99 < 1 ms. Prints a table, then one JSON line of figures.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from operator_node.logging import configure_logging
from operator_node.store import AsyncStore, LmdbStore, StoredBlob

CHUNKS = 24
CHUNK_SIZE = 64 << 10
WRITE_TARGET = 0.70
READ_P99_TARGET_US = 1000.0


def make_batches(count: int, seed: int) -> list[tuple[bytes, bytes, list[StoredBlob]]]:
    """``count`` distinct batches of one blob with CHUNKS random chunks each."""
    rng = random.Random(seed)
    batches = []
    for number in range(count):
        chunks = {index: rng.randbytes(CHUNK_SIZE) for index in range(CHUNKS)}
        header = rng.randbytes(200)
        batch_hash = hashlib.sha256(b"bench %d %d" % (seed, number)).digest()
        batches.append((batch_hash, rng.randbytes(36), [StoredBlob(header, chunks)]))
    return batches


def batch_bytes(batch: tuple[bytes, bytes, list[StoredBlob]]) -> bytes:
    """The batch's payload as one buffer, as the raw bound writes it."""
    _, header, blobs = batch
    parts = [header]
    for blob in blobs:
        parts.append(bytes(blob.header))
        parts.extend(bytes(chunk) for chunk in blob.chunks.values())
    return b"".join(parts)


def time_writes(
    store: LmdbStore, raw_fd: int, batches: list[tuple[bytes, bytes, list[StoredBlob]]]
) -> tuple[list[float], list[float]]:
    """Seconds per batch for the raw bound and for put_batch, interleaved batch by batch.

    Interleaving exposes both to the same disk conditions (the machine is shared); the raw
    bound appends the batch's payload to a plain file and fsyncs it.
    """
    raw, put = [], []
    for batch_hash, header, blobs in batches:
        payload = batch_bytes((batch_hash, header, blobs))
        start = time.perf_counter()
        os.write(raw_fd, payload)
        os.fsync(raw_fd)
        raw.append(time.perf_counter() - start)
        start = time.perf_counter()
        assert store.put_batch(batch_hash, header, blobs)
        put.append(time.perf_counter() - start)
    return raw, put


def percentile(samples: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``samples``."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def time_reads(store: LmdbStore, hashes: list[bytes], reads: int) -> list[float]:
    """Microseconds per get_chunks of one stored blob, warm (every blob is read once first)."""
    for batch_hash in hashes:
        store.get_chunks(batch_hash, 0)
    rng = random.Random(1)
    samples = []
    for _ in range(reads):
        batch_hash = rng.choice(hashes)
        start = time.perf_counter()
        chunks = store.get_chunks(batch_hash, 0)
        samples.append((time.perf_counter() - start) * 1e6)
        assert chunks is not None and len(chunks) == CHUNKS
    return samples


async def time_async_reads(store: LmdbStore, hashes: list[bytes], reads: int) -> list[float]:
    """Microseconds per get_chunks through AsyncStore, as the API would call it."""
    facade = AsyncStore(store)
    rng = random.Random(2)
    samples = []
    for _ in range(reads):
        start = time.perf_counter()
        chunks = await facade.get_chunks(rng.choice(hashes), 0)
        samples.append((time.perf_counter() - start) * 1e6)
        assert chunks is not None
    return samples


def main() -> None:
    """Run the benchmark and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="directory to test (default: tmp)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=40, help="batches per round")
    parser.add_argument("--reads", type=int, default=3000)
    args = parser.parse_args()
    configure_logging(level="warning")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        directory = Path(tmp)
        store = LmdbStore(directory / "chunks", store_duration=3600.0, max_size=8 << 30)
        raw_fd = os.open(directory / "raw.bin", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        raw_times, put_times, hashes = [], [], []
        for round_number in range(args.rounds):
            batches = make_batches(args.batches, seed=round_number)
            raw, put = time_writes(store, raw_fd, batches)
            raw_times += raw
            put_times += put
            hashes += [batch_hash for batch_hash, _, _ in batches]
        os.close(raw_fd)
        reads = time_reads(store, hashes, args.reads)
        async_reads = asyncio.run(time_async_reads(store, hashes, args.reads // 3))
        stats = store.stats()
        store.close()
    payload = len(batch_bytes(batches[0]))
    report(payload, raw_times, put_times, reads, async_reads, stats.used_bytes)


def report(
    payload: int,
    raw_times: list[float],
    put_times: list[float],
    reads: list[float],
    async_reads: list[float],
    used_bytes: int,
) -> None:
    """Print the table and the JSON line."""
    raw = payload / statistics.median(raw_times) / 1e6
    put = payload / statistics.median(put_times) / 1e6
    figures = {
        "batch_mib": CHUNKS * CHUNK_SIZE / (1 << 20),
        "batches": len(put_times),
        "raw_write_mb_s": round(raw, 1),
        "store_write_mb_s": round(put, 1),
        "write_ratio": round(put / raw, 3),
        "read_p50_us": round(percentile(reads, 0.50), 1),
        "read_p99_us": round(percentile(reads, 0.99), 1),
        "async_read_p50_us": round(percentile(async_reads, 0.50), 1),
        "async_read_p99_us": round(percentile(async_reads, 0.99), 1),
        "store_used_mib": round(used_bytes / (1 << 20), 1),
    }
    figures["write_target_met"] = figures["write_ratio"] >= WRITE_TARGET
    figures["read_target_met"] = figures["read_p99_us"] < READ_P99_TARGET_US
    print(f"{'measure':<40}{'value':>12}")
    print(f"{'raw append + fsync per batch (MB/s)':<40}{raw:>12.1f}")
    print(f"{'put_batch, 24 x 64 KiB (MB/s)':<40}{put:>12.1f}")
    print(f"{'put_batch / raw':<40}{put / raw:>12.3f}   target >= {WRITE_TARGET}")
    print(f"{'get_chunks p50 (us)':<40}{figures['read_p50_us']:>12}")
    print(f"{'get_chunks p99 (us)':<40}{figures['read_p99_us']:>12}   target < 1000")
    print(f"{'AsyncStore.get_chunks p50 (us)':<40}{figures['async_read_p50_us']:>12}")
    print(f"{'AsyncStore.get_chunks p99 (us)':<40}{figures['async_read_p99_us']:>12}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
