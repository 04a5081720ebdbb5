"""The monitoring kit against the real thing: a devnet (anvil, the contracts, two registered
operator daemons) that has dispersed and retrieved a blob, scraped by a real Prometheus server
that monitoring/devnet_prometheus.py starts with the kit's configuration and rules.

Claims: every metric and label the alerts and the dashboard use is one a real node exports, and
every StoreChunks outcome the alerts name is one it reports; Prometheus finds every node up,
loads and evaluates every rule without error, answers every dashboard query with data and every
alert expression without error; a request a node refuses at its own limit fires
OperatorNodeRefusingAtLimits within seconds, for that node only; a node that stops shows as down
at the next scrape and its OperatorNodeDown alert goes pending.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from support.daemon import http_get
from support.monitoring_kit import (
    JOB,
    KIT,
    PROMETHEUS_SERIES,
    TARGET_LABELS,
    alert_queries,
    alert_rules,
    dashboard_queries,
    exported_labels,
    exported_names,
    fill_dashboard_variables,
    kit_queries,
    label_names,
    label_values_matched,
    metric_names,
)

from operator_node.api.dispersal import STORE_CHUNKS_PATH
from operator_node.client.disperser import Disperser
from operator_node.client.retriever import Retriever
from operator_node.devnet.network import Devnet, DevnetOperator
from operator_node.devnet.ports import free_port

pytestmark = pytest.mark.slow

SCRAPE_INTERVAL = 1.0  # seconds; also the rules' evaluation interval
STORE_CHUNKS = "operator_node_store_chunks_requests_total"


async def _disperse_and_retrieve(devnet: Devnet) -> None:
    """One blob through every node and back, so the per-request series have samples."""
    data = os.urandom(200_000)
    connection = devnet.connect(devnet.disperser)
    try:
        result = await Disperser(connection, devnet.disperser, payer=devnet.payer).disperse(data)
    finally:
        await connection.close()
    reader = devnet.connect()
    try:
        blob = await Retriever(reader).retrieve(result.batch_header_hash, result.blob_index)
    finally:
        await reader.close()
    assert blob.data == data


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """Two operator nodes that have served a dispersal and a retrieval."""
    net = Devnet(tmp_path_factory.mktemp("devnet"), stakes=(10, 20))
    try:
        asyncio.run(net.start())
        asyncio.run(_disperse_and_retrieve(net))
        yield net
    finally:
        net.stop()


def _scrape(devnet: Devnet) -> list[list[Metric]]:
    """Each node's exposition, parsed."""
    expositions = []
    for operator in devnet.operators:
        status, body = http_get(f"http://127.0.0.1:{operator.metrics_port}/metrics")
        assert status == 200
        expositions.append(list(text_string_to_metric_families(body.decode())))
    return expositions


@dataclass
class PrometheusServer:
    """The Prometheus process devnet_prometheus.py became, and its HTTP API."""

    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; the ``data`` of a successful answer."""
        query = urllib.parse.urlencode(params)
        status, body = http_get(f"{self.url}/api/v1/{path}?{query}")
        reply = json.loads(body)
        assert status == 200 and reply["status"] == "success", (path, params, reply)
        return reply["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result vector (or scalar, as a one-element list)."""
        data = self.api("query", query=expr)
        result: list[dict[str, Any]] = (
            data["result"] if data["resultType"] == "vector" else [{"value": data["result"]}]
        )
        return result

    def log(self) -> str:
        """What Prometheus wrote so far."""
        return self.log_path.read_text(errors="replace")


