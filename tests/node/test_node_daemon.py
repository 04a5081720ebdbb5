"""The real daemon as a subprocess: node-spec API, metrics, signals, systemd notify."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.daemon import NodeProcess, http_get, node_config

NodeFactory = Callable[..., NodeProcess]

SPEC_METRICS = {
    "eigen_performance_score": "gauge",
    "eigen_registered_stakes": "gauge",
    "eigen_rpc_request_duration_seconds": "histogram",
    "eigen_rpc_request": "counter",  # the parser strips the _total suffix from counter families
}


def test_daemon_serves_node_spec_api(tmp_path: Path, node_factory: NodeFactory) -> None:
    node = node_factory(node_config(tmp_path))
    node.wait_ready()

    status, body = http_get(node.url("/eigen/node"))
    assert status == 200
    info = json.loads(body)
    assert info == {"node_name": "test-node", "spec_version": "v0.0.1", "node_version": "0.1.0"}

    status, body = http_get(node.url("/eigen/node/services"))
    assert status == 200
    services = json.loads(body)["services"]
    statuses = {service["id"]: service["status"] for service in services}
    # Without a BLS key or a chain the node cannot attest: it says so, and serves retrieval.
    assert statuses == {"api": "Up", "store": "Up", "dispersal": "Down"}
    assert http_get(node.url("/eigen/node/health"))[0] == 206
    for service in services:
        assert set(service) == {"id", "name", "description", "status"}
        assert service["status"] in ("Up", "Down", "Initializing")
        expected = {"Up": 200, "Initializing": 206, "Down": 503}[service["status"]]
        assert http_get(node.url(f"/eigen/node/services/{service['id']}/health"))[0] == expected

    assert http_get(node.url("/eigen/node/services/no-such-service/health"))[0] == 404


@pytest.mark.parametrize(
    "path",
    [
        "/eigen/node",
        "/eigen/node/health",
        "/eigen/node/services",
        "/eigen/node/services/api/health",
    ],
)
def test_daemon_version_parameter_rule(
    tmp_path: Path, node_factory: NodeFactory, path: str
) -> None:
    node = node_factory(node_config(tmp_path))
    node.wait_ready()
    status, body = http_get(node.url(f"{path}?version=v9.9.9"))
    assert (status, json.loads(body)) == (404, {"message": "API version not found"})
    # The supported version answers as if no version were given.
    assert http_get(node.url(f"{path}?version=v0.0.1"))[0] == http_get(node.url(path))[0] != 404


def test_daemon_unknown_route_is_json_404(tmp_path: Path, node_factory: NodeFactory) -> None:
    node = node_factory(node_config(tmp_path))
    node.wait_ready()
    status, body = http_get(node.url("/no/such/route"))
    assert status == 404
    assert json.loads(body)["error"] == "not_found"


def _scrape(node: NodeProcess) -> str:
    status, body = http_get(node.metrics_url())
    assert status == 200
    return body.decode()


def test_daemon_metrics_exposes_spec_and_own_metrics(
    tmp_path: Path, node_factory: NodeFactory
) -> None:
    node = node_factory(node_config(tmp_path))
    node.wait_ready()
    http_get(node.url("/eigen/node"))
    families = {f.name: f for f in text_string_to_metric_families(_scrape(node))}

    for name, kind in SPEC_METRICS.items():
        assert families[name].type == kind, name
    score = families["eigen_performance_score"].samples
    # Two of three services are up (dispersal is down without a key and a chain).
    assert [(s.labels, round(s.value, 3)) for s in score] == [
        ({"avs_name": "data-availability"}, 66.667)
    ]

    own = {name for name in families if not name.startswith(("eigen_", "process_", "python_"))}
    assert own, "the node exports metrics of its own"
    assert all(name.startswith("operator_node_") for name in own), own
    requests = families["operator_node_http_requests"].samples
    assert any(
        s.labels == {"route": "/eigen/node", "method": "GET", "status": "200"} and s.value >= 1
        for s in requests
    )
    assert "process_resident_memory_bytes" in {s.name for f in families.values() for s in f.samples}
    # Every retrieval outcome is there from the start, at 0, so rates read 0, not nothing.
    # (This node has no key, so no StoreChunks route: see the keyed node's test for those.)
    served = {
        s.labels["outcome"]: s.value
        for s in families["operator_node_retrieval_requests"].samples
        if s.name.endswith("_total")
    }
    assert served == dict.fromkeys(("ok", "malformed", "error", "not_found", "rate_limited"), 0)
    backends = {
        s.labels["component"]: s.labels["backend"]
        for s in families["operator_node_backend_info"].samples
        if s.value == 1
    }
    assert backends["erasure"] in ("gfni", "avx2", "ssse3", "scalar", "reedsolo")
    assert backends["bn254"] in ("native", "python")
    assert backends["keccak"] in ("avx512", "avx2", "scalar", "pycryptodome")


def test_daemon_metrics_pass_promtool(tmp_path: Path, node_factory: NodeFactory) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip(
            "promtool not installed (Debian package 'prometheus'; `make test` installs it "
            "when apt is available)"
        )
    node = node_factory(node_config(tmp_path))
    node.wait_ready()
    http_get(node.url("/eigen/node/services"))
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=_scrape(node),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_daemon_signal_stops_cleanly(
    tmp_path: Path, node_factory: NodeFactory, signum: int
) -> None:
    node = node_factory(node_config(tmp_path))
    node.wait_ready()
    started = time.monotonic()
    node.signal(signum)
    assert node.wait_exit(timeout=10) == 0
    assert time.monotonic() - started < 10
    events = [json.loads(line)["event"] for line in node.log().splitlines() if line.startswith("{")]
    order = [events.index(e) for e in ("signal_received", "node_stopping", "node_stopped")]
    assert order == sorted(order) and events[-1] == "node_stopped", events
    with pytest.raises(OSError):
        http_get(node.url("/eigen/node"), timeout=1)


def test_daemon_second_sigterm_and_sigkill_leave_node_restartable(
    tmp_path: Path, node_factory: NodeFactory
) -> None:
    sections = node_config(tmp_path)
    node = node_factory(sections)
    node.wait_ready()
    node.signal(signal.SIGTERM)
    node.signal(signal.SIGTERM)
    assert node.wait_exit(timeout=10) == 0

    again = node_factory(sections, name="again")
    again.wait_ready()
    again.proc.kill()
    again.wait_exit()

    third = node_factory(sections, name="third")
    third.wait_ready()
    assert http_get(third.url("/eigen/node/services/store/health"))[0] == 200


def test_daemon_port_in_use_exits_one_with_clear_message(
    tmp_path: Path, node_factory: NodeFactory
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        node = node_factory(node_config(tmp_path, api={"port": port}))
        assert node.wait_exit(timeout=20) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in node.log()


def test_daemon_speaks_systemd_notify_protocol(tmp_path: Path, node_factory: NodeFactory) -> None:
    notify_path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(notify_path))
        notify.settimeout(15)
        env = {"NOTIFY_SOCKET": str(notify_path), "WATCHDOG_USEC": "200000"}
        node = node_factory(node_config(tmp_path), env=env)

        assert notify.recv(4096) == b"READY=1"
        # A listening socket is part of READY's promise.
        assert http_get(node.url("/eigen/node"))[0] == 200
        assert notify.recv(4096) == b"WATCHDOG=1"
        assert notify.recv(4096) == b"WATCHDOG=1"

        node.signal(signal.SIGTERM)
        messages = set()
        while b"STOPPING=1" not in messages:
            messages.add(notify.recv(4096))
        assert node.wait_exit() == 0


def test_daemon_without_notify_socket_runs_normally(
    tmp_path: Path, node_factory: NodeFactory
) -> None:
    node = node_factory(node_config(tmp_path), env={"WATCHDOG_USEC": "100000"})
    node.wait_ready()
    node.signal(signal.SIGTERM)
    assert node.wait_exit() == 0


def test_daemon_metrics_can_be_disabled(tmp_path: Path, node_factory: NodeFactory) -> None:
    sections = node_config(tmp_path, metrics={"enabled": False})
    node = node_factory(sections)
    node.wait_ready()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", sections["metrics"]["port"])) != 0
