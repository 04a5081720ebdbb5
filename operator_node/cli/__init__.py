"""The ``operator-node`` command line: the one place that builds and wires the node's parts.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``, which registers an
argparse parser and sets ``handler`` to a function ``(argparse.Namespace) -> int``. Exit codes:
0 ok, 2 usage or configuration error, 1 runtime failure. Commands that take ``--json`` print one
JSON document on stdout, failures included (:mod:`operator_node.cli.output`), usage errors too.

The command modules import only the standard library and :mod:`operator_node.cli.lazy`, so
building the parser, ``--help``, ``version`` and usage errors take milliseconds. Where a command
needs web3, the keystores, aiohttp or the store, its handler is a
:class:`~operator_node.cli.lazy.LazyHandler` naming the ``*_impl`` module that does the work,
imported only when that command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import typing
from collections.abc import Sequence

from operator_node import __version__
from operator_node.cli import (
    chain,
    client,
    config_cmd,
    devnet,
    healthcheck,
    keys,
    payments,
    run,
    store,
    version,
)
from operator_node.cli.output import UsageError, print_error_json, wants_json
from operator_node.errors import ConfigError, OperatorNodeError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

_COMMAND_MODULES = (
    run, chain, client, devnet, config_cmd, keys, payments, store, healthcheck, version,
)  # fmt: skip


class _ArgumentsRefused(Exception):
    """argparse refused the command line; raised instead of exiting so that ``--json`` can
    report it as a JSON document too."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser (its subcommands' parsers too) whose usage errors reach ``main``."""

    def error(self, message: str) -> typing.NoReturn:
        raise _ArgumentsRefused(self, message)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    parser = _Parser(
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
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except _ArgumentsRefused as refused:
        refused.parser.print_usage(sys.stderr)
        prefix = f"{refused.parser.prog}: error: "
        return _fail(prefix, refused.message, EXIT_USAGE, json_output="--json" in argv)
    json_output = wants_json(args)
    try:
        code: int = args.handler(args)
    except ConfigError as exc:
        return _fail("operator-node: configuration error: ", str(exc), EXIT_USAGE, json_output)
    except UsageError as exc:
        return _fail("operator-node: ", str(exc), EXIT_USAGE, json_output)
    except OperatorNodeError as exc:
        return _fail("operator-node: error: ", str(exc), EXIT_FAILURE, json_output)
    except KeyboardInterrupt:
        return _fail("operator-node: ", "interrupted", 130, json_output)
    except BrokenPipeError:
        # The reader went away (`operator-node config show | head`): stop quietly, and keep
        # Python from complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a shell reports a process killed by SIGPIPE
    return code


def _fail(prefix: str, message: str, code: int, json_output: bool) -> int:
    """Say why on stderr (and, with ``--json``, as the JSON document on stdout); return ``code``."""
    print(prefix + message, file=sys.stderr)
    if json_output:
        print_error_json(message, code)
    return code
