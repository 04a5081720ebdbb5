"""``operator-node config check`` and ``config show``.

``check`` validates a config exactly as ``run`` would and then checks the files it names (the
keystores and their password files: present, readable, private, and decryptable when a
password is given), so that a config that passes here is not one ``run`` refuses. ``show``
prints the effective configuration — file, ``OPERATOR_NODE__*`` overrides and defaults — with
credentials in RPC URLs redacted.

This module only declares the arguments; :mod:`operator_node.cli.config_impl` does the work.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from operator_node.cli.lazy import LazyHandler
from operator_node.cli.output import add_json_flag

_IMPL = "operator_node.cli.config_impl"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``config`` and its ``check`` and ``show`` subcommands."""
    parser = subparsers.add_parser("config", help="inspect configuration")
    actions = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check",
        help="validate a config file (and OPERATOR_NODE__* overrides) and the key files it "
        "names, without starting",
        description="Exit 0 if the configuration is valid and its keystores and password files "
        "are present, private and decrypt; 2 with every problem listed, one per line, if not. "
        "Decrypting a keystore takes about a second (scrypt).",
    )
    check.add_argument("--config", "-c", type=Path, required=True, help="path to the TOML config")
    add_json_flag(check)
    check.set_defaults(handler=LazyHandler(_IMPL, "check"))
    show = actions.add_parser(
        "show",
        help="print the effective configuration (file + environment + defaults), redacted",
        description="Print every key as the node would use it, in TOML (or JSON with --json). "
        "Credentials in URLs are replaced by REDACTED: the user:password part, every query "
        "parameter's value, and any path segment that looks like an API key (16 or more "
        "letters, digits, '-' or '_' including a digit, or 32 or more of them).",
    )
    show.add_argument("--config", "-c", type=Path, required=True, help="path to the TOML config")
    add_json_flag(show)
    show.set_defaults(handler=LazyHandler(_IMPL, "show"))
