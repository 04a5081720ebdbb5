"""StoreChunks ingest into one real node (devnet: anvil + 4 nodes), against the work bound.

The node under test is the devnet's largest operator; each request carries its share of every
blob: 24 chunks of 64 KiB per blob (k=15 with stakes 10/20/30/40 at gamma = 25%), for single-blob
batches and 8-blob batches, from several concurrent clients; then, for many operators' codes, a
16 MiB blob in 8,194 chunks of 8 KiB (GF(2^16), k=2048): the node's share is 3,277 chunks with
a 14-word proof each. Every blob is paid from one account's reservation (the devnet's reserved
account, its rate raised so that the bench never exhausts it), and the node meters every batch
(``[payments] mode = "enforce"``, its default). Batches differ only in each blob's payment
timestamp, so preparing many costs no hashing of chunk data (one signature per blob).

GF(2^8) blobs are real codewords with FP-v1 fingerprints (the disperser's default), and the node
runs with its default policy (``[dispersal] fingerprint = "required"``): every figure below
includes the node's encoding check. GF(2^16) blobs carry no fingerprint (profile 0 is the only
one their code has) and their chunks are random: nothing on the node checks their codeword.

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

The audit's cost (``audit``): the same, with the audit running pass after pass at its default
rate (``[repair] audit_rate``) and off; ``audit_MBps_during`` says what it read meanwhile. The
other figures are taken with the audit off, as a node's audit rests an hour between passes.

Metering's cost (``payments``), after those figures, for each GF(2^8) shape: as the encoding
check's below, the node alone on fresh paid batches with ``[payments] mode`` "enforce" and "off"
in turn, ``payment_cost = 1 - on / off`` (target: below 0.02), its CPU per request on and off,
and the mean of the ``payment`` stage (the head parsed, the account signatures recovered, the
buckets charged).

The encoding check's cost (``fingerprint``), after those figures, for each GF(2^8) shape: the
node alone (no bounds) on fresh batches of one codeword, with the check on (FP-v1 blobs, node
policy "required") and off (profile-0 blobs, node restarted with policy "accepted"), in turn,
``--rounds`` times each; the order alternates every round (on, off | off, on | ...), so each round
costs one restart, and each restart is followed by untimed warm-up requests. Medians of the
node's rate on and off and ``fingerprint_cost = 1 - on / off`` (target: below 0.10), beside the
median of each round's own ratio; the node's CPU per request on and off (``cpu_cost = 1 - off /
on``: the cost to a node whose CPU is its limit); and, in this process on the same requests, the
fingerprint kernel alone (GB/s over the node's chunks) and the whole check of a request
(``protocol.encoding.check_blob_encoding`` for each blob: Z's hash, Z encoded, the kernel, the
comparison).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import mmap
import multiprocessing
import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web
from eth_account.signers.local import LocalAccount

from operator_node.client.batch import EncodedBlob, PreparedBatch, prepare_batch
from operator_node.devnet.network import Devnet, DevnetOperator, TomlValue
from operator_node.devnet.ports import free_port
from operator_node.erasure import cached_codec
from operator_node.erasure.fingerprint import fingerprints
from operator_node.payments.accounts import VaultSnapshot
from operator_node.payments.meter import MeterSettings, PaymentMeter
from operator_node.payments.vault import GlobalParams, Reservation, find_vault, set_reservation
from operator_node.protocol.auth import compute_auth_headers, compute_request_hash
from operator_node.protocol.encoding import check_blob_encoding, derive_points
from operator_node.protocol.hashes import keccak256, keccak256_many, keccak_backend
from operator_node.protocol.headers import (
    CODE_GF8,
    PAYMENT_RESERVATION,
    PROFILE_CODES,
    PROFILE_FP1,
    PROFILE_NONE,
    Payment,
    QuorumParams,
)
from operator_node.protocol.messages import StoreChunksRequest
from operator_node.protocol.wire import WireLimits, decode_store_chunks_head, encode_store_chunks

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
_AUDIT_BYTES = "operator_node_audit_chunk_bytes_total"
# Read before and after each run: the store-write histograms, and the audit's bytes.
_WRITE_SAMPLES = (
    *(f"{name}_{kind}" for name in _WRITE_HISTOGRAMS for kind in ("count", "sum")),
    _AUDIT_BYTES,
)
K = 15
QUORUM = QuorumParams(0, 25, 50)
# The encoding check in turn on and off: (node policy, blob profile).
FINGERPRINT_MODES = {"on": ("required", PROFILE_FP1), "off": ("accepted", PROFILE_NONE)}
# Metering in turn on and off: (node payments mode, blob profile).
PAYMENT_MODES = {"on": ("enforce", PROFILE_FP1), "off": ("off", PROFILE_FP1)}
# The audit in turn running (pass after pass, at its default rate) and off.
AUDIT_MODES = {"on": (True, PROFILE_FP1), "off": (False, PROFILE_FP1)}
# The bench account's reservation: far beyond what a run sends (symbols a second).
BENCH_RATE = 1 << 40
REFRESH = 1.0  # the nodes' vault refresh, seconds: they see the bench's reservation at once
KERNEL_RUNS = 21


@dataclass(frozen=True)
class Shape:
    """A blob's coding as the bench sends it (a real codeword for GF(2^8), whose FP-v1
    fingerprints the node checks; random chunks for GF(2^16), whose codeword it does not)."""

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


def _chunks(shape: Shape) -> list[bytes]:
    """A blob's n chunks: a codeword of random data for GF(2^8), random chunks for GF(2^16)."""
    if shape.code != CODE_GF8:
        return [os.urandom(shape.chunk_length) for _ in range(shape.n)]
    chunks = [
        bytes(c) for c in cached_codec(shape.k, shape.n).encode(os.urandom(shape.data_length))
    ]
    assert all(len(c) == shape.chunk_length for c in chunks)
    return chunks


