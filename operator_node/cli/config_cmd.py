"""``operator-node config check``: validate a config file exactly as ``run`` would, and stop.

This module only declares the arguments; :mod:`operator_node.cli.config_impl` does the work.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from operator_node.cli.lazy import LazyHandler


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``config`` and its ``check`` subcommand."""
    parser = subparsers.add_parser("config", help="inspect configuration")
    actions = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check",
        help="validate a config file (and OPERATOR_NODE__* overrides) without starting",
        description="Exit 0 if the configuration is valid, 2 with every problem listed if not.",
    )
    check.add_argument("--config", "-c", type=Path, required=True, help="path to the TOML config")
    check.set_defaults(handler=LazyHandler("operator_node.cli.config_impl", "check"))
