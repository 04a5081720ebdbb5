"""Attacks from the open internet on a real daemon over loopback: slow uploads, aborted uploads,
and a stop while bodies are still arriving. Each failed before the node read heads first."""

from __future__ import annotations

import contextlib
import json
import random
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from support.daemon import NodeProcess, http_get
from support.http_node import (
    keyed_config,
    post,
    reply_of,
    rss,
    sample_body,
    signed,
    signed_upload,
    status_line,
    upload,
)

from operator_node.node import LINGER

NodeFactory = Callable[..., NodeProcess]
MiB = 1 << 20


def _outcomes(node: NodeProcess) -> dict[str, float]:
    text = http_get(node.metrics_url())[1].decode()
    for family in text_string_to_metric_families(text):
        if family.name == "operator_node_store_chunks_requests":
            return {
                s.labels["outcome"]: s.value for s in family.samples if s.name.endswith("total")
            }
    return {}


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_slow_uploads_do_not_block_the_genuine_disperser(
    tmp_path: Path, node_factory: NodeFactory
) -> None:
    """20 anonymous uploads declaring 64 MiB and sending a byte now and then (12 from one
    address, 8 from another) hold no in-flight slot and no buffer: the disperser is served
    throughout, each is closed by the head deadline (408; the 4 over the per-address cap at once,
    503), and memory stays flat."""
    node = node_factory(keyed_config(tmp_path, limits={"head_timeout": 2.0}))
    node.wait_ready()
    pid = node.proc.pid
    baseline = rss(pid)
    body = sample_body()
    start = time.monotonic()
    attackers = [
        upload(node, 64 * MiB, 0, source="127.0.0.2" if i < 12 else "127.0.0.3") for i in range(20)
    ]
    served = []
    for _ in range(5):
        for conn in attackers:
            with contextlib.suppress(OSError):  # closed by the node already
                conn.send(b"O")
        status, reply = post(node, body, signed(body))
        served.append((status, reply["error"]))
        time.sleep(0.2)
    # Admitted, read and checked up to the chain (this node has none): served, never "busy".
    assert served == [(503, "chain_unavailable")] * 5
    lines = [status_line(conn) for conn in attackers]
    assert time.monotonic() - start < 2.0 + LINGER + 3.0
    assert sorted(lines) == sorted(
        [b"HTTP/1.1 408 Request Timeout"] * 16 + [b"HTTP/1.1 503 Service Unavailable"] * 4
    )
    assert rss(pid) - baseline < 16 * MiB
    outcomes = _outcomes(node)
    assert (outcomes["timeout"], outcomes["busy"], outcomes["chain_unavailable"]) == (16, 4, 5)
    for conn in attackers:
        conn.close()


def test_aborted_uploads_leave_no_memory_behind(tmp_path: Path, node_factory: NodeFactory) -> None:
    """A disperser that aborts 48 MiB uploads after 40 MiB, ten times over: each buffer is freed
    when its connection drops (not when the cycle collector happens to run), so the node holds at
    most one request's worth more than before, not ten."""
    node = node_factory(keyed_config(tmp_path))
    node.wait_ready()
    pid = node.proc.pid
    length, sent = 48 * MiB, 40 * MiB

    def abort(count: int) -> None:
        signed_upload(node, length, sent).close()
        _wait_for(lambda: _outcomes(node).get("incomplete_body") == count, "abort not counted")

    abort(1)  # the first one warms up whatever the node keeps for good
    baseline = rss(pid)
    for count in range(2, 12):
        abort(count)
    assert rss(pid) - baseline < length


def test_stop_finishes_bodies_under_way_and_refuses_the_rest(
    tmp_path: Path, node_factory: NodeFactory
) -> None:
    """On SIGTERM the node stops accepting, keeps receiving a body under way and answers it; a
    body that does not arrive within the grace is answered 503 stopping; then it exits 0."""
    grace = 3.0
    node = node_factory(keyed_config(tmp_path, api={"shutdown_grace": grace}))
    node.wait_ready()
    body = sample_body()
    half = len(body) // 2
    finishing = upload(node, len(body), half, head=body[:half], headers=signed(body))
    stalled = upload(node, len(body), half, head=body[:half], headers=signed(body))
    time.sleep(0.5)
    node.signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    time.sleep(0.5)
    try:
        socket.create_connection(("127.0.0.1", node.api_port), timeout=2).close()
        raise AssertionError("the node still accepts connections while stopping")
    except ConnectionRefusedError:
        pass
    finishing.sendall(body[half:])
    line, reply = reply_of(finishing)
    # Received whole and judged by the pipeline (this node has no chain to check it against).
    assert line == b"HTTP/1.1 503 Service Unavailable" and b'"chain_unavailable"' in reply
    line, reply = reply_of(stalled)
    assert line == b"HTTP/1.1 503 Service Unavailable" and b'"stopping"' in reply
    assert time.monotonic() - stopped_at >= grace - 0.5
    assert node.wait_exit(timeout=10) == 0
    assert time.monotonic() - stopped_at < grace + 5
    for conn in (finishing, stalled):
        conn.close()


def _junk_requests() -> list[bytes]:
    """Malformed HTTP of 256 KiB each: binary noise, an endless request line, control characters
    in a header, and a request that is followed by noise on the same connection."""
    rng = random.Random(5)
    size = 256 << 10
    return [
        rng.randbytes(size),
        b"GET /" + b"a" * size + b" HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX: " + bytes(rng.randrange(1, 32) for _ in range(size)),
        b"GET /eigen/node HTTP/1.1\r\nHost: x\r\n\r\n" + rng.randbytes(size),
    ]


def test_malformed_http_cannot_flood_the_log(tmp_path: Path, node_factory: NodeFactory) -> None:
    """24 anonymous junk requests (6 MiB) add at most a few JSON lines to the log, never the
    junk itself, and the node keeps answering."""
    node = node_factory(keyed_config(tmp_path))
    node.wait_ready()
    before = len(node.log().encode())
    sent = 0
    for junk in _junk_requests() * 6:
        conn = socket.create_connection(("127.0.0.1", node.api_port), timeout=5)
        with conn, contextlib.suppress(OSError):
            conn.sendall(junk)
            sent += len(junk)
            conn.recv(4096)
    assert http_get(node.url("/eigen/node"))[0] == 200
    time.sleep(0.2)
    added = node.log().encode()[before:]
    assert sent > 5 * MiB
    assert len(added) < 4096, added[:2000]
    for line in added.decode().splitlines():
        json.loads(line)
