"""The ``operator-node`` command line: the one place that builds and wires the node's parts.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``, which registers an
argparse parser and sets ``handler`` to a function ``(argparse.Namespace) -> int``. Exit codes:
0 ok, 2 usage or configuration error, 1 runtime failure.

The command modules import only the standard library and :mod:`operator_node.cli.lazy`, so
building the parser, ``--help``, ``version`` and usage errors take milliseconds. Where a command
needs web3, the keystores, aiohttp or the store, its handler is a
:class:`~operator_node.cli.lazy.LazyHandler` naming the ``*_impl`` module that does the work,
imported only when that command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from operator_node import __version__
from operator_node.cli import chain, client, config_cmd, devnet, keys, run, version
from operator_node.errors import ConfigError, OperatorNodeError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

_COMMAND_MODULES = (run, chain, client, devnet, config_cmd, keys, version)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="operator-node",
        description="EigenLayer operator node for an EigenDA-style data-availability AVS.",
    )
    parser.add_argument("--version", action="version", version=f"operator-node {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _COMMAND_MODULES:
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except ConfigError as exc:
        print(f"operator-node: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OperatorNodeError as exc:
        print(f"operator-node: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    return code