def _blob(
    shape: Shape, chunks: list[bytes], account: bytes, fingerprint: int | None = None
) -> EncodedBlob:
    """The blob, with FP-v1 where its code has it unless ``fingerprint`` says otherwise."""
    return EncodedBlob.from_chunks(
        chunks, data_length=shape.data_length, k=shape.k, quorums=[QUORUM], account=account,
        code=shape.code, fingerprint=fingerprint,
    )  # fmt: skip


@dataclass(frozen=True)
class _Payer:
    """Who pays for the bench's blobs, and where: the account, the chain and the vault."""

    account: LocalAccount
    chain_id: int
    vault: bytes


def _batches(
    count: int,
    blobs: int,
    states: dict[int, list[tuple[bytes, int]]],
    block: int,
    chunks: list[bytes],
    shape: Shape,
    payer: _Payer,
    *,
    fingerprint: int | None = None,
) -> list[PreparedBatch]:
    """``count`` batches of paid blobs, every blob with its own payment timestamp.

    The fingerprint points do not depend on the payment, so every blob shares the base's Z.
    """
    base = _blob(shape, chunks, bytes(20), fingerprint)
    prepared = []
    for _ in range(count):
        encoded = [
            base.paid(
                Payment(PAYMENT_RESERVATION, time.time_ns()),
                payer.account,
                payer.chain_id,
                payer.vault,
            )
            for _ in range(blobs)
        ]
        prepared.append(prepare_batch(encoded, states, block))
    return prepared


async def _bench_payer(devnet: Devnet) -> _Payer:
    """The devnet's reserved account, its reservation raised to ``BENCH_RATE`` (and every
    node's vault read again: a refresh after the change)."""
    account, deployment = devnet.payer, devnet.deployment
    assert account is not None and deployment is not None
    connection = devnet.connect(devnet.owner)
    try:
        writer = await connection.get_writer()
        vault = await find_vault(writer.reader.contracts)
        now = int(time.time())
        reservation = Reservation(
            BENCH_RATE, now - 60, now + 86_400, (QUORUM.quorum_number,), (100,)
        )
        await set_reservation(writer, vault, account.address, reservation)
    finally:
        await connection.close()
    await asyncio.sleep(REFRESH + 1.0)
    vault_address = bytes.fromhex(deployment.payment_vault[2:])
    return _Payer(account, devnet.anvil.chain_id, vault_address)


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
class _NodeRun:
    """The node on one set of bodies: seconds, latencies, CPU and its metrics' deltas."""

    seconds: float
    latencies: list[float]
    cpu: dict[str, float]
    client_cpu: float
    stages: dict[str, float]
    writes: dict[str, float]


