"""The kit's parts that need no server: the PromQL tokenizer the name checks rely on, the
dashboard's shape, and the devnet script's output and refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.monitoring_kit import (
    DASHBOARD,
    KIT,
    dashboard,
    dashboard_panels,
    dashboard_queries,
    fill_dashboard_variables,
    kit_queries,
    label_names,
    label_values_matched,
    metric_names,
)

SCRIPT = KIT / "devnet_prometheus.py"


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'histogram_quantile(0.99, sum by (le, stage) (rate(a_seconds_bucket{job="x",'
            'stage=~"b|c"}[5m])))',
            {"a_seconds_bucket"},
        ),
        ("sum(rate(b_total[$__rate_interval])) by (le) > 0.5", {"b_total"}),
        (
            "x / on (job, instance) group_left sum by (job) (y) > bool 1e3 and z offset 5m",
            {"x", "y", "z"},
        ),
        ('label_replace(w, "dst", "$1 up", "src", "(.*)")', {"w"}),
        ("time() - last_seen_seconds", {"last_seen_seconds"}),
        (
            '{__name__="by_name", outcome!~"ok|stopping"} unless ignoring(kind) c:rule',
            {"by_name", "c:rule"},
        ),
        ("changes(h[10m:1m]) == 0 or absent(nan_count) or vector(Inf)", {"h", "nan_count"}),
    ],
)
def test_tokenizer_finds_exactly_the_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_tokenizer_finds_labels_and_matched_values() -> None:
    expr = 'sum by (instance, kind) (rate(e{job="j", outcome=~"a|b"}[5m])) / on (job) f{x!~"c"}'
    assert label_names(expr) == {"instance", "kind", "job", "outcome", "x"}
    assert label_values_matched(expr, "outcome") == {"a", "b"}
    assert label_values_matched(expr, "x") == {"c"}


def test_kit_every_query_names_a_metric() -> None:
    for query in kit_queries():
        assert metric_names(query.expr), query


def test_dashboard_panels_are_complete_and_use_the_chosen_source() -> None:
    board = dashboard()
    assert board["uid"] == "operator-node"
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["instance"]["allValue"] == ".*"
    for panel in dashboard_panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel
        assert panel["targets"], panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for target in panel["targets"]:
            selector = 'job="$job", instance=~"$instance"'
            assert selector in target["expr"], (panel["title"], target["expr"])
            fill_dashboard_variables(target["expr"])  # no variable the tests do not know


def test_dashboard_covers_what_an_operator_watches() -> None:
    used = set().union(*(metric_names(q.expr) for q in dashboard_queries()))
    expected = {
        "up",
        "operator_node_signing_rate",
        "operator_node_batches_confirmed_total",
        "operator_node_batches_signed_total",
        "operator_node_batches_missed_total",
        "eigen_performance_score",
        "operator_node_store_chunks_requests_total",
        "operator_node_store_chunks_stage_seconds_bucket",
        "operator_node_stored_bytes_total",
        "operator_node_stored_blobs_total",
        "operator_node_store_used_bytes",
        "operator_node_store_free_bytes",
        "operator_node_retrieval_requests_total",
        "operator_node_retrieval_bytes_total",
        "operator_node_chain_head_age_seconds",
        "eigen_rpc_request_total",
        "operator_node_rpc_errors_total",
        "eigen_rpc_request_duration_seconds_bucket",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
    }
    assert expected - used == set()


def _devnet_json(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    operators = [
        {"name": f"operator-{i}", "operator_id": f"0x{i:064x}", "metrics": url}
        for i, url in enumerate(
            ["http://127.0.0.1:41001/metrics", "http://127.0.0.1:41002/custom/path"]
        )
    ]
    (root / "devnet.json").write_text(json.dumps({"operators": operators}))


def _run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_devnet_script_writes_targets_rules_and_a_shorter_interval(tmp_path: Path) -> None:
    _devnet_json(tmp_path)
    result = _run_script("--devnet-dir", str(tmp_path), "--interval", "2s", "--config-only")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "monitoring"
    targets = json.loads((out / "targets" / "devnet.json").read_text())
    assert targets == [
        {
            "targets": ["127.0.0.1:41001"],
            "labels": {
                "instance": "operator-0",
                "operator_id": f"0x{0:064x}",
                "__metrics_path__": "/metrics",
            },
        },
        {
            "targets": ["127.0.0.1:41002"],
            "labels": {
                "instance": "operator-1",
                "operator_id": f"0x{1:064x}",
                "__metrics_path__": "/custom/path",
            },
        },
    ]
    config = yaml.safe_load((out / "prometheus.yml").read_text())
    assert config["global"]["scrape_interval"] == "2s"
    assert config["global"]["evaluation_interval"] == "2s"
    assert config["global"]["scrape_timeout"] == "2s"
    assert config["rule_files"] == ["alerts.yml"]
    assert (out / "alerts.yml").read_text() == (KIT / "alerts.yml").read_text()
    assert "2 targets (operator-0, operator-1)" in result.stdout


def test_devnet_script_keeps_the_kit_config_without_interval(tmp_path: Path) -> None:
    _devnet_json(tmp_path)
    out = tmp_path / "elsewhere"
    result = _run_script("--devnet-dir", str(tmp_path), "--out", str(out), "--config-only")
    assert result.returncode == 0, result.stderr
    assert (out / "prometheus.yml").read_text() == (KIT / "prometheus.yml").read_text()


def test_devnet_script_refuses_without_a_devnet(tmp_path: Path) -> None:
    result = _run_script("--devnet-dir", str(tmp_path), "--config-only")
    assert result.returncode == 2
    assert f"no devnet.json under {tmp_path}" in result.stderr
    assert "operator-node devnet --dir" in result.stderr
    assert not (tmp_path / "monitoring").exists()


def test_devnet_script_refuses_without_prometheus(tmp_path: Path) -> None:
    _devnet_json(tmp_path)
    result = _run_script("--devnet-dir", str(tmp_path), "--prometheus", str(tmp_path / "none"))
    assert result.returncode == 2
    assert "no prometheus binary" in result.stderr


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((KIT / "compose.yml").read_text())
    return loaded


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Bind mounts of a compose service: source (as written) to target."""
    mounts = {}
    for volume in service["volumes"]:
        source, _, target = volume.removesuffix(":ro").removesuffix(":rw").rpartition(":")
        if source.startswith((".", "$")):
            mounts[source] = target
    return mounts


def test_compose_pins_images_and_mounts_what_the_kit_holds() -> None:
    services = _compose()["services"]
    for service in services.values():
        image, _, tag = service["image"].partition(":")
        assert tag and tag != "latest" and any(c.isdigit() for c in tag), image
    prometheus, grafana = services["prometheus"], services["grafana"]
    kit_mount = _mounts(prometheus)["${MONITORING_DIR:-.}"]
    assert f"--config.file={kit_mount}/prometheus.yml" in prometheus["command"]
    listen = next(a for a in prometheus["command"] if a.startswith("--web.listen-address="))
    mounts = _mounts(grafana)
    for source in mounts:
        assert (KIT / source).is_dir(), source
    provisioning = KIT / "grafana" / "provisioning"
    provider = yaml.safe_load((provisioning / "dashboards" / "operator-node.yml").read_text())
    dashboards = mounts["./grafana/dashboards"]
    assert provider["providers"][0]["options"]["path"] == dashboards
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{dashboards}/{DASHBOARD.name}"
    source = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    assert source["datasources"][0]["url"] == "http://" + listen.split("=", 1)[1]
