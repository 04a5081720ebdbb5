"""StoreChunks ingest into one real node (devnet: anvil + 4 nodes), against the work bound.

The node under test is the devnet's largest operator; each request carries its share of every
blob: 24 chunks of 64 KiB per blob (k=15 with stakes 10/20/30/40 at gamma = 25%), for single-blob
batches and 8-blob batches, from several concurrent clients; then, for many operators' codes, a
16 MiB blob in 8,194 chunks of 8 KiB (GF(2^16), k=2048): the node's share is 3,277 chunks with
a 14-word proof each. Batches differ only in the blob header's account field, so preparing many
costs no hashing of chunk data.

In the same run, on the same bodies, the work bound: (a) a bare aiohttp handler that only reads
the body (separate process, same concurrency), (b) sequential write + fsync per body into the
node's data directory, (c) keccak256 of the chunks (what the node must hash) on two threads, with
the fastest keccak the node has (multi-buffer C; pycryptodome's figure is printed too). Target:
≥ 70% of the smallest.

The node and the bounds run in turn, ``--rounds`` times, each round on fresh batches: this shared
machine's disk and CPU drift by ±15% within minutes, and one sub-second run of each says more
about the drift than about the node. Rates and the ratio are medians over the rounds (the ratio
is taken within each round, node against that round's bounds); every round's ratio is printed.
Beside (b), and not part of the bound, the same bytes appended with ``O_DIRECT`` and one
fdatasync each (``direct_write_fdatasync_MBps``), as the node writes them: how much faster this
disk takes them when the page cache is bypassed.

Each bound has the whole machine to itself; the node must do all three works at once, on the same
cores as the clients. So the run also counts CPU per request: the node's (event loop, other
threads) and its clients', and each bound's (the bare run with its clients). From the bounds' CPU
comes ``all_work_on_all_cores_MBps``: the rate at which every core, doing nothing but the three
bounds' own work, would serve these bodies. It is not a hard ceiling (the node reads a body with
one copy and writes with O_DIRECT, cheaper than ``read()`` and a buffered write), but a node well
below it is waiting (latency), not computing.

Where it waits: the node's mean time per StoreChunks stage (``stage_mean_ms``) and, inside the
``store`` stage, its store-write metrics (``store_write``): a group commit's mean duration, the
batches per commit, and a batch's mean wait for its shard's writer. What the store stage has
beyond those two is the hand-off to the writer thread and back to the event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mmap
import multiprocessing
import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
from aiohttp import web

from operator_node.client.batch import EncodedBlob, PreparedBatch, prepare_batch
from operator_node.devnet.network import Devnet, DevnetOperator
from operator_node.devnet.ports import free_port
from operator_node.protocol.auth import compute_auth_headers, compute_request_hash
from operator_node.protocol.hashes import keccak256, keccak256_many, keccak_backend
from operator_node.protocol.headers import QuorumParams
from operator_node.protocol.wire import encode_store_chunks

CHUNK = 64 << 10
_STAGE_SUM = re.compile(
    r"operator_node_store_chunks_stage_seconds_sum\{[^}]*"
    r'stage="(?P<stage>\w+)"[^}]*\} (?P<value>\S+)'
)
# The store's group-commit histograms (unlabelled): count and sum of each.
_WRITE_HISTOGRAMS = (
    "operator_node_store_write_seconds",
    "operator_node_store_write_batches",
    "operator_node_store_write_wait_seconds",
)
_WRITE_SAMPLES = tuple(f"{name}_{kind}" for name in _WRITE_HISTOGRAMS for kind in ("count", "sum"))
K = 15
QUORUM = QuorumParams(0, 25, 50)


@dataclass(frozen=True)
class Shape:
    """A blob's coding as the bench sends it (the chunks are random: the node checks proofs and
    assignment, not the codeword)."""

    k: int
    n: int
    chunk_length: int
    code: int = 0

    @property
    def data_length(self) -> int:
        return self.k * self.chunk_length


GF8_SHAPE = Shape(K, 64, CHUNK)
# A 16 MiB blob in 8 KiB chunks (GF(2^16)): stakes 1:2:3:4 at gamma 1/4 give k=2048 operators
# ceil(0.4k), ceil(0.8k), ceil(1.2k), ceil(1.6k) chunks, n = 8,194.
GF16_SHAPE = Shape(2048, 8194, 8 << 10, code=1)


def _blob(shape: Shape, chunks: list[bytes], account: bytes) -> EncodedBlob:
    return EncodedBlob.from_chunks(
        chunks, data_length=shape.data_length, k=shape.k, quorums=[QUORUM], account=account,
        code=shape.code,
    )  # fmt: skip


def _batches(
    count: int,
    blobs: int,
    states: dict[int, list[tuple[bytes, int]]],
    block: int,
    chunks: list[bytes],
    shape: Shape,
    *,
    first: int = 0,
) -> list[PreparedBatch]:
    """``count`` batches, distinct from every other call's with a different ``first``."""
    base = _blob(shape, chunks, bytes(20))
    prepared = []
    for i in range(count):
        encoded = [
            EncodedBlob(
                replace(base.header, account=((first + i) * blobs + b).to_bytes(20, "big")),
                base.chunks,
                base.tree,
            )
            for b in range(blobs)
        ]
        prepared.append(prepare_batch(encoded, states, block))
    return prepared