async def _node_run(
    devnet: Devnet, target: DevnetOperator, bodies: list[bytes], clients: int
) -> _NodeRun:
    """POST every body to the node from ``clients`` concurrent clients."""
    me = target.keypair.operator_id
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
    seconds = time.perf_counter() - start
    client_cpu = time.process_time() - client_cpu
    cpu_after = _thread_cpu_seconds(target.process.pid)
    after, writes_after = await _node_totals(metrics_url)
    return _NodeRun(
        seconds=seconds,
        latencies=latencies,
        cpu={name: cpu_after[name] - cpu_before[name] for name in cpu_after},
        client_cpu=client_cpu,
        stages={stage: after[stage] - before.get(stage, 0.0) for stage in after},
        writes={name: writes_after[name] - writes_before.get(name, 0.0) for name in writes_after},
    )


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
    node = await _node_run(devnet, target, bodies, clients)

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
        node_s=node.seconds,
        bare_s=bare_s,
        fsync_s=fsync_s,
        direct_s=_direct_bound(data, bodies),
        keccak_s=keccak_s,
        pycryptodome_s=_keccak_bound(runs, many=False),
        latencies=node.latencies,
        node_cpu=node.cpu,
        client_cpu=node.client_cpu,
        bare_cpu=bare_cpu,
        fsync_cpu=fsync_cpu,
        keccak_cpu=keccak_cpu,
        stages=node.stages,
        writes=node.writes,
    )


async def _measure(
    devnet: Devnet,
    target: DevnetOperator,
    blobs: int,
    requests: int,
    clients: int,
    rounds: int,
    shape: Shape,
    payer: _Payer,
) -> dict[str, object]:
    """``rounds`` rounds of ``requests`` fresh batches each; medians over the rounds."""
    chunks = _chunks(shape)
    block, states = await devnet.fetch_operator_state()
    me = target.keypair.operator_id
    # One untimed batch first, as a node in service is warm: its chain reads (head, operator
    # state, allow-list) are cached per reference block, and paying them here would charge a
    # one-off ~100 ms of RPCs to a run that lasts a fraction of a second.
    (warm,) = _batches(1, 1, states, block, chunks, shape, payer)
    warm_body = b"".join(encode_store_chunks(warm.requests[me]))
    warm_headers = compute_auth_headers(
        devnet.disperser, me, int(time.time()), compute_request_hash(warm_body)
    )
    url = f"{target.dispersal_url}/v1/store-chunks"
    await _post_all(url, [warm_body], [warm_headers], 1)

    done: list[_Round] = []
    for _ in range(rounds):
        batches = _batches(requests, blobs, states, block, chunks, shape, payer)
        done.append(await _round(devnet, target, batches, clients))
    chunk_bytes = sum(
        len(blob.indices) * shape.chunk_length for blob in batches[0].requests[me].blobs
    )
    request_bytes = len(b"".join(encode_store_chunks(batches[0].requests[me])))
    summary = _summarise(done, chunk_bytes * requests, requests, request_bytes)
    summary["encoding_check"] = (
        'on (FP-v1 blobs, node policy "required")'
        if shape.code in PROFILE_CODES[PROFILE_FP1]
        else "none (GF(2^16) blobs are profile 0: no fingerprint)"
    )
    return summary


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


class _Setting:
    """One config key of the target node (``section.key``), every other as the devnet writes
    it; changing it restarts the node."""

    def __init__(
        self, devnet: Devnet, target: DevnetOperator, section: str, key: str, default: TomlValue
    ) -> None:
        self._devnet, self._target = devnet, target
        self._section, self._key = section, key
        self.current = default  # the node's default, as the devnet starts it
        self.restart_s: list[float] = []

    async def set(self, policy: TomlValue) -> bool:
        """Restart the node with ``policy`` unless it runs with it; whether it restarted."""
        if policy == self.current:
            return False
        devnet, target = self._devnet, self._target
        start = time.perf_counter()
        devnet.stop_node(target)
        devnet.configure_node(target, {self._section: {self._key: policy}})
        devnet.start_node(target)
        await asyncio.to_thread(devnet.wait_ready, target)
        self.restart_s.append(time.perf_counter() - start)
        self.current = policy
        return True


