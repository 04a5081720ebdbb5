"""``operator-node payments``: the AVS's payment vault — reservations and on-demand deposits.

``show`` reads the global prices and limits and, with ``--account``, that account's reservation
and deposit. ``set-reservation``, ``remove-reservation`` and ``set-params`` are for the AVS's
owner (the registry coordinator's owner, whose key is ``[keys] ecdsa_keystore``); ``deposit``
is for anyone. Each prints the hash of the transaction it sent. The vault is the one the service
manager names (``paymentVault()``) unless ``--vault`` gives another.

This module only declares the arguments; :mod:`operator_node.cli.payments_impl` does the work.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from operator_node.cli.lazy import LazyHandler
from operator_node.cli.output import add_json_flag

_IMPL = "operator_node.cli.payments_impl"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``payments`` and its subcommands."""
    payments = subparsers.add_parser(
        "payments", help="the AVS's payment vault: reservations and on-demand deposits"
    )
    commands = payments.add_subparsers(dest="payments_command", required=True)
    show = commands.add_parser("show", help="global prices and limits, and an account's standing")
    _common(show)
    show.add_argument("--account", help="also show this account's reservation and deposit")
    add_json_flag(show)
    show.set_defaults(handler=LazyHandler(_IMPL, "show"))

    reserve = commands.add_parser(
        "set-reservation", help="give an account a reservation (the AVS's owner)"
    )
    _common(reserve)
    reserve.add_argument("--account", required=True, help="the paying account (0x address)")
    reserve.add_argument(
        "--symbols-per-second", type=_positive, required=True, help="rate (a symbol is 32 bytes)"
    )
    reserve.add_argument("--start", default="now", help="Unix seconds, or now (default)")
    reserve.add_argument("--end", default="+30d", help="Unix seconds, or +N[s|m|h|d] from start")
    reserve.add_argument("--quorums", type=_numbers, required=True, help="e.g. 0,1")
    reserve.add_argument(
        "--splits", type=_numbers, help="percent per quorum, summing to 100 (default: even)"
    )
    reserve.set_defaults(handler=LazyHandler(_IMPL, "set_reservation_cmd"))

    remove = commands.add_parser(
        "remove-reservation", help="take an account's reservation away (the AVS's owner)"
    )
    _common(remove)
    remove.add_argument("--account", required=True, help="the account (0x address)")
    remove.set_defaults(handler=LazyHandler(_IMPL, "remove_reservation_cmd"))

    deposit = commands.add_parser("deposit", help="add to an account's on-demand deposit")
    _common(deposit)
    deposit.add_argument("--account", required=True, help="the account paid for (0x address)")
    deposit.add_argument(
        "--amount", type=_amount, required=True, help="wei, or with a unit: 0.1eth, 5gwei"
    )
    deposit.set_defaults(handler=LazyHandler(_IMPL, "deposit"))

    params = commands.add_parser(
        "set-params", help="set the global prices and limits (the AVS's owner)"
    )
    _common(params)
    params.add_argument("--min-symbols", type=_positive, required=True, help="billed at least")
    params.add_argument("--price", type=_amount, required=True, help="per symbol: wei or 1gwei")
    params.add_argument(
        "--reservation-period", type=_positive, required=True, help="seconds a client may burst"
    )
    params.add_argument(
        "--on-demand-rate", type=int, required=True, help="network-wide on-demand symbols/s"
    )
    params.add_argument(
        "--on-demand-burst", type=int, required=True, help="seconds of that rate at once"
    )
    params.add_argument("--on-demand-quorums", type=_numbers, default=(), help="e.g. 0")
    params.set_defaults(handler=LazyHandler(_IMPL, "set_params"))


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, required=True, help="configuration file (TOML)")
    parser.add_argument("--vault", help="the payment vault (default: the service manager's)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0 or value >= 2**64:
        raise argparse.ArgumentTypeError(f"must be 1..2^64-1, got {text!r}")
    return value


def _numbers(text: str) -> tuple[int, ...]:
    try:
        numbers = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not numbers or any(not 0 <= n < 256 for n in numbers):
        raise argparse.ArgumentTypeError(f"numbers are 0..255, got {text!r}")
    return numbers


_UNITS = {"wei": 1, "gwei": 10**9, "eth": 10**18}


def _amount(text: str) -> int:
    """Wei: a whole number, or a decimal with a unit (0.1eth, 5gwei)."""
    lowered = text.strip().lower()
    unit = next((u for u in ("gwei", "eth", "wei") if lowered.endswith(u)), "")
    number, scale = lowered[: len(lowered) - len(unit)], _UNITS.get(unit, 1)
    whole, _, fraction = number.partition(".")
    if not (whole or fraction) or not (whole + fraction).isdigit():
        raise argparse.ArgumentTypeError(f"not an amount: {text!r} (wei, or e.g. 0.1eth, 5gwei)")
    digits = len(str(scale)) - 1
    if len(fraction) > digits:
        raise argparse.ArgumentTypeError(f"{text!r} is finer than one wei")
    return int(whole or "0") * scale + int((fraction or "0").ljust(digits, "0") or "0")
