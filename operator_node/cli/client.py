"""``operator-node disperse`` and ``operator-node retrieve``: the client side, from a config.

Both read ``[chain]`` from the config; ``disperse`` also needs ``[keys] ecdsa_keystore``, the
key of an allowed disperser (it signs the requests and sends ``confirmBatch``). ``disperse``
exits 1 when any operator did not sign, even if the batch was confirmed, unless
``--accept-partial``; both draw a byte progress bar on stderr when it is a terminal.

This module only declares the arguments; :mod:`operator_node.cli.client_impl` does the work.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from operator_node.cli.lazy import LazyHandler
from operator_node.cli.output import add_json_flag

_IMPL = "operator_node.cli.client_impl"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``disperse`` and ``retrieve``."""
    disperse = subparsers.add_parser(
        "disperse", help="disperse a file to the registered operators and confirm it on chain"
    )
    disperse.add_argument("file", type=Path, help="the blob to disperse")
    disperse.add_argument("--config", "-c", type=Path, required=True)
    disperse.add_argument("--quorums", default="0", help="comma-separated quorum numbers")
    disperse.add_argument(
        "--k",
        type=int,
        default=None,
        help="chunks needed to rebuild (default: chosen from the operator state with the code)",
    )
    disperse.add_argument("--adversary", type=int, default=25, help="adversary threshold, %%")
    disperse.add_argument("--confirmation", type=int, default=50, help="confirmation threshold, %%")
    disperse.add_argument(
        "--accept-partial",
        action="store_true",
        help="exit 0 when the batch is confirmed although some operators did not sign "
        "(default: exit 1 and say which and why)",
    )
    disperse.add_argument(
        "--account",
        type=Path,
        default=None,
        metavar="KEYSTORE",
        help="the keystore of the account that pays for the blob (its reservation, or its "
        "on-demand deposit, in the AVS's payment vault); its password from "
        "--account-password-file or OPERATOR_NODE_ACCOUNT_KEY_PASSWORD. Without it the blob "
        "carries no payment, which nodes that meter payments refuse",
    )
    disperse.add_argument("--account-password-file", type=Path, default=None, metavar="FILE")
    disperse.add_argument(
        "--payment",
        choices=("reservation", "on-demand"),
        default="reservation",
        help="how the account pays (default: reservation)",
    )
    disperse.add_argument(
        "--max-payment-wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long to wait, in all, for operators that answer 429 because the account's "
        "reservation (or the on-demand rate) is used up (default 60)",
    )
    add_json_flag(disperse)
    disperse.set_defaults(handler=LazyHandler(_IMPL, "disperse"))

    retrieve = subparsers.add_parser("retrieve", help="rebuild a dispersed blob from the operators")
    retrieve.add_argument("batch_header_hash", help="0x-prefixed batch header hash")
    retrieve.add_argument("blob_index", type=int)
    retrieve.add_argument("--output", "-o", type=Path, required=True, help="file to write")
    retrieve.add_argument("--config", "-c", type=Path, required=True)
    add_json_flag(retrieve)
    retrieve.set_defaults(handler=LazyHandler(_IMPL, "retrieve"))
