"""``operator-node store check`` and ``store repair``: the audit and the repair, run once, with
the node stopped (the store is one process's at a time).

``check`` reads every stored batch again and checks each chunk against its blob's commitment
(and the store's index against itself); ``--quarantine`` takes the damaged batches out, keeping
copies of their segment files, so that the node's repair rebuilds them. ``repair`` runs one pass
of the repair: the confirmed batches this node should hold and does not, rebuilt from its peers.

This module only declares the arguments; :mod:`operator_node.cli.store_impl` does the work.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from operator_node.cli.lazy import LazyHandler
from operator_node.cli.output import add_json_flag

_IMPL = "operator_node.cli.store_impl"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``store check`` and ``store repair``."""
    store = subparsers.add_parser(
        "store", help="audit or repair this node's chunk store (with the node stopped)"
    )
    commands = store.add_subparsers(dest="store_command", required=True, metavar="COMMAND")
    check = commands.add_parser(
        "check",
        help="check every stored chunk against its blob's commitment; exit 1 if any fails",
    )
    check.add_argument("--config", "-c", type=Path, required=True)
    check.add_argument(
        "--quarantine",
        action="store_true",
        help="take the damaged batches out (copies of their segment files are kept under "
        "quarantine/), for the repair to rebuild from peers",
    )
    add_json_flag(check)
    check.set_defaults(handler=LazyHandler(_IMPL, "check"))
    repair = commands.add_parser(
        "repair",
        help="rebuild from peers, once, the confirmed batches this node should hold and lacks",
    )
    repair.add_argument("--config", "-c", type=Path, required=True)
    add_json_flag(repair)
    repair.set_defaults(handler=LazyHandler(_IMPL, "repair"))
