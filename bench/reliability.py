"""The reliability harness: the node attacked and broken as the open internet would, on loopback.

Each scenario is bounded in time and count and measures one figure an operator would ask about:

- ``slow_uploads``: anonymous uploads declaring 64 MiB and sending a byte now and then, from two
  addresses, while the genuine disperser sends real batches (devnet node): how many it got signed;
- ``aborted_uploads``: an allowed disperser aborting 48 MiB uploads after 40 MiB: memory left;
- ``forged_signatures``: requests signed by random keys (devnet node): RPC calls per request;
- ``junk_http``: malformed HTTP of 256 KiB a request: log bytes per junk byte;
- ``fuzz``: mutated StoreChunks requests and retrieval paths: 500s, crashes and writes;
- ``overload``: 40 clients pushing 4-16 MiB signed requests at once: peak memory against the
  documented bound, and the latency of every answer;
- ``chain_hang``: an RPC that accepts and never answers: how long requests are held;
- ``disk_full``: a store too small for the batches (devnet node): refusals, reads, health;
- ``crash_rounds``: SIGKILL of a node at a random moment of a dispersal, then restart: signed
  (batch, node) pairs whose chunks the node no longer serves.

Run ``make reliability`` (or ``.venv/bin/python bench/reliability.py [--quick]``): it prints a
JSON line and rewrites the table in ``docs/reliability.md``. The fast versions of these attacks
are tests (``tests/node/test_node_attacks.py``) and run in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_account import Account
from prometheus_client.parser import text_string_to_metric_families

from operator_node.client.batch import EncodedBlob, prepare_batch
from operator_node.client.disperser import Disperser
from operator_node.crypto.bls import BlsKeyPair
from operator_node.crypto.keystore import save_bls_keystore
from operator_node.devnet.network import Devnet, DevnetOperator
from operator_node.devnet.ports import free_port
from operator_node.protocol.auth import compute_auth_headers, compute_request_hash
from operator_node.protocol.errors import ProtocolError
from operator_node.protocol.hashes import keccak256
from operator_node.protocol.headers import QuorumParams
from operator_node.protocol.messages import validate_retrieval_reply
from operator_node.protocol.wire import (
    WireLimits,
    decode_retrieval_reply,
    encode_store_chunks,
    store_chunks_head,
)

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "reliability.md"
MiB = 1 << 20
KEYPAIR = BlsKeyPair.from_secret(4242)
PEERS = [BlsKeyPair.from_secret(4243 + i) for i in range(3)]
DISPERSER = Account.from_key(b"\x11" * 32)
PASSWORD = "reliability harness password"


# --- a standalone daemon (no chain, or a chain that hangs) --------------------------------------


class Daemon:
    """``operator-node run`` as a subprocess with KEYPAIR and DISPERSER as its static disperser."""

    def __init__(self, root: Path, **sections: dict[str, Any]) -> None:
        root.mkdir(parents=True, exist_ok=True)
        keystore, password = root / "bls.key.json", root / "bls.password"
        save_bls_keystore(keystore, KEYPAIR, PASSWORD, scrypt_n=1024)
        password.write_text(PASSWORD + "\n")
        password.chmod(0o600)
        self.port, metrics_port = free_port(), free_port()
        config: dict[str, dict[str, Any]] = {
            "node": {"data_dir": str(root / "data"), "log_format": "json"},
            # One port for StoreChunks, retrieval and /eigen: the attacks here aim at all three.
            "api": {
                "host": "127.0.0.1",
                "port": self.port,
                "dispersal_port": 0,
                "shutdown_grace": 5.0,
            },
            "metrics": {"host": "127.0.0.1", "port": metrics_port},
            "keys": {"bls_keystore": str(keystore), "bls_password_file": str(password)},
            "dispersal": {"disperser_source": "static", "allowed_dispersers": [DISPERSER.address]},
        }
        for name, table in sections.items():
            config.setdefault(name, {}).update(table)
        path = root / "node.toml"
        path.write_text(
            "\n".join(
                f"[{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items())
                for name, table in config.items()
            )
        )
        self.log_path = root / "node.log"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "operator_node", "run", "--config", str(path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.api = f"http://127.0.0.1:{self.port}"
        self.metrics = f"http://127.0.0.1:{metrics_port}/metrics"
        _wait_ready(self.api, self.proc)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _wait_ready(api: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the node exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            if _get(api + "/eigen/node")[0] == 200:
                return
        time.sleep(0.05)
    raise RuntimeError("the node did not come up")


def _get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _post(api: str, body: bytes, headers: dict[str, str], timeout: float = 60.0) -> tuple[int, str]:
    """POST a StoreChunks body; (status, error code or "ok"); (0, reason) without an answer."""
    request = urllib.request.Request(
        api + "/v1/store-chunks", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return response.status, "ok"
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, str(json.loads(exc.read()).get("error"))
        except ValueError:
            return exc.code, "not_json"
    except OSError as exc:
        return 0, type(exc).__name__


def _rss(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _counter(metrics_url: str, name: str, label: str | None = None) -> dict[str, float]:
    """A counter's totals by ``label`` (or under "" without one)."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(_get(metrics_url)[1].decode()):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                key = sample.labels.get(label, "") if label else ""
                out[key] = out.get(key, 0.0) + sample.value
    return out


