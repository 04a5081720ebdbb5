"""Packaging: the systemd unit verifies, and the Dockerfile ships what the Makefile tests."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "operator-node.service"


def test_packaging_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # verify insists that ExecStart exists: point it at this checkout's entry point, same arguments.
    entry = Path(sys.executable).with_name("operator-node")
    unit = tmp_path / "operator-node.service"
    unit.write_text(UNIT.read_text().replace("/opt/operator-node/bin/operator-node", str(entry)))
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""


def test_packaging_systemd_unit_has_required_hardening() -> None:
    text = UNIT.read_text()
    for directive in (
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "StateDirectory=",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "ReadWritePaths=",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service",
        "User=operator-node",
        "RestartPreventExitStatus=2",  # a bad config exits 2: no restart loop every 5 s
    ):
        assert directive in text, directive
    # ProcSubset=pid hides /proc/stat, and the process collector's metrics with it.
    assert "\nProcSubset=pid" not in text


def test_packaging_bad_config_exits_with_the_status_the_unit_does_not_restart(
    tmp_path: Path,
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[node]\nnot_a_key = 1\n")
    entry = Path(sys.executable).with_name("operator-node")
    result = subprocess.run(
        [str(entry), "run", "--config", str(config)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2, result.stderr
    assert "RestartPreventExitStatus=2" in UNIT.read_text()


def test_packaging_docker_build_context_leaves_out_local_state() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    for path in (".venv", "node_modules", "build", ".make", ".git"):
        assert path in ignored, path


def test_packaging_systemd_unit_security_exposure_is_low(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    result = subprocess.run(
        [analyze, "security", "--offline=yes", str(UNIT)],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0


def test_packaging_dockerfile_matches_what_is_tested() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert text.count("FROM ") >= 2, "multi-stage"
    for needle in (
        "USER 10001:10001",
        "VOLUME",
        "EXPOSE 32004 32005 9091",
        "HEALTHCHECK",
        "/eigen/node/health",
        "STOPSIGNAL SIGTERM",
        "pip wheel",
        "COPY pyproject.toml",
    ):
        assert needle in text, needle
    # The ports the image exposes are the ports its baked-in config listens on.
    docker_config = (REPO / "config" / "docker.toml").read_text()
    assert "port = 32005" in docker_config and "port = 9091" in docker_config
    # Every file the build copies exists.
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.MULTILINE):
        for name in source.split():
            assert (REPO / name).exists(), name


def test_packaging_wheel_builds_with_entry_point(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    wheels = list(tmp_path.glob("operator_node-*.whl"))
    assert len(wheels) == 1
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = wheel.namelist()
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "operator-node = operator_node.cli:main" in wheel.read(entry_points).decode()
        assert "operator_node/config.py" in names
