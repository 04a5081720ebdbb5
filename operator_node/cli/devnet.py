"""``operator-node devnet``: a local chain with N operators, M of them running a node, a blob
dispersed and retrieved.

This module only declares the arguments; :mod:`operator_node.cli.devnet_impl` does the work.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from operator_node.cli.lazy import LazyHandler


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``devnet``."""
    parser = subparsers.add_parser(
        "devnet",
        help="run a local devnet: anvil, contracts, N operator nodes, a blob dispersed and "
        "retrieved",
        description="Start anvil, deploy the contracts, register N operators with different "
        "stakes, start their nodes, disperse a sample blob, stop one node, retrieve the blob "
        "from the others and compare. Then keep running until Ctrl-C (or exit with --once). "
        "With --nodes below --operators, the other operators are registered with heavy-tailed "
        "stakes but run no node (a scale devnet: --operators 250 --nodes 4).",
    )
    parser.add_argument(
        "--operators",
        type=int,
        default=4,
        help="operators registered on chain, running a node or not (default 4)",
    )
    parser.add_argument(
        "--nodes",
        type=int,
        help="how many of them run a node (1-8; default all of them, when they are 8 at most); "
        "the others hold stake and refuse connections",
    )
    parser.add_argument(
        "--stake-alpha",
        type=float,
        help="stake profile S_i ~ 1/i^alpha, the nodes on top (default 1.5 when some operators "
        "run no node; otherwise stakes are 10, 20, 30, ... tokens)",
    )
    parser.add_argument(
        "--top-stake",
        type=int,
        help="whole tokens of the largest operator's stake in that profile (default 100000)",
    )
    parser.add_argument(
        "--registration",
        choices=("m2", "operator_sets"),
        default="m2",
        help="how operators join the quorum: m2 (at the registry coordinator, as EigenDA) or "
        "operator_sets (allocate half their stake to an operator set counting slashable stake, "
        "then register through EigenLayer's AllocationManager); default m2",
    )
    parser.add_argument("--once", action="store_true", help="exit after the demonstration")
    parser.add_argument("--dir", type=Path, help="where to keep keys, configs, data and logs")
    parser.add_argument("--blob-size", type=int, default=1 << 20, help="sample blob bytes")
    parser.add_argument(
        "--k",
        type=int,
        default=None,
        help="chunks needed to rebuild (default: the code and k chosen from the operator state)",
    )
    parser.set_defaults(handler=LazyHandler("operator_node.cli.devnet_impl", "run_devnet"))