def _sample_body(operator: BlsKeyPair = KEYPAIR) -> bytes:
    rng = random.Random(7)
    blob = EncodedBlob.from_data(
        rng.randbytes(200),
        n=16,
        k=4,
        quorums=[QuorumParams(0, 25, 50)],
        account=b"\xaa" * 20,
    )
    states = {0: [(kp.operator_id, 25) for kp in [KEYPAIR, *PEERS]]}
    batch = prepare_batch([blob, blob], states, 10)
    return b"".join(encode_store_chunks(batch.requests[operator.operator_id]))


def _signed(body: bytes, operator_id: bytes, signer: Any = DISPERSER) -> dict[str, str]:
    try:
        request_hash = compute_request_hash(body)
    except ProtocolError:  # a mutated body with no head: sign something all the same
        request_hash = keccak256(body[:64])
    return compute_auth_headers(signer, operator_id, int(time.time()), request_hash)


def _raw_upload(
    port: int,
    length: int,
    payload: bytes = b"",
    headers: dict[str, str] | None = None,
    source: str = "127.0.0.1",
) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0))
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    request = f"POST /v1/store-chunks HTTP/1.1\r\nHost: n\r\n{extra}Content-Length: {length}\r\n"
    conn.sendall(request.encode() + b"\r\n")
    with contextlib.suppress(OSError):
        conn.sendall(payload)
    return conn


def _status_of(conn: socket.socket) -> str:
    data = b""
    with contextlib.suppress(OSError):
        while b"\r\n" not in data:
            piece = conn.recv(4096)
            if not piece:
                break
            data += piece
    return data.partition(b"\r\n")[0].decode(errors="replace")[9:12] or "closed"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


# --- scenarios on a standalone node ---------------------------------------------------------------


def aborted_uploads(root: Path, rounds: int) -> dict[str, Any]:
    node = Daemon(root)
    try:
        body = _sample_body()
        head = bytes(store_chunks_head(body))
        headers = _signed(head, KEYPAIR.operator_id)
        length, sent = 48 * MiB, 40 * MiB
        padding = bytes(sent - len(head))

        def abort(count: int) -> None:
            conn = _raw_upload(node.port, length, head + padding, headers)
            conn.close()
            deadline = time.monotonic() + 30
            while (
                _counter(node.metrics, "operator_node_store_chunks_requests", "outcome").get(
                    "incomplete_body", 0
                )
                < count
            ):
                if time.monotonic() > deadline:
                    raise RuntimeError("an aborted upload was not counted")
                time.sleep(0.02)

        abort(1)
        baseline = _rss(node.proc.pid)
        for count in range(2, rounds + 2):
            abort(count)
        grown = _rss(node.proc.pid) - baseline
        return {
            "uploads": rounds,
            "upload_MiB": 48,
            "rss_growth_MiB": round(grown / MiB, 1),
            "bound_MiB": 48,
        }
    finally:
        node.stop()