async def _post_all(
    url: str, bodies: list[bytes], headers: list[dict[str, str]], clients: int
) -> list[float]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(bodies)):
        queue.put_nowait(i)
    latencies: list[float] = []

    async def client(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            start = time.perf_counter()
            async with session.post(url, data=bodies[i], headers=headers[i]) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{response.status}: {await response.text()}")
            latencies.append(time.perf_counter() - start)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    return latencies


async def _node_totals(url: str) -> tuple[dict[str, float], dict[str, float]]:
    """The node's summed seconds per StoreChunks stage, and its store-write histograms' counts
    and sums, from its Prometheus endpoint."""
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        text = await response.text()
    stages, writes = {}, {}
    for line in text.splitlines():
        match = _STAGE_SUM.match(line)
        if match:
            stages[match["stage"]] = float(match["value"])
        name, _, value = line.partition(" ")
        if name in _WRITE_SAMPLES:
            writes[name] = float(value)
    return stages, writes


def _thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) of a process's main thread (its event loop) and the rest."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"loop": 0.0, "other_threads": 0.0}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:  # a thread that ended meanwhile
            continue
        seconds = (int(fields[11]) + int(fields[12])) / tick
        totals["loop" if int(task.name) == pid else "other_threads"] += seconds
    return totals


def _bare_server(port: int, ready: multiprocessing.synchronize.Event) -> None:
    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"ok": True})

    async def serve() -> None:
        app = web.Application(client_max_size=256 << 20)
        app.router.add_post("/", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(serve())


def _fsync_bound(directory: Path, bodies: list[bytes]) -> float:
    path = directory / "bench-fsync.bin"
    start = time.perf_counter()
    with path.open("wb") as fh:
        for body in bodies:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
    elapsed = time.perf_counter() - start
    path.unlink()
    return elapsed


def _with_cpu(work: Callable[[], float]) -> tuple[float, float]:
    """``work()``'s result and the CPU seconds this process spent on it."""
    start = time.process_time()
    result = work()
    return result, time.process_time() - start


def _keccak_bound(chunk_runs: list[list[bytes]], many: bool) -> float:
    """Seconds to hash every chunk on two threads: multi-buffer C keccak, or pycryptodome."""

    def hash_run(run: list[bytes]) -> None:
        if many:
            keccak256_many(run)
        else:
            for chunk in run:
                keccak256(chunk)

    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(hash_run, chunk_runs))
    return time.perf_counter() - start


