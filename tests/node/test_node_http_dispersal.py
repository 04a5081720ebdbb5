"""StoreChunks and retrieval over real HTTP against the real daemon (no chain here).

Refusals that happen before the chain is consulted are checked end to end; retrieval is checked
on a batch stored by the pipeline into the daemon's data directory beforehand.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.daemon import NodeProcess, http_get, node_config
from support.fake_chain import FakeChain
from support.http_node import (
    DISPERSER,
    KEYPAIR,
    OTHERS,
    PASSWORD,
    STRANGER,
    keyed_config,
    post,
    rss,
    sample_batch,
    sample_body,
    signed,
    signed_upload,
    status_line,
    upload,
    write_key,
)
from support.pipeline import open_pipeline

from operator_node.client.batch import PreparedBatch
from operator_node.crypto.signer import LocalSigner
from operator_node.protocol.messages import validate_retrieval_reply
from operator_node.protocol.wire import WireLimits, decode_retrieval_reply, encode_store_chunks

NodeFactory = Callable[..., NodeProcess]


def test_http_store_chunks_refusals(tmp_path: Path, node_factory: NodeFactory) -> None:
    node = node_factory(
        keyed_config(
            tmp_path, limits={"max_request_bytes": 4096}, dispersal={"max_blob_size": 2048}
        )
    )
    node.wait_ready()
    batch = sample_batch()
    body = b"".join(encode_store_chunks(batch.requests[KEYPAIR.operator_id]))
    assert len(body) < 4096

    status, reply = post(node, b"x" * 5000, signed(body))
    assert (status, reply["error"]) == (413, "too_large")
    status, reply = post(node, body, {})
    assert (status, reply["error"]) == (401, "bad_signature")
    status, reply = post(node, body, signed(body, STRANGER))
    assert (status, reply["error"]) == (403, "forbidden")
    garbage = b"ONSC" + bytes(60)
    status, reply = post(node, garbage, signed(body))  # refused before the signature matters
    assert (status, reply["error"]) == (400, "malformed")
    # A well-formed, well-signed batch still needs the chain to check the assignment.
    status, reply = post(node, body, signed(body))
    assert (status, reply["error"]) == (503, "chain_unavailable")
    assert set(reply) == {"error", "message"}

    assert http_get(node.url(f"/v1/chunks/0x{batch.header_hash.hex()}/0"))[0] == 404
    families = {
        f.name: f for f in text_string_to_metric_families(http_get(node.metrics_url())[1].decode())
    }
    series = {
        s.labels["outcome"]: s.value
        for s in families["operator_node_store_chunks_requests"].samples
    }
    # Every outcome is exported from the start (at 0), so rates over them read 0, not nothing.
    assert all(series.get(o) == 0 for o in ("ok", "bad_proof", "excessive_overhead", "busy"))
    outcomes = {outcome: count for outcome, count in series.items() if count}
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
    node = node_factory(keyed_config(tmp_path))
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
    await pipeline.store_chunks(memoryview(body), signed(body))
    await store.close()


def test_http_retrieval_serves_stored_chunks_with_valid_proofs(
    tmp_path: Path, node_factory: NodeFactory
) -> None:
    sections = keyed_config(tmp_path)
    batch = sample_batch()
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
    node = node_factory(keyed_config(tmp_path, retrieval={"rate_limit": 0.5, "burst": 3}))
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
    keys = write_key(tmp_path, mode=0o644 if problem == "open_permissions" else 0o600)
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
    sock = socket.create_connection(("127.0.0.1", node.store_chunks_port), timeout=15)
    sock.sendall(b"POST /v1/store-chunks HTTP/1.1\r\nHost: node\r\nContent-Length: 1000\r\n\r\n")
    sock.sendall(b"x" * 10)
    time.sleep(0.5)
    return sock


def test_http_second_sigterm_abandons_the_drain(tmp_path: Path, node_factory: NodeFactory) -> None:
    node = node_factory(keyed_config(tmp_path, api={"shutdown_grace": 30.0}))
    node.wait_ready()
    with _hold_open_upload(node):
        node.signal(signal.SIGTERM)
        time.sleep(1.0)
        assert node.proc.poll() is None
        node.signal(signal.SIGTERM)
        assert node.wait_exit(timeout=10) == 0
    assert "drain_abandoned" in node.log()
    # The store was closed properly: the node starts again on the same data directory.
    again = node_factory(keyed_config(tmp_path), name="again")
    again.wait_ready()


def test_http_in_flight_limit_refuses_before_reading_and_bounds_memory(
    tmp_path: Path, node_factory: NodeFactory
) -> None:
    """Past ``max_inflight``, authenticated requests get 503 busy before their bodies are read;
    memory stays within the admitted requests' bodies however many more clients push full ones,
    signed or not."""
    limit = 8 << 20
    node = node_factory(
        keyed_config(
            tmp_path,
            limits={"max_inflight": 2, "max_request_bytes": limit},
            dispersal={"max_blob_size": 4 << 20},
        )
    )
    node.wait_ready()
    small = sample_body()
    # Two slow disperser uploads take both slots: their signed heads and half their bodies are in.
    holders = [signed_upload(node, limit, limit // 2) for _ in range(2)]
    deadline = time.monotonic() + 10
    while post(node, small, signed(small))[1]["error"] != "busy":
        assert time.monotonic() < deadline, "the slow uploads were never admitted"
    baseline = rss(node.proc.pid, "VmHWM")

    # 16 more clients push 6 MiB each and hold on, half of them signed: 96 MiB the node must not
    # keep. The signed ones are refused busy after their heads, the others on their heads.
    floods = [
        signed_upload(node, limit, limit * 3 // 4)
        if i % 2
        else upload(node, limit, limit * 3 // 4, head=small[:4096])
        for i in range(16)
    ]
    assert rss(node.proc.pid, "VmHWM") - baseline < 24 << 20
    lines = [status_line(conn) for conn in floods]
    assert lines == [b"HTTP/1.1 401 Unauthorized", b"HTTP/1.1 503 Service Unavailable"] * 8
    status, reply = post(node, small, signed(small))
    assert (status, reply["error"]) == (503, "busy")

    for conn in [*holders, *floods]:
        conn.close()
    deadline = time.monotonic() + 10
    while (reply := post(node, small, signed(small))[1])["error"] == "busy":
        assert time.monotonic() < deadline, "slots were not released after the clients left"
    assert reply["error"] == "chain_unavailable"  # admitted, read and checked up to the chain
    assert http_get(node.url(f"/v1/chunks/0x{sample_batch().header_hash.hex()}/0"))[0] == 404


def _get_from(node: NodeProcess, path: str, source: str, forwarded: str | None = None) -> int:
    """GET ``path`` from the loopback address ``source``, optionally with X-Forwarded-For."""
    conn = socket.create_connection(
        ("127.0.0.1", node.api_port), timeout=5, source_address=(source, 0)
    )
    extra = f"X-Forwarded-For: {forwarded}\r\n" if forwarded is not None else ""
    with conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: n\r\n{extra}Connection: close\r\n\r\n".encode())
        return int(status_line(conn).split()[1])


def test_http_retrieval_limits_the_client_behind_a_trusted_proxy(
    tmp_path: Path, node_factory: NodeFactory
) -> None:
    """Behind a trusted proxy each client has its own bucket; anyone else's X-Forwarded-For is
    ignored, and a client cannot pick its bucket by writing the header itself."""
    node = node_factory(
        keyed_config(
            tmp_path,
            api={"trusted_proxies": ["127.0.0.2/32"]},
            retrieval={"rate_limit": 0.01, "burst": 2},
        )
    )
    node.wait_ready()
    path = f"/v1/chunks/0x{'ab' * 32}/0"
    # Not a proxy: the header changes nothing, the peer's one bucket empties.
    direct = [_get_from(node, path, "127.0.0.1", f"203.0.113.{i}") for i in range(3)]
    assert direct == [404, 404, 429]
    # Through the proxy: one bucket per forwarded client, whatever it claimed further left.
    proxy = "127.0.0.2"
    assert [_get_from(node, path, proxy, "203.0.113.5") for _ in range(3)] == [404, 404, 429]
    assert _get_from(node, path, proxy, "198.51.100.9, 203.0.113.5") == 429
    assert _get_from(node, path, proxy, "203.0.113.5, 203.0.113.6") == 404
    # A header that is not addresses falls back to the proxy's own bucket.
    assert [_get_from(node, path, proxy, "not-an-ip") for _ in range(3)] == [404, 404, 429]


def test_http_disperser_rate_limit_applies_after_authentication(
    tmp_path: Path, node_factory: NodeFactory
) -> None:
    """Each authenticated disperser has its own bucket; requests that fail authentication never
    reach it, so nobody can get the genuine disperser limited by sending in its name."""
    node = node_factory(keyed_config(tmp_path, dispersal={"rate_limit": 0.01, "burst": 2}))
    node.wait_ready()
    body = sample_body()
    assert post(node, body, signed(body))[1]["error"] == "chain_unavailable"
    spoofed = signed(body)
    spoofed["X-Disperser-Timestamp"] = str(int(spoofed["X-Disperser-Timestamp"]) + 1)
    for _ in range(5):  # claims the disperser's request, but recovers to another address
        assert post(node, body, spoofed)[1]["error"] == "forbidden"
    assert post(node, body, signed(body))[1]["error"] == "chain_unavailable"
    status, reply = post(node, body, signed(body))
    assert (status, reply["error"]) == (429, "rate_limited")
    assert DISPERSER.address in reply["message"]