def junk_http(root: Path, repeats: int) -> dict[str, Any]:
    node = Daemon(root)
    try:
        rng = random.Random(5)
        size = 256 << 10
        kinds = [
            rng.randbytes(size),
            b"GET /" + b"a" * size + b" HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX: " + bytes(rng.randrange(1, 32) for _ in range(size)),
            b"GET /eigen/node HTTP/1.1\r\nHost: x\r\n\r\n" + rng.randbytes(size),
            b"POST /v1/store-chunks HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
            + b"q" * size,
        ]
        before = node.log_path.stat().st_size
        sent = 0
        for junk in kinds * repeats:
            conn = socket.create_connection(("127.0.0.1", node.port), timeout=5)
            with conn, contextlib.suppress(OSError):
                conn.sendall(junk)
                sent += len(junk)
                conn.recv(4096)
        time.sleep(0.3)
        written = node.log_path.stat().st_size - before
        lines = node.log_path.read_bytes()[before:].decode(errors="replace").splitlines()
        not_json = sum(1 for line in lines if not line.startswith("{"))
        alive = _get(node.api + "/eigen/node")[0] == 200
        return {
            "junk_requests": len(kinds) * repeats,
            "junk_MiB": round(sent / MiB, 1),
            "log_bytes": written,
            "log_bytes_per_junk_byte": round(written / sent, 6),
            "non_json_lines": not_json,
            "node_answers": alive,
        }
    finally:
        node.stop()


def _mutations(body: bytes, rng: random.Random) -> list[tuple[str, bytes, dict[str, str]]]:
    """StoreChunks requests derived from a valid one: (class, body, headers)."""
    signed = _signed(body, KEYPAIR.operator_id)
    head_len = len(store_chunks_head(body))
    cases: list[tuple[str, bytes, dict[str, str]]] = []

    def flip(data: bytes, start: int, end: int) -> bytes:
        out = bytearray(data)
        out[rng.randrange(start, end)] ^= 1 << rng.randrange(8)
        return bytes(out)

    cases.append(("flip_head_signed", flip(body, 0, head_len), signed))
    mutated = flip(body, 0, head_len)
    cases.append(("flip_head_resigned", mutated, _signed(mutated, KEYPAIR.operator_id)))
    cases.append(("flip_chunk", flip(body, head_len, len(body)), signed))
    cut = rng.randrange(1, len(body))
    cases.append(("truncated", body[:cut], signed))
    cases.append(("truncated_resigned", body[:cut], _signed(body[:cut], KEYPAIR.operator_id)))
    cases.append(("trailing", body + rng.randbytes(rng.randrange(1, 64)), signed))
    cases.append(("random_body", rng.randbytes(rng.randrange(1, 4096)), signed))
    cases.append(("no_auth", body, {}))
    cases.append(("stranger", body, _signed(body, KEYPAIR.operator_id, Account.create())))
    bad_sig = dict(signed)
    bad_sig["X-Disperser-Signature"] = "0x" + rng.randbytes(65).hex()
    cases.append(("random_signature", body, bad_sig))
    bad_ts = dict(signed)
    stamps = ["-1", "1e9", "\u00b2", "9" * 30, "", " 1", "0x10"]
    bad_ts["X-Disperser-Timestamp"] = rng.choice(stamps)
    cases.append(("bad_timestamp", body, bad_ts))
    old = compute_auth_headers(
        DISPERSER, KEYPAIR.operator_id, int(time.time()) - 3600, compute_request_hash(body)
    )
    cases.append(("stale_timestamp", body, old))
    lying = bytearray(body)
    lying[5:9] = rng.randbytes(4)  # the header length, under the genuine signature
    cases.append(("lying_header_length", bytes(lying), signed))
    return cases