def _wait_for(
    what: str, check: Callable[[], bool], server: PrometheusServer, timeout: float
) -> float:
    """Poll ``check`` until true; returns the seconds it took, fails with the server's log."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if server.proc.poll() is not None:
            raise AssertionError(
                f"prometheus exited with {server.proc.returncode}:\n{server.log()}"
            )
        if check():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"{what} not within {timeout} s:\n{server.log()[-3000:]}")


def _ready(server: PrometheusServer) -> bool:
    try:
        return http_get(f"{server.url}/-/ready", timeout=1.0)[0] == 200
    except OSError:
        return False


def _all_up(server: PrometheusServer, count: int) -> bool:
    samples = server.query(f'up{{job="{JOB}"}}')
    return len(samples) == count and all(s["value"][1] == "1" for s in samples)


def _scraped_thrice(server: PrometheusServer, count: int) -> bool:
    """Every node scraped three times at least: enough samples for rate() and increase()."""
    samples = server.query(f'count_over_time(up{{job="{JOB}"}}[1m]) >= 3')
    return len(samples) == count


def _rules_evaluated(server: PrometheusServer) -> bool:
    rules = [r for g in server.api("rules")["groups"] for r in g["rules"]]
    return bool(rules) and all(r["health"] != "unknown" for r in rules)


@pytest.fixture(scope="module")
def prometheus(devnet: Devnet) -> Iterator[PrometheusServer]:
    """A real Prometheus scraping the devnet's nodes every second, started by the kit's script,
    with every node scraped up three times and every rule evaluated at least once."""
    if shutil.which("prometheus") is None:
        pytest.skip("prometheus not installed (Debian package 'prometheus', as `make test` does)")
    port = free_port()
    log_path = devnet.root / "prometheus.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(KIT / "devnet_prometheus.py"),
                "--devnet-dir",
                str(devnet.root),
                "--listen",
                f"127.0.0.1:{port}",
                "--interval",
                f"{SCRAPE_INTERVAL:g}s",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = PrometheusServer(proc, f"http://127.0.0.1:{port}", log_path)
    try:
        _wait_for("Prometheus ready", lambda: _ready(server), server, 15)
        count = len(devnet.operators)
        _wait_for("every node scraped up", lambda: _all_up(server, count), server, 10)
        _wait_for("three scrapes", lambda: _scraped_thrice(server, count), server, 10)
        _wait_for("every rule evaluated", lambda: _rules_evaluated(server), server, 10)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_kit_uses_only_metrics_a_node_exports(devnet: Devnet) -> None:
    for families in _scrape(devnet):
        exported = exported_names(families) | PROMETHEUS_SERIES
        missing = {
            query.origin: sorted(metric_names(query.expr) - exported) for query in kit_queries()
        }
        assert {origin: names for origin, names in missing.items() if names} == {}


def test_kit_uses_only_labels_a_node_exports(devnet: Devnet) -> None:
    for families in _scrape(devnet):
        exported = exported_labels(families) | TARGET_LABELS
        missing = {
            query.origin: sorted(label_names(query.expr) - exported) for query in kit_queries()
        }
        assert {origin: labels for origin, labels in missing.items() if labels} == {}


def test_kit_names_only_store_chunks_outcomes_a_node_reports(devnet: Devnet) -> None:
    named = set().union(*(label_values_matched(q.expr, "outcome") for q in alert_queries()))
    assert {"too_large", "store_full", "overloaded"} <= named
    for families in _scrape(devnet):
        family = next(f for f in families if f.name + "_total" == STORE_CHUNKS)
        reported = {s.labels["outcome"] for s in family.samples}
        assert named - reported == set()


def test_prometheus_scrapes_every_node_up(devnet: Devnet, prometheus: PrometheusServer) -> None:
    targets = prometheus.api("targets", state="active")["activeTargets"]
    assert {t["labels"]["instance"] for t in targets} == {op.name for op in devnet.operators}
    assert all(t["health"] == "up" and t["lastError"] == "" for t in targets), targets
    up = {s["metric"]["instance"]: s["value"][1] for s in prometheus.query(f'up{{job="{JOB}"}}')}
    assert up == dict.fromkeys((op.name for op in devnet.operators), "1")


def test_prometheus_loads_and_evaluates_every_rule(prometheus: PrometheusServer) -> None:
    groups = prometheus.api("rules")["groups"]
    loaded = {rule["name"]: rule for group in groups for rule in group["rules"]}
    assert set(loaded) == {rule["alert"] for rule in alert_rules()}
    for name, rule in loaded.items():
        assert (rule["health"], rule.get("lastError", "")) == ("ok", ""), name


def test_prometheus_answers_every_dashboard_query_with_data(
    prometheus: PrometheusServer,
) -> None:
    empty = [
        query.origin
        for query in dashboard_queries()
        if not prometheus.query(fill_dashboard_variables(query.expr, rate_interval="1m"))
    ]
    assert not empty, "queries without data:\n" + "\n".join(empty)


def test_prometheus_evaluates_every_alert_expression(prometheus: PrometheusServer) -> None:
    for query in alert_queries():
        prometheus.query(query.expr)  # fails on an error status


def _refuse_as_too_large(operator: DevnetOperator) -> int:
    """Announce a StoreChunks body far over any request limit to ``operator``'s dispersal
    port (read from the socket it registered, ``host:port`` or ``host:dispersal;api``); the
    node refuses it before reading a byte. Returns the HTTP status."""
    host, ports = operator.socket.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(ports.split(";")[0]), timeout=10)
    try:
        connection.putrequest("POST", STORE_CHUNKS_PATH)
        connection.putheader("Content-Length", str(1 << 40))
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


def _alert_state(server: PrometheusServer, name: str, **labels: str) -> str | None:
    """The state of the alert ``name`` whose labels include ``labels`` (None when absent)."""
    for alert in server.api("alerts")["alerts"]:
        wanted = {"alertname": name, **labels}
        if wanted.items() <= alert["labels"].items():
            state: str = alert["state"]
            return state
    return None


def test_prometheus_fires_an_alert_for_a_refusal_at_the_nodes_limit(
    devnet: Devnet, prometheus: PrometheusServer
) -> None:
    operator = devnet.operators[1]
    assert _refuse_as_too_large(operator) == 413
    took = _wait_for(
        "OperatorNodeRefusingAtLimits firing",
        lambda: (
            _alert_state(
                prometheus,
                "OperatorNodeRefusingAtLimits",
                instance=operator.name,
                outcome="too_large",
            )
            == "firing"
        ),
        prometheus,
        5 * SCRAPE_INTERVAL,
    )
    print(f"refusal alert firing after {took:.2f} s")
    others = [op.name for op in devnet.operators if op is not operator]
    for name in others:
        assert _alert_state(prometheus, "OperatorNodeRefusingAtLimits", instance=name) is None


def test_prometheus_sees_a_stopped_node_down_at_the_next_scrape(
    devnet: Devnet, prometheus: PrometheusServer
) -> None:
    victim = devnet.operators[0]
    devnet.stop_node(victim)
    try:
        took = _wait_for(
            "the stopped node scraped down",
            lambda: prometheus.query(f'up{{job="{JOB}",instance="{victim.name}"}} == 0') != [],
            prometheus,
            3 * SCRAPE_INTERVAL,
        )
        print(f"stopped node seen down after {took:.2f} s")
        _wait_for(
            "OperatorNodeDown pending",
            lambda: _alert_state(prometheus, "OperatorNodeDown", instance=victim.name) == "pending",
            prometheus,
            3 * SCRAPE_INTERVAL,
        )
        others = prometheus.query(f'up{{job="{JOB}",instance!="{victim.name}"}} == 1')
        assert len(others) == len(devnet.operators) - 1
    finally:
        devnet.start_node(victim)
        devnet.wait_ready(victim)