def _check_figures(request: StoreChunksRequest, runs: int) -> dict[str, float]:
    """In this process, on one request's FP-v1 blobs: the fingerprint kernel alone and the
    node's whole check (``check_blob_encoding`` per blob), interleaved, medians of ``runs``."""
    blobs = [blob for blob in request.blobs if blob.header.fingerprint == PROFILE_FP1]
    points = [derive_points(blob.header) for blob in blobs]
    chunk_bytes = sum(blob.chunk_bytes for blob in blobs)

    def kernel() -> None:
        for blob, at in zip(blobs, points, strict=True):
            fingerprints(blob.chunks, blob.header.chunk_length, at)

    def check() -> None:
        for blob in blobs:
            check_blob_encoding(blob)

    ops = {"kernel": kernel, "check": check}
    times: dict[str, list[float]] = {name: [] for name in ops}
    for op in ops.values():
        op()  # warm-up: the codec for Z, the kernels' tables
    gc.disable()
    try:
        for _ in range(runs):
            for name, op in ops.items():
                start = time.perf_counter()
                op()
                times[name].append(time.perf_counter() - start)
    finally:
        gc.enable()
    kernel_s, check_s = (statistics.median(times[name]) for name in ops)
    return {
        "kernel_GBps": round(chunk_bytes / kernel_s / 1e9, 2),
        "kernel_ms_per_request": round(kernel_s * 1000, 3),
        "check_ms_per_request": round(check_s * 1000, 3),
        "check_chunk_MiB_per_request": round(chunk_bytes / (1 << 20), 2),
    }