def fuzz(root: Path, rounds: int) -> dict[str, Any]:
    node = Daemon(root)
    try:
        rng = random.Random(11)
        body = _sample_body()
        by_status: dict[int, int] = {}
        classes: set[str] = set()
        sent = 0
        for _ in range(rounds):
            for name, data, headers in _mutations(body, rng):
                status, _ = _post(node.api, data, headers, timeout=10)
                by_status[status] = by_status.get(status, 0) + 1
                classes.add(name)
                sent += 1
        paths = 0
        alphabet = "0123456789abcdefx%/²٣-+ .é"
        for _ in range(rounds * 10):
            segment = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80)))
            index = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
            with contextlib.suppress(OSError, ValueError):
                quoted = urllib.parse.quote(f"/v1/chunks/{segment}/{index}")
                status = _get(node.api + quoted)[0]
                by_status[status] = by_status.get(status, 0) + 1
                paths += 1
        writes = _counter(node.metrics, "operator_node_store_write_batches_count")
        return {
            "store_chunks_requests": sent,
            "mutation_classes": len(classes),
            "retrieval_paths": paths,
            "by_status": {str(k): v for k, v in sorted(by_status.items())},
            "status_500": by_status.get(500, 0),
            "no_answer": by_status.get(0, 0),
            "store_writes": int(sum(writes.values())),
            "node_alive": node.proc.poll() is None,
        }
    finally:
        node.stop()


def overload(root: Path, clients: int) -> dict[str, Any]:
    limit, inflight = 16 * MiB, 8
    node = Daemon(
        root,
        limits={"max_request_bytes": limit, "max_inflight": inflight},
        dispersal={"max_blob_size": 8 * MiB},
    )
    try:
        body = _sample_body()
        head = bytes(store_chunks_head(body))
        baseline = _rss(node.proc.pid, "VmHWM")
        latencies: list[float] = []
        outcomes: dict[str, int] = {}
        lock = threading.Lock()

        def client(i: int) -> None:
            size = (4 + (i % 13)) * MiB
            payload = head + bytes(size - len(head))
            start = time.perf_counter()
            status, code = _post(node.api, payload, _signed(head, KEYPAIR.operator_id))
            with lock:
                latencies.append(time.perf_counter() - start)
                key = f"{status} {code}"
                outcomes[key] = outcomes.get(key, 0) + 1

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        peak = _rss(node.proc.pid, "VmHWM") - baseline
        return {
            "clients": clients,
            "request_MiB": "4-16",
            "outcomes": outcomes,
            "peak_rss_growth_MiB": round(peak / MiB, 1),
            "bound_MiB": inflight * limit // MiB,
            "latency_p50_ms": round(statistics.median(latencies) * 1000, 1),
            "latency_p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
        }
    finally:
        node.stop()


