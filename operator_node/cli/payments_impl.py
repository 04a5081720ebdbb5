"""What ``operator-node payments ...`` does (arguments in ``cli.payments``)."""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from web3.contract import AsyncContract

from operator_node.chain.writer import ChainWriter, tx_hash_of
from operator_node.cli.chain_impl import chain_config, load_account
from operator_node.cli.chain_session import open_connection, run_session
from operator_node.cli.output import UsageError, print_json, wants_json
from operator_node.payments.vault import (
    GlobalParams,
    Reservation,
    deposit_on_demand,
    find_vault,
    read_deposit,
    read_global_params,
    read_reservation,
    remove_reservation,
    set_global_params,
    set_reservation,
    splits_for,
)

_RELATIVE = re.compile(r"^\+(\d+)([smhd]?)$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def show(args: argparse.Namespace) -> int:
    """Print the global parameters and, with ``--account``, its reservation and deposit."""
    config = chain_config(args)
    connection = open_connection(config)

    async def work() -> int:
        reader = await connection.get_reader()
        vault = await find_vault(reader.contracts, args.vault)
        params = await read_global_params(vault)
        document: dict[str, Any] = {"vault": vault.address, "global": params.describe()}
        if args.account:
            account = reader.w3.to_checksum_address(args.account)
            reservation = await read_reservation(vault, account)
            document["account"] = {
                "address": account,
                "reservation": _reservation_document(reservation, time.time()),
                "on_demand_deposit_wei": str(await read_deposit(vault, account)),
            }
        if wants_json(args):
            print_json(document)
        else:
            _print_document(document)
        return 0

    return run_session(connection, work)


def set_reservation_cmd(args: argparse.Namespace) -> int:
    """``setReservation`` from the configured key; prints the transaction."""
    start = _timestamp(args.start, now=int(time.time()))
    end = _timestamp(args.end, now=start)
    if len(args.splits or args.quorums) != len(args.quorums):
        raise UsageError("--splits needs one percentage per quorum of --quorums")
    reservation = Reservation(
        args.symbols_per_second, start, end, args.quorums, splits_for(args.quorums, args.splits)
    )

    async def send(writer: ChainWriter, vault: AsyncContract, account: str) -> str:
        receipt = await set_reservation(writer, vault, account, reservation)
        return (
            f"reservation of {account}: {reservation.symbols_per_second} symbols/s "
            f"({reservation.bytes_per_second()} bytes/s) on quorums {list(reservation.quorums)} "
            f"split {list(reservation.splits)}, {_when(start)} to {_when(end)} "
            f"(tx {tx_hash_of(receipt)})"
        )

    return _send_to_vault(args, send)


def remove_reservation_cmd(args: argparse.Namespace) -> int:
    """``removeReservation`` from the configured key; prints the transaction."""

    async def send(writer: ChainWriter, vault: AsyncContract, account: str) -> str:
        receipt = await remove_reservation(writer, vault, account)
        return f"reservation of {account} removed (tx {tx_hash_of(receipt)})"

    return _send_to_vault(args, send)


def deposit(args: argparse.Namespace) -> int:
    """``depositOnDemand`` from the configured key; prints the transaction and the total."""

    async def send(writer: ChainWriter, vault: AsyncContract, account: str) -> str:
        receipt = await deposit_on_demand(writer, vault, account, args.amount)
        total = await read_deposit(vault, account)
        return (
            f"deposited {args.amount} wei for {account}; its on-demand deposit is {total} wei "
            f"(tx {tx_hash_of(receipt)})"
        )

    return _send_to_vault(args, send)


def set_params(args: argparse.Namespace) -> int:
    """``setGlobalParams`` from the configured key; prints the transaction."""
    params = GlobalParams(
        args.min_symbols,
        args.price,
        args.reservation_period,
        args.on_demand_rate,
        args.on_demand_burst,
        tuple(args.on_demand_quorums),
    )

    async def send(writer: ChainWriter, vault: AsyncContract, account: str) -> str:
        receipt = await set_global_params(writer, vault, params)
        return f"global parameters set: {params.describe()} (tx {tx_hash_of(receipt)})"

    return _send_to_vault(args, send)


def _send_to_vault(
    args: argparse.Namespace,
    send: Callable[[ChainWriter, AsyncContract, str], Awaitable[str]],
) -> int:
    """Open a session with the configured key, find the vault, run ``send`` (with ``--account``
    checksummed, where the command has one) and print what it says; returns the exit code."""
    config = chain_config(args)
    connection = open_connection(config, load_account(config))

    async def work() -> int:
        writer = await connection.get_writer()
        vault = await find_vault(writer.reader.contracts, args.vault)
        account = getattr(args, "account", None)
        address = writer.reader.w3.to_checksum_address(account) if account else ""
        print(await send(writer, vault, address))
        return 0

    return run_session(connection, work)


def _timestamp(text: str, *, now: int) -> int:
    """Unix seconds from "now", "+N[s|m|h|d]" (after ``now``) or a number."""
    if text == "now":
        return now
    relative = _RELATIVE.match(text)
    if relative:
        return now + int(relative.group(1)) * _SECONDS[relative.group(2)]
    if text.isdigit():
        return int(text)
    raise UsageError(f"a time is now, +N[s|m|h|d] or Unix seconds, not {text!r}")


def _when(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _reservation_document(reservation: Reservation, now: float) -> dict[str, Any] | None:
    if not reservation.exists:
        return None
    return {**reservation.describe(), "active": reservation.active(now)}


def _print_document(document: dict[str, Any]) -> None:
    print(f"{'payment vault:':<26} {document['vault']}")
    for key, value in document["global"].items():
        print(f"{key.replace('_', ' ') + ':':<26} {value}")
    account = document.get("account")
    if account is None:
        return
    print(f"{'account:':<26} {account['address']}")
    reservation = account["reservation"]
    if reservation is None:
        print(f"{'reservation:':<26} none")
    else:
        state = "active" if reservation["active"] else "not active now"
        print(
            f"{'reservation:':<26} {reservation['symbols_per_second']} symbols/s "
            f"({reservation['bytes_per_second']} bytes/s), quorums {reservation['quorums']} "
            f"split {reservation['splits']}, {_when(reservation['start'])} to "
            f"{_when(reservation['end'])} ({state})"
        )
    print(f"{'on-demand deposit:':<26} {account['on_demand_deposit_wei']} wei")