def _direct_bound(directory: Path, bodies: list[bytes]) -> float:
    """Seconds to append every body with ``O_DIRECT`` and fdatasync each (the node's method).

    For information only, beside the issue's write + fsync bound: it shows how much faster
    this disk takes the same bytes when the page cache is bypassed. None without ``O_DIRECT``.
    """
    size = -(-max(map(len, bodies)) // 4096) * 4096
    buffer = mmap.mmap(-1, size)  # page-aligned, as O_DIRECT needs
    path = directory / "bench-direct.bin"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_DIRECT", 0)
    fd = os.open(path, flags, 0o600)
    try:
        start = time.perf_counter()
        offset = 0
        for body in bodies:
            buffer[: len(body)] = body
            os.pwrite(fd, buffer, offset)
            os.fdatasync(fd)
            offset += size
        return time.perf_counter() - start
    finally:
        os.close(fd)
        path.unlink()


@dataclass
class _Round:
    """One round's raw figures: seconds, CPU seconds and latencies, all on the same bodies."""

    node_s: float
    bare_s: float
    fsync_s: float
    direct_s: float
    keccak_s: float
    pycryptodome_s: float
    latencies: list[float]
    node_cpu: dict[str, float]
    client_cpu: float
    bare_cpu: float
    fsync_cpu: float
    keccak_cpu: float
    stages: dict[str, float]
    writes: dict[str, float]


async def _round(
    devnet: Devnet,
    target: DevnetOperator,
    batches: list[PreparedBatch],
    clients: int,
) -> _Round:
    """The node on fresh batches, then each bound on the same bodies."""
    me = target.keypair.operator_id
    bodies = [b"".join(encode_store_chunks(b.requests[me])) for b in batches]
    # The chunks the node hashes, as two runs of whole requests (one per thread).
    all_chunks = [bytes(c) for b in batches for blob in b.requests[me].blobs for c in blob.chunks]
    runs = [all_chunks[: len(all_chunks) // 2], all_chunks[len(all_chunks) // 2 :]]
    headers = [
        compute_auth_headers(devnet.disperser, me, int(time.time()), compute_request_hash(b))
        for b in bodies
    ]
    url = f"{target.dispersal_url}/v1/store-chunks"
    metrics_url = f"http://127.0.0.1:{target.metrics_port}/metrics"
    assert target.process is not None
    before, writes_before = await _node_totals(metrics_url)
    cpu_before = _thread_cpu_seconds(target.process.pid)
    client_cpu = time.process_time()
    start = time.perf_counter()
    latencies = await _post_all(url, bodies, headers, clients)
    node_s = time.perf_counter() - start
    client_cpu = time.process_time() - client_cpu
    cpu_after = _thread_cpu_seconds(target.process.pid)
    after, writes_after = await _node_totals(metrics_url)

    port = free_port()
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=_bare_server, args=(port, ready), daemon=True)
    server.start()
    ready.wait(10)
    assert server.pid is not None
    bare_cpu = -sum(_thread_cpu_seconds(server.pid).values()) - time.process_time()
    start = time.perf_counter()
    await _post_all(f"http://127.0.0.1:{port}/", bodies, [{}] * len(bodies), clients)
    bare_s = time.perf_counter() - start
    bare_cpu += sum(_thread_cpu_seconds(server.pid).values()) + time.process_time()
    server.terminate()
    server.join()

    data = target.home / "data"
    fsync_s, fsync_cpu = _with_cpu(lambda: _fsync_bound(data, bodies))
    keccak_s, keccak_cpu = _with_cpu(lambda: _keccak_bound(runs, many=True))
    return _Round(
        node_s=node_s,
        bare_s=bare_s,
        fsync_s=fsync_s,
        direct_s=_direct_bound(data, bodies),
        keccak_s=keccak_s,
        pycryptodome_s=_keccak_bound(runs, many=False),
        latencies=latencies,
        node_cpu={name: cpu_after[name] - cpu_before[name] for name in cpu_after},
        client_cpu=client_cpu,
        bare_cpu=bare_cpu,
        fsync_cpu=fsync_cpu,
        keccak_cpu=keccak_cpu,
        stages={stage: after[stage] - before.get(stage, 0.0) for stage in after},
        writes={name: writes_after[name] - writes_before.get(name, 0.0) for name in writes_after},
    )


async def _measure(
    devnet: Devnet,
    target: DevnetOperator,
    blobs: int,
    requests: int,
    clients: int,
    rounds: int,
    shape: Shape,
) -> dict[str, object]:
    """``rounds`` rounds of ``requests`` fresh batches each; medians over the rounds."""
    chunks = [os.urandom(shape.chunk_length) for _ in range(shape.n)]
    block, states = await devnet.fetch_operator_state()
    me = target.keypair.operator_id
    # One untimed batch first, as a node in service is warm: its chain reads (head, operator
    # state, allow-list) are cached per reference block, and paying them here would charge a
    # one-off ~100 ms of RPCs to a run that lasts a fraction of a second.
    warm = prepare_batch([_blob(shape, chunks, b"\xff" * 20)], states, block)
    warm_body = b"".join(encode_store_chunks(warm.requests[me]))
    warm_headers = compute_auth_headers(
        devnet.disperser, me, int(time.time()), compute_request_hash(warm_body)
    )
    url = f"{target.dispersal_url}/v1/store-chunks"
    await _post_all(url, [warm_body], [warm_headers], 1)

    done: list[_Round] = []
    for number in range(rounds):
        batches = _batches(requests, blobs, states, block, chunks, shape, first=number * requests)
        done.append(await _round(devnet, target, batches, clients))
    chunk_bytes = sum(
        len(blob.indices) * shape.chunk_length for blob in batches[0].requests[me].blobs
    )
    request_bytes = len(b"".join(encode_store_chunks(batches[0].requests[me])))
    return _summarise(done, chunk_bytes * requests, requests, request_bytes)


def _summarise(
    rounds: list[_Round], round_bytes: int, requests: int, request_bytes: int
) -> dict[str, object]:
    """Median rates and ratio over the rounds; CPU, stages and latencies over all of them."""

    def rate(seconds: float) -> float:
        return round_bytes / seconds / 1e6

    per_round = [
        {
            "node": rate(r.node_s),
            "bare_aiohttp": rate(r.bare_s),
            "write_fsync": rate(r.fsync_s),
            "keccak_2_threads": rate(r.keccak_s),
        }
        for r in rounds
    ]
    ratios = [
        mbps["node"] / min(v for name, v in mbps.items() if name != "node") for mbps in per_round
    ]
    medians = {name: statistics.median(m[name] for m in per_round) for name in per_round[0]}
    bound_names = [min((n for n in m if n != "node"), key=m.__getitem__) for m in per_round]
    total_requests = requests * len(rounds)

    def per_request_ms(seconds: float) -> float:
        return round(seconds / total_requests * 1000, 2)

    cpu_ms = {
        name: per_request_ms(sum(r.node_cpu[name] for r in rounds)) for name in rounds[0].node_cpu
    }
    cpu_ms["client"] = per_request_ms(sum(r.client_cpu for r in rounds))
    work_cpu = {
        "bare_aiohttp_with_client": sum(r.bare_cpu for r in rounds),
        "write_fsync": sum(r.fsync_cpu for r in rounds),
        "keccak": sum(r.keccak_cpu for r in rounds),
    }
    cores = len(os.sched_getaffinity(0))
    all_work = cores * round_bytes * len(rounds) / sum(work_cpu.values()) / 1e6
    latencies = sorted(lat for r in rounds for lat in r.latencies)
    writes = {name: sum(r.writes.get(name, 0.0) for r in rounds) for name in _WRITE_SAMPLES}

    def write_mean(name: str, scale: float) -> float | None:
        count = writes[f"{name}_count"]
        return round(writes[f"{name}_sum"] / count * scale, 2) if count else None

    return {
        **{f"{name}_MBps": round(value, 1) for name, value in medians.items()},
        "direct_write_fdatasync_MBps": round(
            statistics.median(rate(r.direct_s) for r in rounds), 1
        ),
        "keccak_2_threads_pycryptodome_MBps": round(
            statistics.median(rate(r.pycryptodome_s) for r in rounds), 1
        ),
        "keccak_backend": keccak_backend(),
        "rounds": len(rounds),
        "ratio_vs_bound": round(statistics.median(ratios), 3),
        "ratio_per_round": [round(ratio, 3) for ratio in ratios],
        "smallest_bound": max(set(bound_names), key=bound_names.count),
        "work_cpu_ms_per_request": {name: per_request_ms(s) for name, s in work_cpu.items()},
        "all_work_on_all_cores_MBps": round(all_work, 1),
        "cores": cores,
        "latency_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "latency_p99_ms": round(
            latencies[min(len(latencies) - 1, round(0.99 * len(latencies)))] * 1000, 1
        ),
        "request_MiB": round(request_bytes / (1 << 20), 2),
        "stage_mean_ms": {
            stage: per_request_ms(sum(r.stages.get(stage, 0.0) for r in rounds))
            for stage in rounds[-1].stages
        },
        # Within the store stage: the writer's group commit, the batch's wait for it; the rest
        # of the stage is hand-offs between the event loop and the writer thread.
        "store_write": {
            "commit_mean_ms": write_mean("operator_node_store_write_seconds", 1000),
            "batches_per_commit": write_mean("operator_node_store_write_batches", 1),
            "wait_mean_ms": write_mean("operator_node_store_write_wait_seconds", 1000),
        },
        "node_cpu_ms_per_request": cpu_ms,
    }


async def _run(
    requests: int, clients: int, rounds: int, shapes: list[int], gf16: bool
) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as root:
        # Every round's batches stay stored (they expire after the devnet's run): room for all.
        devnet = Devnet(Path(root), store_max_size=8 << 30)
        await devnet.start()
        try:
            target = max(devnet.operators, key=lambda op: op.stake)
            results: dict[str, object] = {"bench": "ingest", "clients": clients}
            for blobs in shapes:
                count = requests if blobs == 1 else max(4, requests // 4)
                results[f"blobs_{blobs}"] = await _measure(
                    devnet, target, blobs, count, clients, rounds, GF8_SHAPE
                )
            if gf16:
                results["n8194"] = await _measure(
                    devnet, target, 1, max(4, requests // 8), clients, rounds, GF16_SHAPE
                )
            return results
        finally:
            devnet.stop()


def main() -> None:
    """Run the benchmark and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=96)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--rounds", type=int, default=5, help="node and bounds in turn, this many times"
    )
    parser.add_argument(
        "--blobs", type=int, nargs="+", default=[1, 8], help="blobs per batch, one run each"
    )
    parser.add_argument(
        "--no-gf16", action="store_true", help="skip the 8,192-chunk GF(2^16) blob shape"
    )
    args = parser.parse_args()
    results = asyncio.run(
        _run(args.requests, args.clients, args.rounds, args.blobs, not args.no_gf16)
    )
    print(
        f"{'batch':>8} {'node':>8} {'aiohttp':>8} {'fsync':>8} {'direct':>8} {'keccak2':>8} "
        f"{'ratio':>6} "
        f"{'all-work':>8} {'p50 ms':>8} {'p99 ms':>8}"
    )
    rows = [(f"{b:>3} blob{'s' if b > 1 else ' '}", f"blobs_{b}") for b in args.blobs]
    rows += [] if args.no_gf16 else [("  n=8194", "n8194")]
    for label, key in rows:
        r = results[key]
        assert isinstance(r, dict)
        print(
            f"{label} {r['node_MBps']:>8} "
            f"{r['bare_aiohttp_MBps']:>8} {r['write_fsync_MBps']:>8} "
            f"{r['direct_write_fdatasync_MBps']:>8} "
            f"{r['keccak_2_threads_MBps']:>8} {r['ratio_vs_bound']:>6} "
            f"{r['all_work_on_all_cores_MBps']:>8} "
            f"{r['latency_p50_ms']:>8} {r['latency_p99_ms']:>8}"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