def chain_hang(root: Path, requests: int) -> dict[str, Any]:
    """The node's RPC accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(512)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                held.append(server.accept()[0])

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    rpc = f"http://127.0.0.1:{server.getsockname()[1]}"
    node = Daemon(
        root,
        chain={
            "rpc_url": rpc,
            "registry_coordinator": "0x" + "11" * 20,
            "rpc_timeout": 2.0,
        },
    )
    try:
        body = _sample_body()
        latencies: list[float] = []
        outcomes: dict[str, int] = {}
        for _ in range(requests):
            start = time.perf_counter()
            status, code = _post(node.api, body, _signed(body, KEYPAIR.operator_id))
            latencies.append(time.perf_counter() - start)
            key = f"{status} {code}"
            outcomes[key] = outcomes.get(key, 0) + 1
        health = _get(node.api + "/eigen/node/health")[0]
        return {
            "requests": requests,
            "outcomes": outcomes,
            "first_s": round(latencies[0], 2),
            "rest_p50_ms": round(statistics.median(latencies[1:]) * 1000, 1),
            "rest_max_ms": round(max(latencies[1:]) * 1000, 1),
            "health": health,
        }
    finally:
        node.stop()
        stop.set()
        acceptor.join()
        for conn in held:
            conn.close()
        server.close()


# --- scenarios on the devnet ---------------------------------------------------------------------


async def _batch_for(devnet: Devnet, operator: DevnetOperator, tag: int, chunk: int) -> bytes:
    block, states = await devnet.fetch_operator_state()
    blob = EncodedBlob.from_data(
        os.urandom(8 * chunk),
        n=64,
        k=8,
        quorums=[QuorumParams(0, 25, 50)],
        account=tag.to_bytes(20, "big"),
    )
    batch = prepare_batch([blob], states, block)
    return b"".join(encode_store_chunks(batch.requests[operator.keypair.operator_id]))


async def slow_uploads(devnet: Devnet, attackers: int) -> dict[str, Any]:
    target = devnet.operators[0]
    api = target.dispersal_url
    port = target.dispersal_port
    pid = target.process.pid if target.process else 0
    baseline = _rss(pid)
    start = time.monotonic()
    conns = [_raw_upload(port, 64 * MiB, source=f"127.0.0.{2 + i % 8}") for i in range(attackers)]
    # What they trickle is a genuine head, one byte at a time: nothing to refuse it for early.
    head = bytes(store_chunks_head(await _batch_for(devnet, target, 999, 1024)))
    served: list[str] = []
    latencies: list[float] = []
    tag = 1000
    for step in range(len(head)):
        if time.monotonic() - start > 12:
            break
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.send(head[step : step + 1])
        tag += 1
        body = await _batch_for(devnet, target, tag, 1024)
        sent = time.perf_counter()
        _, code = await asyncio.to_thread(
            _post, api, body, _signed(body, target.keypair.operator_id, devnet.disperser)
        )
        latencies.append(time.perf_counter() - sent)
        served.append(code)
        await asyncio.sleep(0.5)
    closed = [_status_of(conn) for conn in conns]
    for conn in conns:
        conn.close()
    return {
        "attackers": attackers,
        "declared_MiB": 64,
        "genuine_requests": len(served),
        "genuine_signed": served.count("ok"),
        "genuine_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "attackers_answered": {s: closed.count(s) for s in sorted(set(closed))},
        "rss_growth_MiB": round((_rss(pid) - baseline) / MiB, 1),
    }


async def forged_signatures(devnet: Devnet, requests: int) -> dict[str, Any]:
    target = devnet.operators[1]
    api = target.dispersal_url
    metrics = f"http://127.0.0.1:{target.metrics_port}/metrics"
    body = await _batch_for(devnet, target, 1, 256)
    before = sum(_counter(metrics, "eigen_rpc_request").values())
    outcomes: dict[str, int] = {}
    for _ in range(requests):
        forger = Account.create()
        status, code = await asyncio.to_thread(
            _post, api, body, _signed(body, target.keypair.operator_id, forger)
        )
        outcomes[f"{status} {code}"] = outcomes.get(f"{status} {code}", 0) + 1
    calls = sum(_counter(metrics, "eigen_rpc_request").values()) - before
    return {
        "requests": requests,
        "outcomes": outcomes,
        "rpc_calls": int(calls),
        "rpc_calls_per_request": round(calls / requests, 4),
    }


async def disk_full(devnet: Devnet, root: Path) -> dict[str, Any]:
    victim = devnet.operators[3]
    devnet.stop_node(victim)
    devnet.configure_node(
        victim,
        {
            "node": {"data_dir": str(root / "full-data")},
            "store": {"max_size": 16 * MiB, "shards": 1},
            "limits": {"max_request_bytes": 8 * MiB},
            "dispersal": {"max_blob_size": 4 * MiB},
        },
    )
    devnet.start_node(victim)
    devnet.wait_ready(victim)
    api = victim.api_url
    try:
        outcomes: dict[str, int] = {}
        for tag in range(24):
            body = await _batch_for(devnet, victim, 5000 + tag, 128 << 10)
            headers = _signed(body, victim.keypair.operator_id, devnet.disperser)
            status, code = await asyncio.to_thread(_post, victim.dispersal_url, body, headers)
            outcomes[f"{status} {code}"] = outcomes.get(f"{status} {code}", 0) + 1
        return {
            "requests": 24,
            "outcomes": outcomes,
            "health": _get(api + "/eigen/node/health")[0],
            "dispersal_health": _get(api + "/eigen/node/services/dispersal/health")[0],
            "node_api": _get(api + "/eigen/node")[0],
        }
    finally:
        devnet.stop_node(victim)
        devnet.configure_node(victim)
        devnet.start_node(victim)
        devnet.wait_ready(victim)


async def crash_rounds(devnet: Devnet, rounds: int) -> dict[str, Any]:
    rng = random.Random(3)
    connection = devnet.connect(devnet.disperser)
    checked = lost = killed = 0
    try:
        disperser = Disperser(
            connection, devnet.disperser, timeout=10.0, retries=0, payer=devnet.payer
        )
        for _ in range(rounds):
            victim = rng.choice(devnet.operators)
            task = asyncio.create_task(disperser.disperse(os.urandom(256 << 10), k=8))
            await asyncio.sleep(rng.uniform(0.0, 0.4))
            if victim.process is not None and victim.process.poll() is None:
                victim.process.send_signal(signal.SIGKILL)
                victim.process.wait()
                killed += 1
            try:
                result = await task
            except Exception:
                result = None
            devnet.start_node(victim)
            devnet.wait_ready(victim)
            if result is None:
                continue
            for reply in result.replies:
                if not reply.signature:
                    continue
                operator = next(
                    op for op in devnet.operators if op.keypair.operator_id == reply.operator_id
                )
                url = (
                    f"{operator.api_url}/v1/chunks/"
                    f"0x{result.batch_header_hash.hex()}/{result.blob_index}"
                )
                status, data = await asyncio.to_thread(_get, url)
                checked += 1
                try:
                    reply_data = decode_retrieval_reply(data, WireLimits())
                    validate_retrieval_reply(
                        reply_data, result.batch_header_hash, result.blob_index
                    )
                except Exception:
                    lost += 1
                    continue
                if status != 200:
                    lost += 1
    finally:
        await connection.close()
    return {"rounds": rounds, "kills": killed, "signed_pairs_checked": checked, "lost": lost}


# --- the run and its table ----------------------------------------------------------------------


async def _devnet_scenarios(root: Path, quick: bool) -> dict[str, Any]:
    devnet = Devnet(root / "devnet")
    await devnet.start()
    try:
        return {
            "slow_uploads": await slow_uploads(devnet, 16 if quick else 32),
            "forged_signatures": await forged_signatures(devnet, 100 if quick else 300),
            "disk_full": await disk_full(devnet, root),
            "crash_rounds": await crash_rounds(devnet, 5 if quick else 20),
        }
    finally:
        devnet.stop()


def _table(results: dict[str, Any]) -> str:
    r = results
    rows = [
        (
            "Slow uploads (anonymous, 64 MiB declared, a byte at a time)",
            f"{r['slow_uploads']['attackers']} attackers",
            f"genuine disperser signed {r['slow_uploads']['genuine_signed']}/"
            f"{r['slow_uploads']['genuine_requests']} (p50 "
            f"{r['slow_uploads']['genuine_p50_ms']} ms); attackers answered "
            f"{r['slow_uploads']['attackers_answered']}; RSS +"
            f"{r['slow_uploads']['rss_growth_MiB']} MiB",
        ),
        (
            "Aborted uploads (allowed disperser, 48 MiB, cut at 40 MiB)",
            f"{r['aborted_uploads']['uploads']} uploads",
            f"RSS +{r['aborted_uploads']['rss_growth_MiB']} MiB (bound: one request, 48 MiB)",
        ),
        (
            "Forged signatures (random keys)",
            f"{r['forged_signatures']['requests']} requests",
            f"{r['forged_signatures']['rpc_calls']} RPC calls "
            f"({r['forged_signatures']['rpc_calls_per_request']} per request); "
            f"{r['forged_signatures']['outcomes']}",
        ),
        (
            "Malformed HTTP (256 KiB each)",
            f"{r['junk_http']['junk_requests']} requests, {r['junk_http']['junk_MiB']} MiB",
            f"{r['junk_http']['log_bytes']} log bytes "
            f"({r['junk_http']['log_bytes_per_junk_byte']} per junk byte), "
            f"{r['junk_http']['non_json_lines']} non-JSON lines",
        ),
        (
            "Fuzzed StoreChunks and retrieval paths",
            f"{r['fuzz']['store_chunks_requests']} requests in {r['fuzz']['mutation_classes']} "
            f"classes, {r['fuzz']['retrieval_paths']} paths",
            f"{r['fuzz']['status_500']} answered 500, {r['fuzz']['no_answer']} unanswered, "
            f"{r['fuzz']['store_writes']} store writes; statuses {r['fuzz']['by_status']}",
        ),
        (
            "Overload (signed 4-16 MiB requests at once)",
            f"{r['overload']['clients']} clients",
            f"peak RSS +{r['overload']['peak_rss_growth_MiB']} MiB (bound "
            f"{r['overload']['bound_MiB']} MiB); p50 {r['overload']['latency_p50_ms']} ms, "
            f"p99 {r['overload']['latency_p99_ms']} ms; {r['overload']['outcomes']}",
        ),
        (
            "Chain RPC hangs (accepts, never answers)",
            f"{r['chain_hang']['requests']} requests",
            f"first held {r['chain_hang']['first_s']} s, the rest p50 "
            f"{r['chain_hang']['rest_p50_ms']} ms / max {r['chain_hang']['rest_max_ms']} ms; "
            f"health {r['chain_hang']['health']}",
        ),
        (
            "Disk full (16 MiB store, 1.6 MiB batches)",
            f"{r['disk_full']['requests']} requests",
            f"{r['disk_full']['outcomes']}; health {r['disk_full']['health']}, dispersal "
            f"{r['disk_full']['dispersal_health']}, API {r['disk_full']['node_api']}",
        ),
        (
            "SIGKILL at a random moment of a dispersal, restart",
            f"{r['crash_rounds']['rounds']} rounds, {r['crash_rounds']['kills']} kills",
            f"{r['crash_rounds']['signed_pairs_checked']} signed (batch, node) pairs checked, "
            f"{r['crash_rounds']['lost']} lost",
        ),
    ]
    lines = ["| attack | load | result |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def _write_doc(results: dict[str, Any]) -> None:
    text = DOC.read_text() if DOC.exists() else ""
    start, end = "<!-- reliability:begin -->", "<!-- reliability:end -->"
    block = (
        f"{start}\nMeasured {time.strftime('%Y-%m-%d', time.gmtime())} on "
        f"{os.cpu_count()} cores ({'quick' if results['quick'] else 'full'} run).\n\n"
        f"{_table(results)}\n{end}"
    )
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text + "\n" + block + "\n"
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (about 2 minutes)")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/reliability.md")
    args = parser.parse_args()
    quick = args.quick
    results: dict[str, Any] = {"bench": "reliability", "quick": quick}
    with tempfile.TemporaryDirectory(prefix="reliability-") as tmp:
        root = Path(tmp)
        steps: list[tuple[str, Callable[[], dict[str, Any]]]] = [
            ("aborted_uploads", lambda: aborted_uploads(root / "aborted", 10 if quick else 30)),
            ("junk_http", lambda: junk_http(root / "junk", 4 if quick else 20)),
            ("fuzz", lambda: fuzz(root / "fuzz", 40 if quick else 400)),
            ("overload", lambda: overload(root / "overload", 40)),
            ("chain_hang", lambda: chain_hang(root / "hang", 20 if quick else 60)),
        ]
        for name, step in steps:
            print(f"reliability: {name} ...", file=sys.stderr, flush=True)
            results[name] = step()
        print("reliability: devnet scenarios ...", file=sys.stderr, flush=True)
        results.update(asyncio.run(_devnet_scenarios(root, quick)))
    print(json.dumps(results))
    if not args.no_doc:
        _write_doc(results)


if __name__ == "__main__":
    main()
