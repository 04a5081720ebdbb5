"""``operator-node register``, ``deregister``, ``allocate``, ``update-socket`` and ``status``: the
operator's on-chain registration and allocations.

Keys come from ``[keys]``: the ECDSA keystore signs transactions and the AVS consent, the BLS
keystore proves possession of the BLS key. Their passwords come from ``keys.*_password_file`` or
the environment variables ``OPERATOR_NODE_ECDSA_KEY_PASSWORD`` / ``OPERATOR_NODE_BLS_KEY_PASSWORD``
— never from the command line. ``register`` reads the chain first and does only what is missing,
so running it again says "already registered" and sends nothing. Every command that writes to the
chain prints the hash of each transaction it sent, or says that it sent none. ``deregister`` asks
for confirmation on a terminal; ``--yes`` skips the question, and without a terminal it is
required.

This module only declares the arguments; :mod:`operator_node.cli.chain_impl` does the work.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from operator_node.cli.lazy import LazyHandler
from operator_node.cli.output import add_json_flag

_IMPL = "operator_node.cli.chain_impl"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``register``, ``deregister``, ``allocate``, ``update-socket`` and ``status``
    subcommands."""
    register = subparsers.add_parser(
        "register", help="register the operator with EigenLayer and the AVS (idempotent)"
    )
    _common(register)
    register.add_argument("--metadata-uri", default="", help="operator metadata URI")
    register.add_argument(
        "--mode",
        choices=("auto", "m2", "operator_sets"),
        help="how to join the quorums (default: [chain] registration)",
    )
    register.add_argument(
        "--allocation-delay",
        type=_non_negative_int,
        help="allocation delay in blocks for a new operator (default: [chain] allocation_delay)",
    )
    register.add_argument(
        "--magnitude",
        action="append",
        type=_parse_magnitude,
        metavar="QUORUM=MAGNITUDE",
        help="magnitude (out of 1e18) to allocate to a slashable quorum's operator set; "
        "repeat per quorum (default: [chain] allocation_magnitudes)",
    )
    register.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        help="wait up to this long for allocations to take effect, then register "
        "(default: say at which block they do, and stop)",
    )
    register.add_argument(
        "--allow-zero-stake",
        action="store_true",
        help="register in an operator-set quorum even with zero stake there",
    )
    register.set_defaults(handler=LazyHandler(_IMPL, "register"))
    leave = subparsers.add_parser(
        "deregister",
        help="leave the AVS's quorums (asks for confirmation)",
        description="Leave --quorums (default: all the operator's quorums). On a terminal it "
        "shows the operator and the quorums and asks before sending; --yes skips the question "
        "and is required when there is no terminal (exit 2 otherwise, nothing sent).",
    )
    _common(leave)
    leave.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    leave.set_defaults(handler=LazyHandler(_IMPL, "deregister"))
    allocate = subparsers.add_parser(
        "allocate",
        help="set the magnitude allocated to a quorum's operator set (asks for confirmation)",
        description="Set this operator's magnitude (out of 1e18) in every strategy of quorum "
        "--quorum's operator set. More takes effect after the operator's allocation delay; "
        "less takes effect DEALLOCATION_DELAY + 1 blocks later while the operator is slashable "
        "by the set (registered, or left less than DEALLOCATION_DELAY blocks ago), at once "
        "otherwise. Shows before and after and asks; --yes skips the question.",
    )
    allocate.add_argument("--config", type=Path, required=True, help="configuration file (TOML)")
    allocate.add_argument("--quorum", type=_quorum, required=True, help="quorum number")
    allocate.add_argument(
        "--magnitude", type=_magnitude, required=True, help="out of 1e18 (e.g. 5e17); 0 frees it"
    )
    allocate.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    allocate.set_defaults(handler=LazyHandler(_IMPL, "allocate"))
    socket = subparsers.add_parser(
        "update-socket",
        help="set the on-chain socket to the configured one (sends nothing if it matches)",
    )
    socket.add_argument("--config", type=Path, required=True, help="configuration file (TOML)")
    socket.set_defaults(handler=LazyHandler(_IMPL, "update_socket"))
    status = subparsers.add_parser("status", help="show the operator's on-chain registration")
    status.add_argument("--config", type=Path, required=True, help="configuration file (TOML)")
    status.add_argument("--address", help="operator address (default: the ECDSA keystore's)")
    add_json_flag(status)
    status.set_defaults(handler=LazyHandler(_IMPL, "status"))


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, required=True, help="configuration file (TOML)")
    parser.add_argument(
        "--quorums",
        type=_parse_quorums,
        help="comma-separated quorum numbers (default: [chain] quorums; deregister: all)",
    )


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be 0..4294967295, got {text!r}")
    return value


def _parse_magnitude(text: str) -> tuple[int, int]:
    quorum, _, magnitude = text.partition("=")
    return _quorum(quorum), _magnitude(magnitude)


def _quorum(text: str) -> int:
    try:
        quorum = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a quorum number: {text!r}") from None
    if not 0 <= quorum < 192:
        raise argparse.ArgumentTypeError(f"quorum numbers are 0..191, got {text!r}")
    return quorum


def _magnitude(text: str) -> int:
    """A magnitude out of 1e18, written whole (500000000000000000) or as 5e17."""
    try:
        mantissa, _, exponent = text.lower().partition("e")
        if exponent:
            whole, _, fraction = mantissa.partition(".")
            digits = int(exponent) - len(fraction)
            value = int(whole + fraction) * 10**digits if digits >= 0 else -1
        else:
            value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a magnitude: {text!r}") from None
    if not 0 <= value <= 10**18:
        raise argparse.ArgumentTypeError(
            f"a magnitude is a whole number 0..1000000000000000000 (1e18), got {text!r}"
        )
    return value


def _parse_quorums(text: str) -> tuple[int, ...]:
    try:
        quorums = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of quorum numbers: {text!r}") from None
    if not quorums or any(not 0 <= q < 192 for q in quorums):
        raise argparse.ArgumentTypeError(f"quorum numbers are 0..191, got {text!r}")
    return quorums
