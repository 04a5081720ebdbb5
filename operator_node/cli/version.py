"""``operator-node version``."""

from __future__ import annotations

import argparse
import platform

from operator_node import __version__


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``version`` subcommand."""
    parser = subparsers.add_parser("version", help="print the version and exit")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    print(f"operator-node {__version__} (Python {platform.python_version()})")
    return 0
