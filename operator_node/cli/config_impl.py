"""What ``operator-node config check`` does (its arguments are in ``cli.config_cmd``)."""

from __future__ import annotations

import argparse

from operator_node.config import load_config


def check(args: argparse.Namespace) -> int:
    """Load ``--config`` exactly as ``run`` would and print a one-line summary; returns 0.

    Raises ConfigError, listing every problem, when the configuration is invalid.
    """
    config = load_config(args.config)
    print(
        f"{args.config}: configuration is valid (node {config.node.name!r}, "
        f"api {config.api.host}:{config.api.port}, data_dir {config.node.data_dir})"
    )
    return 0