async def _toggle_cost(
    devnet: Devnet,
    target: DevnetOperator,
    setting: _Setting,
    modes: Mapping[str, tuple[TomlValue, int]],
    payer: _Payer,
    blobs: int,
    requests: int,
    clients: int,
    rounds: int,
    shape: Shape,
    *,
    name: str,
    stage: str,
) -> tuple[dict[str, object], StoreChunksRequest]:
    """The node alone with ``setting`` in turn at ``modes["on"]`` and ``modes["off"]`` (each:
    the node's value, the blobs' profile), see the module's doc; the figures, named ``name``,
    and one request of the last "on" round."""
    chunks = _chunks(shape)
    block, states = await devnet.fetch_operator_state()
    me = target.keypair.operator_id

    def fresh(count: int, mode: str) -> list[PreparedBatch]:
        profile = modes[mode][1]
        return _batches(count, blobs, states, block, chunks, shape, payer, fingerprint=profile)

    def bodies(prepared: list[PreparedBatch]) -> list[bytes]:
        return [b"".join(encode_store_chunks(b.requests[me])) for b in prepared]

    runs: dict[str, list[_NodeRun]] = {mode: [] for mode in modes}
    order: list[str] = []
    last: dict[str, list[PreparedBatch]] = {}
    for number in range(rounds):
        first = "on" if setting.current == modes["on"][0] else "off"
        ordered = [first, *(mode for mode in modes if mode != first)]
        order.append(">".join(ordered))
        for mode in ordered:
            restarted = await setting.set(modes[mode][0])
            if restarted or (number == 0 and mode == first):
                # Untimed: chain reads, codecs and kernels' tables, connections.
                warm = max(2 * clients, requests // 4)
                await _node_run(devnet, target, bodies(fresh(warm, mode)), clients)
            last[mode] = fresh(requests, mode)
            runs[mode].append(await _node_run(devnet, target, bodies(last[mode]), clients))

    request = last["on"][0].requests[me]
    round_bytes = requests * sum(blob.chunk_bytes for blob in request.blobs)
    rates = {mode: [round_bytes / run.seconds / 1e6 for run in done] for mode, done in runs.items()}
    on, off = (statistics.median(rates[mode]) for mode in ("on", "off"))

    def per_request_ms(mode: str, seconds: Callable[[_NodeRun], float]) -> float:
        return round(sum(map(seconds, runs[mode])) / (requests * rounds) * 1000, 3)

    cost = 1 - on / off
    paired = [1 - a / b for a, b in zip(rates["on"], rates["off"], strict=True)]
    cpu = {mode: per_request_ms(mode, lambda run: sum(run.cpu.values())) for mode in runs}
    figures = {
        "on_MBps": round(on, 1),
        "off_MBps": round(off, 1),
        f"{name}_cost": round(cost, 3),
        # The same within each round (on against the off run beside it), then the median.
        f"{name}_cost_median_of_rounds": round(statistics.median(paired), 3),
        f"{name}_cost_per_round": [round(c, 3) for c in paired],
        "on_MBps_per_round": [round(rate, 1) for rate in rates["on"]],
        "off_MBps_per_round": [round(rate, 1) for rate in rates["off"]],
        "order_per_round": order,
        "node_cpu_ms_per_request": cpu,
        # What it would take from a node whose CPU is its limit: 1 - CPU off / CPU on.
        "cpu_cost": round(1 - cpu["off"] / cpu["on"], 3),
        f"{stage}_stage_mean_ms": {
            mode: per_request_ms(mode, lambda run: run.stages.get(stage, 0.0)) for mode in runs
        },
        "node_ms_per_request_off": round(1000 * round_bytes / off / 1e6 / requests, 2),
        # What the audit read during the runs, a second (0 where it was not running).
        "audit_MBps_during": {
            mode: round(
                sum(run.writes.get(_AUDIT_BYTES, 0.0) for run in done)
                / sum(run.seconds for run in done)
                / 1e6,
                2,
            )
            for mode, done in runs.items()
        },
    }
    return figures, request


async def _fingerprint_cost(
    devnet: Devnet,
    target: DevnetOperator,
    policy: _Setting,
    payer: _Payer,
    blobs: int,
    requests: int,
    clients: int,
    rounds: int,
    shape: Shape,
) -> dict[str, object]:
    """The node alone with the encoding check on and off, in turn (see the module's doc)."""
    figures, request = await _toggle_cost(
        devnet, target, policy, FINGERPRINT_MODES, payer, blobs, requests, clients, rounds,
        shape, name="fingerprint", stage="encoding",
    )  # fmt: skip
    cost = figures["fingerprint_cost"]
    assert isinstance(cost, float)
    return {**figures, "within_target": cost < 0.10, **_check_figures(request, KERNEL_RUNS)}


async def _payment_cost(
    devnet: Devnet,
    target: DevnetOperator,
    payer: _Payer,
    blobs: int,
    requests: int,
    clients: int,
    rounds: int,
    shape: Shape,
) -> dict[str, object]:
    """The node alone with metering on and off, in turn (see the module's doc); the node is
    left metering, as it started."""
    setting = _Setting(devnet, target, "payments", "mode", "enforce")
    figures, _ = await _toggle_cost(
        devnet, target, setting, PAYMENT_MODES, payer, blobs, requests, clients, rounds, shape,
        name="payment", stage="payment",
    )  # fmt: skip
    await setting.set("enforce")
    cost = figures["payment_cost"]
    node_ms = figures["node_ms_per_request_off"]
    assert isinstance(cost, float) and isinstance(node_ms, float)
    block, states = await devnet.fetch_operator_state()
    prepared = _batches(requests, blobs, states, block, _chunks(shape), shape, payer)
    me = target.keypair.operator_id
    heads = [bytes(encode_store_chunks(b.requests[me])[0]) for b in prepared]
    metering_ms = _metering_ms(heads, payer)
    return {
        **figures,
        "within_target": cost < 0.02,
        # The same work in this process, on the same heads, against the node's time per request
        # with metering off: what metering adds, without the run-to-run noise of the rates.
        "metering_ms_per_request": round(metering_ms, 3),
        "metering_share_of_node_time": round(metering_ms / node_ms, 4),
    }


async def _audit_cost(
    devnet: Devnet,
    target: DevnetOperator,
    payer: _Payer,
    blobs: int,
    requests: int,
    clients: int,
    rounds: int,
    shape: Shape,
) -> dict[str, object]:
    """The node alone with the audit running (pass after pass, at its default rate) and off, in
    turn (see the module's doc); the node is left without it, as it started."""
    setting = _Setting(devnet, target, "repair", "audit", False)
    figures, _ = await _toggle_cost(
        devnet, target, setting, AUDIT_MODES, payer, blobs, requests, clients, rounds, shape,
        name="audit", stage="store",
    )  # fmt: skip
    await setting.set(False)
    return figures


def _metering_ms(heads: list[bytes], payer: _Payer) -> float:
    """Milliseconds per request of what metering adds to the node's work, in this process:
    ``PaymentMeter.debit`` on each head's blobs (the head is parsed by the node either way, so
    its parse is not counted), with a fresh meter each run; median of ``KERNEL_RUNS`` runs."""
    limits = WireLimits()
    account = bytes.fromhex(payer.account.address[2:])
    snapshot = VaultSnapshot(payer.vault, GlobalParams(32, 1, 60, 0, 1, (0,)))
    snapshot.reservations[account] = Reservation(BENCH_RATE, 0, 1 << 40, (0,), (100,))
    settings = MeterSettings(chain_id=payer.chain_id, quorums=frozenset({QUORUM.quorum_number}))

    @dataclass
    class Source:
        snapshot: VaultSnapshot | None
        absent: bool = False

    times = []
    for _ in range(KERNEL_RUNS):
        # Fresh headers (decoded again: a header caches its hash) and a fresh meter each run.
        pairs = [
            [(s.header, s.signature) for s in decode_store_chunks_head(head, limits).sections]
            for head in heads
        ]
        meter = PaymentMeter(Source(snapshot), settings)
        start = time.perf_counter()
        for blobs in pairs:
            meter.debit(blobs)
        times.append(time.perf_counter() - start)
    return statistics.median(times) / len(heads) * 1000


async def _run(
    requests: int,
    clients: int,
    rounds: int,
    shapes: list[int],
    gf16: bool,
    fingerprint: bool,
    payments: bool,
    audit: bool,
) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as root:
        # Every round's batches stay stored (they expire after the devnet's run): room for all,
        # the checks' on and off rounds included.
        toggles = int(fingerprint) + int(payments) + int(audit)
        devnet = Devnet(
            Path(root),
            store_max_size=(8 + 8 * toggles) << 30,
            payments={"refresh_interval": REFRESH},
            # The audit off but for its own toggle, where it runs pass after pass: a node's
            # audit rests an hour between passes by default, and would run here at random.
            repair={"audit": False, "audit_interval": 0.5},
        )
        await devnet.start()
        try:
            target = max(devnet.operators, key=lambda op: op.stake)
            payer = await _bench_payer(devnet)
            results: dict[str, object] = {"bench": "ingest", "clients": clients}
            for blobs in shapes:
                count = requests if blobs == 1 else max(4, requests // 4)
                results[f"blobs_{blobs}"] = await _measure(
                    devnet, target, blobs, count, clients, rounds, GF8_SHAPE, payer
                )
            if gf16:
                results["n8194"] = await _measure(
                    devnet, target, 1, max(4, requests // 8), clients, rounds, GF16_SHAPE, payer
                )
            if payments:
                metering: dict[str, object] = {}
                for blobs in shapes:
                    count = requests if blobs == 1 else max(4, requests // 4)
                    metering[f"blobs_{blobs}"] = await _payment_cost(
                        devnet, target, payer, blobs, count, clients, rounds, GF8_SHAPE
                    )
                results["payments"] = metering
            if audit:
                auditing: dict[str, object] = {}
                for blobs in shapes:
                    count = requests if blobs == 1 else max(4, requests // 4)
                    auditing[f"blobs_{blobs}"] = await _audit_cost(
                        devnet, target, payer, blobs, count, clients, rounds, GF8_SHAPE
                    )
                results["audit"] = auditing
            if fingerprint:
                policy = _Setting(devnet, target, "dispersal", "fingerprint", "required")
                cost: dict[str, object] = {}
                for blobs in shapes:
                    count = requests if blobs == 1 else max(4, requests // 4)
                    cost[f"blobs_{blobs}"] = await _fingerprint_cost(
                        devnet, target, policy, payer, blobs, count, clients, rounds, GF8_SHAPE
                    )
                if gf16:
                    assert GF16_SHAPE.code not in PROFILE_CODES[PROFILE_FP1]
                    cost["n8194"] = (
                        "not measured: GF(2^16) blobs carry no fingerprint (FP-v1 is GF(2^8) "
                        "only; profile 0), so the node has no encoding check to run on them"
                    )
                cost["restart_s_median"] = round(statistics.median(policy.restart_s), 2)
                results["fingerprint"] = cost
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
    parser.add_argument(
        "--no-fingerprint",
        action="store_true",
        help="skip the node alone with the encoding check on and off",
    )
    parser.add_argument(
        "--no-payments",
        action="store_true",
        help="skip the node alone with payment metering on and off",
    )
    parser.add_argument(
        "--no-audit",
        action="store_true",
        help="skip the node alone with the audit running and off",
    )
    args = parser.parse_args()
    results = asyncio.run(
        _run(
            args.requests,
            args.clients,
            args.rounds,
            args.blobs,
            not args.no_gf16,
            not args.no_fingerprint,
            not args.no_payments,
            not args.no_audit,
        )
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
    metering = results.get("payments")
    if isinstance(metering, dict):
        print(
            "\npayment metering (node alone, MB/s; cost = 1 - on/off, target < 0.02)\n"
            f"{'batch':>8} {'on':>8} {'off':>8} {'cost':>6} {'/round':>7} {'stage':>7} "
            f"{'cpu on':>7} {'cpu off':>7} {'cpu':>6} {'work':>8} {'share':>7}\n"
            f"{'':>8} {'':>8} {'':>8} {'':>6} {'':>7} {'ms/req':>7} {'ms/req':>7} {'ms/req':>7} "
            f"{'cost':>6} {'ms/req':>8} {'':>7}"
        )
        for label, key in rows:
            r = metering.get(key)
            if not isinstance(r, dict):
                continue
            cpu = r["node_cpu_ms_per_request"]
            print(
                f"{label} {r['on_MBps']:>8} {r['off_MBps']:>8} {r['payment_cost']:>6} "
                f"{r['payment_cost_median_of_rounds']:>7} "
                f"{r['payment_stage_mean_ms']['on']:>7} {cpu['on']:>7} {cpu['off']:>7} "
                f"{r['cpu_cost']:>6} {r['metering_ms_per_request']:>8} "
                f"{r['metering_share_of_node_time']:>7}"
            )
    auditing = results.get("audit")
    if isinstance(auditing, dict):
        print(
            "\naudit at its default rate (node alone, MB/s; cost = 1 - on/off; audit: MB/s "
            f"it read while on)\n{'batch':>8} {'on':>8} {'off':>8} {'cost':>6} {'/round':>7} "
            f"{'cpu on':>7} {'cpu off':>7} {'cpu':>6} {'audit':>7}"
        )
        for label, key in rows:
            r = auditing.get(key)
            if not isinstance(r, dict):
                continue
            cpu = r["node_cpu_ms_per_request"]
            print(
                f"{label} {r['on_MBps']:>8} {r['off_MBps']:>8} {r['audit_cost']:>6} "
                f"{r['audit_cost_median_of_rounds']:>7} {cpu['on']:>7} {cpu['off']:>7} "
                f"{r['cpu_cost']:>6} {r['audit_MBps_during']['on']:>7}"
            )
    cost = results.get("fingerprint")
    if isinstance(cost, dict):
        print(
            f"\nencoding check (node alone, MB/s; cost = 1 - on/off, target < 0.10; per round: "
            f"median of each round's ratio)\n"
            f"{'batch':>8} {'on':>8} {'off':>8} {'cost':>6} {'/round':>7} {'kernel':>7} "
            f"{'check':>7} {'cpu on':>7} {'cpu off':>7} {'cpu':>6}\n"
            f"{'':>8} {'':>8} {'':>8} {'':>6} {'':>7} {'GB/s':>7} "
            f"{'ms/req':>7} {'ms/req':>7} {'ms/req':>7} {'cost':>6}"
        )
        for label, key in rows:
            r = cost.get(key)
            if not isinstance(r, dict):
                print(f"{label} {r}")
                continue
            cpu = r["node_cpu_ms_per_request"]
            print(
                f"{label} {r['on_MBps']:>8} {r['off_MBps']:>8} {r['fingerprint_cost']:>6} "
                f"{r['fingerprint_cost_median_of_rounds']:>7} {r['kernel_GBps']:>7} "
                f"{r['check_ms_per_request']:>7} {cpu['on']:>7} {cpu['off']:>7} "
                f"{r['cpu_cost']:>6}"
            )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
