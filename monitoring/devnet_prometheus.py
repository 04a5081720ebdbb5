"""Run a real Prometheus server, with this folder's rules, against a running devnet's nodes.

The devnet (``operator-node devnet --dir DIR``) picks free ports each time it starts and writes
them, once its nodes are up, to ``DIR/devnet.json``. This script reads that file and writes a
copy of the kit to ``DIR/monitoring`` (or ``--out``):

- ``prometheus.yml``: this folder's, with ``--interval`` as scrape and evaluation interval when
  given (a short one shows a change within seconds);
- ``alerts.yml``: this folder's rules, unchanged;
- ``targets/devnet.json``: one target per node, its ``instance`` label the operator's name
  (``operator-0``, ...) so series keep their names across devnet restarts, with ``operator_id``.

Then it replaces itself with ``prometheus`` (the local binary, Debian package ``prometheus``)
serving that configuration in the foreground until Ctrl-C, its data under the same folder. With
``--config-only`` it stops after writing, for monitoring/compose.yml or a server already
running: Prometheus re-reads the targets file by itself when it changes.

Exit status 2, with what to do, when devnet.json or the prometheus binary is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

KIT = Path(__file__).resolve().parent
JOB = "operator-node"


class SetupError(Exception):
    """What is missing to run Prometheus against the devnet, and how to get it."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description="Run a real Prometheus server with the operator-node alert rules against "
        "the nodes of a running devnet (operator-node devnet --dir DIR)."
    )
    parser.add_argument(
        "--devnet-dir",
        type=Path,
        default=Path("devnet-data"),
        help="the devnet's --dir, holding devnet.json (default devnet-data)",
    )
    parser.add_argument(
        "--out", type=Path, help="where to write the configuration (default DEVNET_DIR/monitoring)"
    )
    parser.add_argument(
        "--listen",
        default="127.0.0.1:9090",
        help="Prometheus's web address, host:port (default 127.0.0.1:9090)",
    )
    parser.add_argument(
        "--interval",
        help="scrape and rule evaluation interval, a Prometheus duration such as 5s "
        "(default: prometheus.yml's)",
    )
    parser.add_argument(
        "--config-only", action="store_true", help="write the configuration and exit"
    )
    parser.add_argument("--prometheus", help="the prometheus binary (default: prometheus on PATH)")
    return parser.parse_args(argv)


def load_devnet_targets(devnet_dir: Path) -> list[dict[str, Any]]:
    """File-based service discovery entries for each node listed in ``devnet_dir/devnet.json``.

    Raises :class:`SetupError` when the file is missing or lists no node.
    """
    described = devnet_dir / "devnet.json"
    if not described.is_file():
        raise SetupError(
            f"no devnet.json under {devnet_dir}: start the devnet with "
            f"`operator-node devnet --dir {devnet_dir}` (it writes the file once its nodes are "
            "up), or pass its directory with --devnet-dir"
        )
    operators = json.loads(described.read_text()).get("operators", [])
    if not operators:
        raise SetupError(f"{described} lists no node")
    return [_target(operator) for operator in operators]


def _target(operator: dict[str, Any]) -> dict[str, Any]:
    url = urlsplit(operator["metrics"])
    return {
        "targets": [url.netloc],
        "labels": {
            "instance": operator["name"],
            "operator_id": operator["operator_id"],
            "__metrics_path__": url.path or "/metrics",
        },
    }


def render_config(interval: str | None) -> str:
    """This folder's prometheus.yml, with ``interval`` as scrape and evaluation interval (the
    scrape timeout no longer than it) when given."""
    source = (KIT / "prometheus.yml").read_text()
    if interval is None:
        return source
    config = yaml.safe_load(source)
    config["global"].update(
        scrape_interval=interval, scrape_timeout=interval, evaluation_interval=interval
    )
    header = f"# Generated from monitoring/prometheus.yml with a {interval} interval.\n"
    return header + yaml.safe_dump(config, sort_keys=False)


def write_kit(out: Path, targets: list[dict[str, Any]], interval: str | None) -> Path:
    """Write the configuration, the rules and the targets under ``out``; returns the config."""
    (out / "targets").mkdir(parents=True, exist_ok=True)
    config = out / "prometheus.yml"
    config.write_text(render_config(interval))
    shutil.copyfile(KIT / "alerts.yml", out / "alerts.yml")
    # Written whole then renamed: Prometheus watches the file and must never read half of it.
    staged = out / "targets" / ".devnet.json.tmp"
    staged.write_text(json.dumps(targets, indent=2) + "\n")
    staged.replace(out / "targets" / "devnet.json")
    return config


def find_prometheus(explicit: str | None) -> str:
    """The prometheus binary to run; raises :class:`SetupError` when there is none."""
    binary = explicit or shutil.which("prometheus")
    if binary is None or not os.access(binary, os.X_OK):
        raise SetupError(
            "no prometheus binary: install the Debian package prometheus (`make monitoring` "
            "does, as root), pass --prometheus, or use monitoring/compose.yml with --config-only"
        )
    return binary


def prometheus_argv(binary: str, config: Path, out: Path, listen: str) -> list[str]:
    """The command line serving ``config`` on ``listen`` with its data under ``out/data``."""
    return [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={out / 'data'}",
        f"--web.listen-address={listen}",
        "--storage.tsdb.retention.time=2d",
    ]


def main(argv: list[str]) -> int:
    """Write the kit for the devnet, then become Prometheus (unless --config-only)."""
    args = parse_args(argv)
    out = (args.out or args.devnet_dir / "monitoring").resolve()
    try:
        targets = load_devnet_targets(args.devnet_dir)
        binary = None if args.config_only else find_prometheus(args.prometheus)
    except SetupError as exc:
        print(f"devnet_prometheus: {exc}", file=sys.stderr)
        return 2
    config = write_kit(out, targets, args.interval)
    names = ", ".join(t["labels"]["instance"] for t in targets)
    print(f"devnet_prometheus: {len(targets)} targets ({names}) written under {out}", flush=True)
    if binary is None:
        return 0
    print(f"devnet_prometheus: Prometheus on http://{args.listen} (Ctrl-C stops it)", flush=True)
    # Replaced, not a child: signals reach Prometheus itself and nothing of ours is left to run.
    os.execv(binary, prometheus_argv(binary, config, out, args.listen))  # noqa: S606 fixed argv


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
