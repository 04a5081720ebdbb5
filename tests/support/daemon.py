"""Run the real daemon as a subprocess on free loopback ports, and talk to it over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from operator_node.devnet.ports import free_port


def toml_value(value: Any) -> str:
    """Render a Python value as a TOML value (enough for our configs)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    """Write ``sections`` as a TOML file at ``path``."""
    lines: list[str] = []
    for name, table in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in table.items())
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def node_config(tmp_path: Path, **overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A minimal config on free loopback ports (StoreChunks on a port of its own, as by default)
    with data under ``tmp_path``; sections merged."""
    sections: dict[str, dict[str, Any]] = {
        "node": {"name": "test-node", "data_dir": str(tmp_path / "data"), "log_format": "json"},
        "api": {
            "host": "127.0.0.1",
            "port": free_port(),
            "dispersal_port": free_port(),
            "shutdown_grace": 5.0,
        },
        "metrics": {"host": "127.0.0.1", "port": free_port()},
    }
    for name, table in overrides.items():
        sections.setdefault(name, {}).update(table)
    return sections


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET ``url``; returns (status, body) for any status, raising only on connection errors."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@dataclass
class NodeProcess:
    """One running ``operator-node run`` subprocess."""

    proc: subprocess.Popen[bytes]
    config_path: Path
    api_port: int
    metrics_port: int
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    dispersal_port: int = 0  # [api] dispersal_port: 0 is the API port

    @property
    def store_chunks_port(self) -> int:
        """The port StoreChunks is served on."""
        return self.dispersal_port or self.api_port

    def url(self, path: str) -> str:
        """URL of ``path`` on the API port (retrieval and /eigen)."""
        return f"http://127.0.0.1:{self.api_port}{path}"

    def dispersal_url(self, path: str) -> str:
        """URL of ``path`` on the port StoreChunks is served on."""
        return f"http://127.0.0.1:{self.store_chunks_port}{path}"

    def metrics_url(self) -> str:
        """URL of the Prometheus exposition."""
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Wait until /eigen/node answers; fail with the daemon's log if it exits or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if http_get(self.url("/eigen/node"), timeout=1.0)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"daemon not ready after {timeout} s:\n{self.log()}")

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the daemon."""
        self.proc.send_signal(signum)

    def wait_exit(self, timeout: float = 10.0) -> int:
        """Wait for the daemon to exit; returns its exit code."""
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        """Terminate (then kill) the daemon if it still runs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self) -> str:
        """Everything the daemon wrote to stdout and stderr so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_node(
    tmp_path: Path,
    sections: dict[str, dict[str, Any]],
    *,
    env: dict[str, str] | None = None,
    name: str = "node",
) -> NodeProcess:
    """Write the config and start ``python -m operator_node run`` (not yet waited for)."""
    config_path = write_config(tmp_path / f"{name}.toml", sections)
    log_path = tmp_path / f"{name}.log"
    full_env = {**os.environ, **(env or {})}
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "operator_node", "run", "--config", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=full_env,
        )
    return NodeProcess(
        proc,
        config_path,
        sections["api"]["port"],
        sections["metrics"]["port"],
        log_path,
        env or {},
        sections["api"].get("dispersal_port", 32004),
    )


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m operator_node ARGS`` to completion and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "operator_node", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        input=input_text,
        check=False,
    )


def scrape(url: str) -> dict[str, float]:
    """One scrape of a metrics URL: every sample by name, labels appended as ``{k=v,...}``
    when there are any."""
    status, body = http_get(url)
    assert status == 200, status
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return samples
