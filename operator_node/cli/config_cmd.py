"""``operator-node config check``: validate a config file exactly as ``run`` would, and stop."""

from __future__ import annotations

import argparse
from pathlib import Path

from operator_node.config import load_config


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
    check.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    print(
        f"{args.config}: configuration is valid (node {config.node.name!r}, "
        f"api {config.api.host}:{config.api.port}, data_dir {config.node.data_dir})"
    )
    return 0
