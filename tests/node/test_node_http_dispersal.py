"""StoreChunks and retrieval over real HTTP against the real daemon (no chain here).

Refusals that happen before the chain is consulted are checked end to end; retrieval is checked
on a batch stored by the pipeline into the daemon's data directory beforehand.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from prometheus_client.parser import text_string_to_metric_families
from support.daemon import NodeProcess, http_get, node_config
from support.fake_chain import FakeChain
from support.pipeline import open_pipeline

from operator_node.client.batch import EncodedBlob, PreparedBatch, prepare_batch
from operator_node.crypto.bls import BlsKeyPair
from operator_node.crypto.keystore import save_bls_keystore
from operator_node.crypto.signer import LocalSigner
from operator_node.protocol.auth import compute_auth_headers, compute_request_hash
from operator_node.protocol.headers import QuorumParams
from operator_node.protocol.messages import validate_retrieval_reply
from operator_node.protocol.wire import WireLimits, decode_retrieval_reply, encode_store_chunks

NodeFactory = Callable[..., NodeProcess]
DISPERSER = Account.from_key(b"\x11" * 32)
STRANGER = Account.from_key(b"\x22" * 32)
KEYPAIR = BlsKeyPair.from_secret(4242)
OTHERS = [BlsKeyPair.from_secret(4243 + i) for i in range(3)]
PASSWORD = "correct horse battery staple"


def _write_key(tmp_path: Path, mode: int = 0o600) -> dict[str, Any]:
    keys = tmp_path / "keys"
    keys.mkdir(exist_ok=True)
    keystore = keys / "op.bls.key.json"
    if not keystore.exists():
        save_bls_keystore(keystore, KEYPAIR, PASSWORD, scrypt_n=1024)
    password_file = keys / "bls.password"
    password_file.write_text(PASSWORD + "\n")
    os.chmod(password_file, mode)
    return {"bls_keystore": str(keystore), "bls_password_file": str(password_file)}


def _config(tmp_path: Path, **overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return node_config(
        tmp_path,
        keys=_write_key(tmp_path),
        dispersal={"allowed_dispersers": [DISPERSER.address], "disperser_source": "static"},
        **overrides,
    )


def _batch() -> PreparedBatch:
    rng = random.Random(7)
    blob = EncodedBlob.from_chunks(
        [rng.randbytes(64) for _ in range(16)],
        data_length=200,
        k=4,
        quorums=[QuorumParams(0, 25, 50)],
        account=b"\xaa" * 20,
    )
    pairs = [KEYPAIR, *OTHERS]
    states = {0: [(kp.operator_id, 25) for kp in pairs]}
    return prepare_batch([blob, blob], states, 10)


def _post(node: NodeProcess, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        node.url("/v1/store-chunks"), data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _signed(body: bytes, signer: Any = DISPERSER) -> dict[str, str]:
    return compute_auth_headers(
        signer, KEYPAIR.operator_id, int(time.time()), compute_request_hash(body)
    )


def test_http_store_chunks_refusals(tmp_path: Path, node_factory: NodeFactory) -> None:
    node = node_factory(_config(tmp_path, limits={"max_request_bytes": 4096}))
    node.wait_ready()
    batch = _batch()
    body = b"".join(encode_store_chunks(batch.requests[KEYPAIR.operator_id]))
    assert len(body) < 4096

    status, reply = _post(node, b"x" * 5000, _signed(body))
    assert (status, reply["error"]) == (413, "too_large")
    status, reply = _post(node, body, {})
    assert (status, reply["error"]) == (401, "bad_signature")
    status, reply = _post(node, body, _signed(body, STRANGER))
    assert (status, reply["error"]) == (403, "forbidden")
    garbage = b"ONSC" + bytes(60)
    status, reply = _post(node, garbage, _signed(body))  # refused before the signature matters
    assert (status, reply["error"]) == (400, "malformed")
    # A well-formed, well-signed batch still needs the chain to check the assignment.
    status, reply = _post(node, body, _signed(body))
    assert (status, reply["error"]) == (503, "chain_unavailable")
    assert set(reply) == {"error", "message"}

    assert http_get(node.url(f"/v1/chunks/0x{batch.header_hash.hex()}/0"))[0] == 404
    families = {
        f.name: f for f in text_string_to_metric_families(http_get(node.metrics_url())[1].decode())
    }
    outcomes = {
        s.labels["outcome"]: s.value
        for s in families["operator_node_store_chunks_requests"].samples
    }
    assert outcomes == {
        "too_large": 1,
        "bad_signature": 1,
        "forbidden": 1,
        "malformed": 1,
        "chain_unavailable": 1,
    }
    # Nothing reached the store's writer.
    writes = {s.name: s.value for s in families["operator_node_store_write_batches"].samples}
    assert writes["operator_node_store_write_batches_count"] == 0
    # The operator's log names every refusal, with who sent it and why; no secret.
    log = node.log()
    logged = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    refused = {e["error"]: e for e in logged if e["event"] == "store_chunks_refused"}
    assert set(refused) == set(outcomes)
    assert all(e["peer"] == "127.0.0.1" and e["suppressed"] == 0 for e in refused.values())
    assert refused["too_large"]["message"] == "body of 5000 bytes exceeds 4096"
    assert (refused["forbidden"]["level"], refused["forbidden"]["status"]) == ("info", 403)
    assert (refused["chain_unavailable"]["level"], refused["chain_unavailable"]["status"]) == (
        "warning",
        503,
    )
    assert PASSWORD not in log


def test_http_node_with_key_reports_dispersal_down_without_chain(
    tmp_path: Path, node_factory: NodeFactory
) -> None:
    node = node_factory(_config(tmp_path))
    node.wait_ready()
    assert http_get(node.url("/eigen/node/services/dispersal/health"))[0] == 503
    assert http_get(node.url("/eigen/node/health"))[0] == 206


async def _store_batch_offline(data_dir: Path, batch: PreparedBatch) -> None:
    """Store ``batch`` for KEYPAIR through the real pipeline, as a running node would."""
    states = {0: [(kp.operator_id, 25) for kp in [KEYPAIR, *OTHERS]]}
    chain = FakeChain(states, head=20)
    pipeline, store = await open_pipeline(
        data_dir, LocalSigner(KEYPAIR), chain, [DISPERSER.address], chain_allowlist=False
    )
    body = b"".join(encode_store_chunks(batch.requests[KEYPAIR.operator_id]))
    await pipeline.store_chunks(memoryview(body), _signed(body))
    await store.close()


def test_http_retrieval_serves_stored_chunks_with_valid_proofs(
    tmp_path: Path, node_factory: NodeFactory
) -> None:
    sections = _config(tmp_path)
    batch = _batch()
    asyncio.run(_store_batch_offline(Path(sections["node"]["data_dir"]), batch))
    node = node_factory(sections)
    node.wait_ready()

    for blob_index in (0, 1):
        status, body = http_get(node.url(f"/v1/chunks/0x{batch.header_hash.hex()}/{blob_index}"))
        assert status == 200
        reply = decode_retrieval_reply(body, WireLimits())
        validate_retrieval_reply(reply, batch.header_hash, blob_index)
        expected = batch.assignments[blob_index][KEYPAIR.operator_id]
        assert reply.blob.indices == expected
        blob = batch.blobs[blob_index]
        assert [bytes(c) for c in reply.blob.chunks] == [bytes(blob.chunks[i]) for i in expected]

    assert http_get(node.url(f"/v1/chunks/0x{batch.header_hash.hex()}/2"))[0] == 404
    assert http_get(node.url("/v1/chunks/0x1234/0"))[0] == 400
    good = batch.header_hash.hex()
    # Only ASCII digits and hex: "²", full-width and Arabic-Indic digits, signs, spaces, leading
    # zeros and huge numbers are refused with 400, never a 500.
    bad_indexes = [
        "x",
        "%C2%B2",
        "%EF%BC%91",
        "%D9%A1",
        "+1",
        "-1",
        "%201",
        "01",
        "65536",
        "9" * 5000,
    ]
    for index in bad_indexes:
        status, body = http_get(node.url(f"/v1/chunks/0x{good}/{index}"))
        assert (status, json.loads(body)["error"]) == (400, "malformed"), index
    bad_hashes = [
        "0x" + good[:-2] + "%20" + good[-1],
        "0X" + good,
        "0x" + good[:-1] + "g",
        good + "00",
    ]
    for text in bad_hashes:
        assert http_get(node.url(f"/v1/chunks/{text}/0"))[0] == 400, text
    assert http_get(node.url(f"/v1/chunks/{good}/0"))[0] == 200  # the 0x prefix is optional


def test_http_retrieval_is_rate_limited_per_client(
    tmp_path: Path, node_factory: NodeFactory
) -> None:
    node = node_factory(_config(tmp_path, retrieval={"rate_limit": 0.5, "burst": 3}))
    node.wait_ready()
    path = f"/v1/chunks/0x{'ab' * 32}/0"
    statuses = [http_get(node.url(path))[0] for _ in range(5)]
    assert statuses[:3] == [404, 404, 404]
    assert statuses[3:] == [429, 429]
    status, body = http_get(node.url(path))
    assert (status, json.loads(body)["error"]) == (429, "rate_limited")


@pytest.mark.parametrize("problem", ["wrong_password", "open_permissions", "missing_password"])
def test_http_bad_key_setup_stops_startup_clearly(
    tmp_path: Path, node_factory: NodeFactory, problem: str
) -> None:
    keys = _write_key(tmp_path, mode=0o644 if problem == "open_permissions" else 0o600)
    if problem == "wrong_password":
        Path(keys["bls_password_file"]).write_text("not the password\n")
    if problem == "missing_password":
        keys["bls_password_file"] = ""
    node = node_factory(node_config(tmp_path, keys=keys))
    assert node.wait_exit(timeout=60) == 1
    log = node.log()
    assert "not the password" not in log and PASSWORD not in log
    expected = {
        "wrong_password": "password",
        "open_permissions": "chmod 600",
        "missing_password": "OPERATOR_NODE_BLS_KEY_PASSWORD",
    }[problem]
    assert expected in log, log


def _hold_open_upload(node: NodeProcess) -> socket.socket:
    """A StoreChunks request whose body is only partly sent: a request in flight."""
    sock = socket.create_connection(("127.0.0.1", node.api_port), timeout=15)
    sock.sendall(b"POST /v1/store-chunks HTTP/1.1\r\nHost: node\r\nContent-Length: 1000\r\n\r\n")
    sock.sendall(b"x" * 10)
    time.sleep(0.5)
    return sock


def test_http_second_sigterm_abandons_the_drain(tmp_path: Path, node_factory: NodeFactory) -> None:
    node = node_factory(_config(tmp_path, api={"shutdown_grace": 30.0}))
    node.wait_ready()
    with _hold_open_upload(node):
        node.signal(signal.SIGTERM)
        time.sleep(1.0)
        assert node.proc.poll() is None
        node.signal(signal.SIGTERM)
        assert node.wait_exit(timeout=10) == 0
    assert "drain_abandoned" in node.log()
    # The store was closed properly: the node starts again on the same data directory.
    again = node_factory(_config(tmp_path), name="again")
    again.wait_ready()


def _upload(node: NodeProcess, length: int, send: int) -> socket.socket:
    """Open a StoreChunks request declaring ``length`` body bytes and send the first ``send``."""
    conn = socket.create_connection(("127.0.0.1", node.api_port), timeout=10)
    conn.sendall(
        b"POST /v1/store-chunks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/octet-stream\r\n" + f"Content-Length: {length}\r\n\r\n".encode()
    )
    with contextlib.suppress(OSError):  # the node answered and closed before the body was in
        conn.sendall(bytes(send))
    return conn


def _status_line(conn: socket.socket) -> bytes:
    """The HTTP status line of the reply on ``conn`` (empty if the node closed without one)."""
    reply = b""
    while b"\r\n\r\n" not in reply:
        try:
            piece = conn.recv(65536)
        except ConnectionResetError:
            break
        if not piece:
            break
        reply += piece
    return reply.partition(b"\r\n")[0]


def _peak_rss(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def test_http_in_flight_limit_refuses_before_reading_and_bounds_memory(
    tmp_path: Path, node_factory: NodeFactory
) -> None:
    """Past ``max_inflight``, requests get 503 busy before their bodies are read; memory stays
    within the admitted requests' bodies however many more clients push full ones."""
    limit = 8 << 20
    node = node_factory(_config(tmp_path, limits={"max_inflight": 2, "max_request_bytes": limit}))
    node.wait_ready()
    small = b"".join(encode_store_chunks(_batch().requests[KEYPAIR.operator_id]))
    # Two slow clients take both slots: their headers and half their bodies are in.
    holders = [_upload(node, limit, limit // 2) for _ in range(2)]
    deadline = time.monotonic() + 10
    while _post(node, small, {})[0] != 503:  # admitted probes end at once (401, no signature)
        assert time.monotonic() < deadline, "the slow uploads were never admitted"
    baseline = _peak_rss(node.proc.pid)

    # 16 more clients push 6 MiB each and hold on: 96 MiB the node must not keep.
    floods = [_upload(node, limit, limit * 3 // 4) for _ in range(16)]
    assert _peak_rss(node.proc.pid) - baseline < 24 << 20
    lines = [_status_line(conn) for conn in floods]
    assert lines == [b"HTTP/1.1 503 Service Unavailable"] * 16
    status, reply = _post(node, small, _signed(small))
    assert (status, reply["error"]) == (503, "busy")

    for conn in [*holders, *floods]:
        conn.close()
    deadline = time.monotonic() + 10
    while (status := _post(node, small, {})[0]) == 503:
        assert time.monotonic() < deadline, "slots were not released after the clients left"
    assert status == 401
    assert http_get(node.url(f"/v1/chunks/0x{_batch().header_hash.hex()}/0"))[0] == 404
