"""Separate ports on the real daemon: StoreChunks only on the dispersal port, retrieval and the
node API only on the public one, each refusing the other's requests with a clear 404; one port
for everything with ``dispersal_port = 0``; and the start-up line that says where it listens."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.daemon import NodeProcess, http_get, node_config
from support.http_node import KEYPAIR, keyed_config, post, sample_body, signed

NodeFactory = Callable[..., NodeProcess]


def _post_to(url: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """POST a signed StoreChunks ``body`` to ``url``; (status, JSON reply)."""
    request = urllib.request.Request(url, data=body, headers=signed(body), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _logged(node: NodeProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in node.log().splitlines() if line.startswith("{")]


def test_ports_each_serves_only_its_own_routes(tmp_path: Path, node_factory: NodeFactory) -> None:
    node = node_factory(keyed_config(tmp_path))
    node.wait_ready()
    api, dispersal = node.api_port, node.dispersal_port
    assert api != dispersal
    body = sample_body()

    # StoreChunks on the dispersal port reaches the pipeline (which wants a chain it lacks).
    status, reply = post(node, body, signed(body))
    assert (status, reply["error"]) == (503, "chain_unavailable")
    # On the public port: refused before anything is read, naming the port to use.
    status, reply = _post_to(node.url("/v1/store-chunks"), body)
    assert (status, reply["error"]) == (404, "wrong_port")
    assert f"dispersal port, {dispersal}" in reply["message"]
    # Retrieval and the node API on the dispersal port: refused the same way.
    for path in ("/eigen/node", "/eigen/node/health", f"/v1/chunks/0x{'00' * 32}/0"):
        status, raw = http_get(node.dispersal_url(path))
        assert status == 404, path
        assert (
            json.loads(raw)["error"] == "wrong_port" and f"port {api}" in json.loads(raw)["message"]
        )
    # ... and served on the public port.
    assert http_get(node.url("/eigen/node"))[0] == 200
    assert http_get(node.url(f"/v1/chunks/0x{'00' * 32}/0"))[0] == 404  # served: not stored

    logged = _logged(node)
    wrong = [e for e in logged if e["event"] == "request_on_wrong_port"]
    assert {e["meant_for"] for e in wrong} == {"dispersal", "retrieval"}
    assert all(e["level"] == "warning" and e["component"] == "api" for e in wrong)


def test_ports_node_ready_says_what_and_where(tmp_path: Path, node_factory: NodeFactory) -> None:
    node = node_factory(keyed_config(tmp_path))
    node.wait_ready()
    ready = [e for e in _logged(node) if e["event"] == "node_ready"]
    assert len(ready) == 1
    line = ready[0]
    assert line["component"] == "node" and line["level"] == "info"
    assert line["listeners"] == {
        "api": f"127.0.0.1:{node.api_port}",
        "dispersal": f"127.0.0.1:{node.dispersal_port}",
        "metrics": f"127.0.0.1:{node.metrics_port}",
    }
    assert line["socket"] == f"127.0.0.1:{node.dispersal_port};{node.api_port}"
    assert line["operator_id"] == "0x" + KEYPAIR.operator_id.hex()
    assert line["quorums"] == [0] and line["dispersal"] == "enabled"
    assert line["registration"].startswith("unknown: no chain configured")
    assert set(line["backends"]) == {"erasure", "bn254", "keccak"}
    assert line["version"]


def test_ports_zero_dispersal_port_serves_everything_on_one(
    tmp_path: Path, node_factory: NodeFactory
) -> None:
    node = node_factory(keyed_config(tmp_path, api={"dispersal_port": 0}))
    node.wait_ready()
    assert node.store_chunks_port == node.api_port
    body = sample_body()
    status, reply = _post_to(node.url("/v1/store-chunks"), body)
    assert (status, reply["error"]) == (503, "chain_unavailable")
    assert http_get(node.url("/eigen/node"))[0] == 200
    (ready,) = [e for e in _logged(node) if e["event"] == "node_ready"]
    assert set(ready["listeners"]) == {"api", "metrics"}
    assert ready["socket"] == f"127.0.0.1:{node.api_port}"


def test_ports_node_without_key_opens_no_dispersal_port(
    tmp_path: Path, node_factory: NodeFactory
) -> None:
    node = node_factory(node_config(tmp_path))
    node.wait_ready()
    (ready,) = [e for e in _logged(node) if e["event"] == "node_ready"]
    assert set(ready["listeners"]) == {"api", "metrics"}
    assert ready["operator_id"] is None and ready["dispersal"].startswith("disabled")
    with pytest.raises(urllib.error.URLError, match="Connection refused"):
        http_get(node.dispersal_url("/eigen/node"), timeout=2)
