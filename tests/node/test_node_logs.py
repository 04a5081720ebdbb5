"""Logs that tell the truth, from the real daemon: every line JSON with a component, failures
that stop the node at start included; the node's own limits logged at warning naming the limit;
and the per-batch line with its size, time, chunks and signature."""

from __future__ import annotations

import io
import json
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.daemon import NodeProcess, http_get, node_config, run_cli, write_config
from support.fake_chain import FakeChain
from support.http_node import (
    DISPERSER,
    KEYPAIR,
    OTHERS,
    keyed_config,
    post,
    sample_batch,
    sample_body,
    signed,
    status_line,
    upload,
)
from support.pipeline import open_pipeline

from operator_node.crypto.signer import LocalSigner
from operator_node.logging import configure_logging
from operator_node.protocol.auth import compute_auth_headers, compute_request_hash
from operator_node.protocol.wire import encode_store_chunks

NodeFactory = Callable[..., NodeProcess]


def _json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of ``text`` as JSON; fails on a line that is not."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _the_failure(stderr: str) -> dict[str, Any]:
    lines = _json_lines(stderr)
    failed = [e for e in lines if e["event"] == "node_failed"]
    assert len(failed) == 1, stderr
    assert failed[0] is lines[-1]
    return failed[0]


TOO_MUCH = (64 << 20) + 1  # one byte over the default [limits] max_request_bytes


def _declare_too_much(node: NodeProcess) -> bytes:
    """A StoreChunks request declaring TOO_MUCH bytes (none sent); the reply's status line."""
    with upload(node, TOO_MUCH) as conn:
        return status_line(conn)


def test_logs_bad_config_is_one_json_line_when_the_log_is_json(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "bad.toml",
        {"node": {"log_format": "json", "data_dir": str(tmp_path / "d")}, "api": {"port": 0}},
    )
    result = run_cli("run", "--config", str(path), timeout=30)
    assert result.returncode == 2
    failure = _the_failure(result.stderr)
    assert (failure["level"], failure["component"], failure["error"]) == (
        "critical",
        "cli",
        "configuration",
    )
    assert "api.port must be at least 1" in failure["message"] and str(path) in failure["message"]
    assert failure["exit_code"] == 2 and "timestamp" in failure
    assert result.stdout == ""


