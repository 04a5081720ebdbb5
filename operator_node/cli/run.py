"""``operator-node run``: build every part of the node from the config and run it.

This module only declares the arguments; :mod:`operator_node.cli.run_impl` does the work.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from operator_node.cli.lazy import LazyHandler


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``run`` subcommand."""
    parser = subparsers.add_parser(
        "run",
        help="run the operator node daemon",
        description="Run the node until SIGTERM or SIGINT. Exit 0 after an orderly stop, "
        "2 on a configuration error, 1 on a runtime failure.",
    )
    parser.add_argument("--config", "-c", type=Path, required=True, help="path to the TOML config")
    parser.set_defaults(handler=LazyHandler("operator_node.cli.run_impl", "run_daemon"))
