"""The alert rules and the scrape configuration: promtool's checks and unit tests
(monitoring/alerts_test.yml), and what every alert must carry for the person it wakes up."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.monitoring_kit import KIT, alert_rules

SEVERITIES = {"critical", "warning"}


def _promtool() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip(
            "promtool not installed (Debian package 'prometheus'; `make test` installs it "
            "when apt is available)"
        )
    return promtool


def _run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_promtool(), *args], cwd=KIT, capture_output=True, text=True, timeout=60, check=False
    )


def test_rules_pass_promtool_check() -> None:
    result = _run_promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_rules_pass_their_promtool_unit_tests() -> None:
    result = _run_promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rules_unit_tests_fail_when_an_alert_changes(tmp_path: Path) -> None:
    # The unit tests hold the rules: a threshold moved breaks them.
    rules = (KIT / "alerts.yml").read_text()
    assert rules.count("< 0.1\n") == 1
    (tmp_path / "alerts.yml").write_text(rules.replace("< 0.1\n", "< 0.01\n"))
    shutil.copyfile(KIT / "alerts_test.yml", tmp_path / "alerts_test.yml")
    result = subprocess.run(
        [_promtool(), "test", "rules", "alerts_test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "OperatorNodeStoreNearlyFull" in result.stdout + result.stderr


def test_scrape_config_passes_promtool_check() -> None:
    result = _run_promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout


def test_rules_every_alert_says_how_bad_what_and_what_to_check() -> None:
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)), names
    for rule in rules:
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert "{{ $labels.instance }}" in rule["annotations"]["summary"], rule["alert"]
        description = rule["annotations"]["description"]
        assert len(description) > 150, (rule["alert"], description)
        assert 'job="operator-node"' in rule["expr"], rule["alert"]


def _unit_tests() -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = yaml.safe_load((KIT / "alerts_test.yml").read_text())["tests"]
    return tests


def test_rules_every_alert_is_tested_firing_and_silent() -> None:
    fired: set[str] = set()
    silent: set[str] = set()
    for case in _unit_tests():
        for check in case["alert_rule_test"]:
            (fired if check["exp_alerts"] else silent).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - fired == set(), "alerts never tested firing"
    assert names - silent == set(), "alerts never tested staying silent"