def test_logs_unparsable_config_follows_the_environment_format(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[node\nlog_format = 'json'\n")
    as_json = run_cli("run", "--config", str(path), env={"OPERATOR_NODE__NODE__LOG_FORMAT": "json"})
    assert as_json.returncode == 2
    assert "TOML syntax error" in _the_failure(as_json.stderr)["message"]
    # Asked for console (a person at a terminal): the plain sentence, as before.
    as_text = run_cli(
        "run", "--config", str(path), env={"OPERATOR_NODE__NODE__LOG_FORMAT": "console"}
    )
    assert as_text.returncode == 2
    assert as_text.stderr.startswith("operator-node: configuration error:")


def test_logs_port_in_use_is_a_json_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = write_config(tmp_path / "node.toml", node_config(tmp_path, api={"port": port}))
        result = run_cli("run", "--config", str(path), timeout=60)
    assert result.returncode == 1
    failure = _the_failure(result.stderr)
    assert (failure["level"], failure["error"]) == ("critical", "startup")
    assert f"cannot listen on 127.0.0.1:{port} for the api" in failure["message"]
    # Everything before it was JSON too (the whole stream parsed above).


def test_logs_key_that_will_not_load_is_a_json_line(tmp_path: Path) -> None:
    sections = keyed_config(tmp_path)
    Path(sections["keys"]["bls_password_file"]).write_text("not the password\n")
    path = write_config(tmp_path / "node.toml", sections)
    result = run_cli("run", "--config", str(path), timeout=60)
    assert result.returncode == 1
    failure = _the_failure(result.stderr)
    assert failure["error"] == "startup" and "password" in failure["message"]
    assert "not the password" not in result.stderr


def test_logs_every_line_has_a_component(tmp_path: Path, node_factory: NodeFactory) -> None:
    node = node_factory(keyed_config(tmp_path))
    node.wait_ready()
    body = sample_body()
    _declare_too_much(node)  # refused by the node's own limit
    post(node, body, signed(body))  # refused: no chain
    http_get(node.url(f"/v1/chunks/0x{'00' * 32}/0"))
    http_get(node.dispersal_url("/eigen/node"))  # the wrong port
    node.stop()
    lines = _json_lines(node.log())  # every line is JSON
    events = {e["event"] for e in lines}
    assert {"store_opened", "node_ready", "store_chunks_refused", "store_closed"} <= events
    assert [e["event"] for e in lines if not e.get("component")] == []


def test_logs_own_limits_are_warnings_naming_the_limit(
    tmp_path: Path, node_factory: NodeFactory
) -> None:
    node = node_factory(keyed_config(tmp_path))
    node.wait_ready()
    body = sample_body()
    assert _declare_too_much(node).startswith(b"HTTP/1.1 413")
    status, reply = post(node, body, {})  # the sender's fault, not a limit
    assert (status, reply["error"]) == (401, "bad_signature")
    node.stop()
    refused = [e for e in _json_lines(node.log()) if e["event"] == "store_chunks_refused"]
    too_large = next(e for e in refused if e["error"] == "too_large")
    assert too_large["level"] == "warning"
    assert too_large["limit"] == "limits.max_request_bytes"
    assert too_large["message"] == f"body of {TOO_MUCH} bytes exceeds {64 << 20}"
    unsigned = next(e for e in refused if e["error"] == "bad_signature")
    assert unsigned["level"] == "info" and "limit" not in unsigned


def test_logs_header_limit_is_named(tmp_path: Path, node_factory: NodeFactory) -> None:
    node = node_factory(keyed_config(tmp_path))
    node.wait_ready()
    body = sample_body()
    # A prefix declaring a header over [limits] max_header_bytes (1 MiB): refused on the prefix.
    huge_header = body[:5] + struct.pack(">I", 2 << 20) + body[9:]
    status, reply = post(node, huge_header, signed(body))
    assert (status, reply["error"]) == (413, "too_large")
    node.stop()
    (line,) = [e for e in _json_lines(node.log()) if e["event"] == "store_chunks_refused"]
    assert (line["level"], line["limit"]) == ("warning", "limits.max_header_bytes")


async def test_logs_batch_stored_says_size_time_chunks_and_signed(tmp_path: Path) -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    batch = sample_batch()
    chain = FakeChain({0: [(kp.operator_id, 25) for kp in [KEYPAIR, *OTHERS]]}, head=20)
    pipeline, store = await open_pipeline(
        tmp_path, LocalSigner(KEYPAIR), chain, [DISPERSER.address], chain_allowlist=False
    )
    request = batch.requests[KEYPAIR.operator_id]
    body = b"".join(encode_store_chunks(request))
    try:
        await pipeline.store_chunks(memoryview(body), signed(body))
        # Again, signed a second later (a new request): stored already, signed again.
        later = compute_auth_headers(
            DISPERSER, KEYPAIR.operator_id, int(time.time()) + 1, compute_request_hash(body)
        )
        await pipeline.store_chunks(memoryview(body), later)
    finally:
        await store.close()
    lines = _json_lines(stream.getvalue())
    stored = next(e for e in lines if e["event"] == "batch_stored")
    chunks = [c for blob in request.blobs for c in blob.chunks]
    assert stored["component"] == "dispersal" and stored["signed"] is True
    assert stored["batch"] == "0x" + batch.header_hash.hex()
    assert (stored["bytes"], stored["chunks"], stored["blobs"]) == (len(body), len(chunks), 2)
    assert stored["chunk_bytes"] == sum(len(c) for c in chunks)
    assert 0 < stored["duration_ms"] < 10_000
    again = next(e for e in lines if e["event"] == "batch_already_stored")
    assert again["signed"] is True and again["bytes"] == len(body)
