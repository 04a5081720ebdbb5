"""``operator-node keys``: create, import, list and show operator keys.

Files use eigenlayer-cli's names and formats (``<name>.bls.key.json``, ``<name>.ecdsa.key.json``;
see :mod:`operator_node.crypto.keystore`) in ``--dir``, by default eigenlayer-cli's own
``~/.eigenlayer/operator_keys``, so keys made by either tool work in the other.

This module only declares the arguments; :mod:`operator_node.cli.keys_impl` does the work.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from operator_node.cli.lazy import LazyHandler
from operator_node.cli.output import add_json_flag

PASSWORD_ENV = "OPERATOR_NODE_KEY_PASSWORD"  # noqa: S105 - the variable's name, not a password
DEFAULT_KEYS_DIR = Path("~/.eigenlayer/operator_keys")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_IMPL = "operator_node.cli.keys_impl"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``keys`` and its ``create``, ``import``, ``list`` and ``show`` actions."""
    parser = subparsers.add_parser("keys", help="create, import, list and show operator keys")
    actions = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="generate a new key and encrypt it to a file")
    _add_key_arguments(create)
    create.set_defaults(handler=LazyHandler(_IMPL, "create"))
    imp = actions.add_parser("import", help="encrypt an existing secret key to a file")
    _add_key_arguments(imp)
    imp.add_argument(
        "--secret-file",
        type=Path,
        required=True,
        help="file holding the secret: BLS as decimal or 0x-hex, ECDSA as hex",
    )
    imp.set_defaults(handler=LazyHandler(_IMPL, "import_key"))
    listing = actions.add_parser("list", help="list the keys in a directory (no password needed)")
    _add_dir_argument(listing)
    add_json_flag(listing)
    listing.set_defaults(handler=LazyHandler(_IMPL, "list_keys"))
    show = actions.add_parser("show", help="show one key's public data")
    show.add_argument("name", type=_key_name, help="key name")
    show.add_argument("--type", choices=("bls", "ecdsa"), help="only this type of key")
    show.add_argument(
        "--decrypt",
        action="store_true",
        help="also decrypt the key (asks for the password) to check it; prints the BLS G2 key",
    )
    _add_dir_argument(show)
    _add_password_arguments(show)
    add_json_flag(show)
    show.set_defaults(handler=LazyHandler(_IMPL, "show"))


def _add_key_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--type", choices=("bls", "ecdsa"), required=True, help="key type")
    parser.add_argument("--name", type=_key_name, required=True, help="key name (file prefix)")
    _add_dir_argument(parser)
    _add_password_arguments(parser)


def _add_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        type=Path,
        default=DEFAULT_KEYS_DIR,
        help=f"key directory (default {DEFAULT_KEYS_DIR})",
    )


def _add_password_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-file",
        type=Path,
        help=f"file holding the password (else ${PASSWORD_ENV}, else a prompt)",
    )
    parser.add_argument(
        "--allow-insecure-permissions",
        action="store_true",
        help="read key, secret and password files even if group or others can access them",
    )


def _key_name(text: str) -> str:
    if not _NAME_RE.fullmatch(text):
        raise argparse.ArgumentTypeError(
            "a key name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return text
