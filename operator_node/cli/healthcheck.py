"""``operator-node healthcheck``: is the node on this host healthy? For container health checks.

It reads the node's configuration for the API port (so it follows ``[api] port`` and its
``OPERATOR_NODE__API__PORT`` override, never a port written into the image) and asks
``/eigen/node/health``. Exit 0 only for 200 (every service Up); 1 for anything else, saying why:
206 (a service Down or still starting, e.g. the chain, so the node is not attesting), 503, no
answer, or a configuration that does not load. Docker reserves exit 2, so none is used.

This module only declares the arguments; :mod:`operator_node.cli.healthcheck_impl` does the work.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from operator_node.cli.lazy import LazyHandler


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``healthcheck`` subcommand."""
    parser = subparsers.add_parser(
        "healthcheck",
        help="exit 0 if the node on this host is healthy, 1 (saying why) if not",
        description="Ask the node at the configured [api] port for /eigen/node/health. Exit 0 "
        "for 200; 1 for 206 (a service Down or starting, e.g. the chain), 503, no answer or an "
        "unreadable configuration. For Docker's HEALTHCHECK and other probes.",
    )
    parser.add_argument("--config", "-c", type=Path, required=True, help="path to the TOML config")
    parser.add_argument(
        "--timeout", type=float, default=3.0, help="seconds to wait for an answer (default 3)"
    )
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="exit 0 for 206 too (a node that serves retrieval but does not attest)",
    )
    parser.set_defaults(handler=LazyHandler("operator_node.cli.healthcheck_impl", "healthcheck"))
