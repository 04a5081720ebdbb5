"""What ``operator-node register``, ``deregister``, ``update-socket`` and ``status`` do (arguments
in ``cli.chain``).

Keys come from ``[keys]``: the ECDSA keystore signs transactions and the AVS consent, the BLS
keystore proves possession of the BLS key. Their passwords come from ``keys.*_password_file`` or
the environment variables ``OPERATOR_NODE_ECDSA_KEY_PASSWORD`` / ``OPERATOR_NODE_BLS_KEY_PASSWORD``
— never from the command line. ``register`` reads the chain first and does only what is missing,
so running it again says "already registered" and sends nothing. Each transaction sent is printed
with its hash as soon as it is mined; a command with nothing to do says it sent nothing.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from eth_account.signers.local import LocalAccount

from operator_node.chain.allocations import apply_allocation, plan_allocation
from operator_node.chain.operator_sets import OperatorSets, SetStanding
from operator_node.chain.reader import ZERO_ID, ChainReader, Registration
from operator_node.chain.registration import (
    OperatorSetOptions,
    RegistrationResult,
    ensure_registered,
    ensure_socket,
    leave_quorums,
    plan_deregistration,
)
from operator_node.cli.chain_session import open_connection, run_session
from operator_node.cli.credentials import load_bls_keypair, load_ecdsa_account
from operator_node.cli.output import UsageError, print_json, wants_json
from operator_node.config import Config, load_config
from operator_node.crypto.bls import BlsKeyPair
from operator_node.crypto.keystore import (
    ecdsa_keystore_address,
    read_secret_file,
)
from operator_node.errors import ConfigError


def load_account(config: Config) -> LocalAccount:
    account = load_ecdsa_account(config)
    if account is None:
        raise ConfigError("keys.ecdsa_keystore is required to send transactions")
    return account


def _load_bls(config: Config) -> BlsKeyPair:
    keypair = load_bls_keypair(config)
    if keypair is None:
        raise ConfigError("keys.bls_keystore is required to register")
    return keypair


def chain_config(args: argparse.Namespace) -> Config:
    config = load_config(args.config)
    if not config.chain.rpc_url:
        raise ConfigError(f"{args.config}: chain.rpc_url is empty; nothing to register with")
    return config


def register(args: argparse.Namespace) -> int:
    """Register the operator where it is missing, print the result; returns the exit code."""
    config = chain_config(args)
    account, keypair = load_account(config), _load_bls(config)
    quorums = args.quorums or config.chain.quorums
    options = operator_set_options(config, args)
    connection = open_connection(config, account)

    async def work() -> int:
        writer = await connection.get_writer()
        result = await ensure_registered(
            writer,
            keypair,
            quorums,
            config.advertised_socket,
            metadata_uri=args.metadata_uri,
            mode=args.mode or config.chain.registration,
            options=options,
        )
        _print_registration_steps(result, quorums)
        _print_registration(result.after, config.advertised_socket)
        return 0

    return run_session(connection, work)


def operator_set_options(config: Config, args: argparse.Namespace) -> OperatorSetOptions:
    """The operator-set choices of ``register``: flags over ``[chain]``."""
    chain = config.chain
    magnitudes = dict(zip(chain.quorums, chain.allocation_magnitudes, strict=False))
    magnitudes.update(dict(args.magnitude or ()))
    delay = chain.allocation_delay if args.allocation_delay is None else args.allocation_delay
    return OperatorSetOptions(
        allocation_delay=delay,
        magnitudes=magnitudes,
        wait=args.wait,
        allow_zero_stake=args.allow_zero_stake,
    )


def _print_registration_steps(result: RegistrationResult, quorums: tuple[int, ...]) -> None:
    """One line per transaction ``register`` sent, with its hash; or that it sent none."""
    if result.already_registered:
        print(f"already registered in quorums {list(quorums)}; no transaction sent")
        return
    for step in result.steps:
        print(f"{step.what} (tx {step.tx_hash})")
    if result.waiting_for_block is not None:
        print(
            f"operator-set registration waits for block {result.waiting_for_block}; run "
            "register again from then (or with --wait SECONDS)"
        )


def deregister(args: argparse.Namespace) -> int:
    """Leave ``--quorums`` (default all) after confirmation, print the transaction and the
    registration after; returns the exit code (1 when the question is answered no).

    Raises :class:`UsageError` (exit 2) before anything else when there is no terminal to ask
    on and ``--yes`` was not given.
    """
    config = chain_config(args)
    if not args.yes and not sys.stdin.isatty():
        raise UsageError(
            "deregister asks for confirmation, and there is no terminal to ask on: "
            "pass --yes to deregister without asking (nothing was sent)"
        )
    connection = open_connection(config, load_account(config))

    async def work() -> int:
        writer = await connection.get_writer()
        before = await writer.reader.get_registration(writer.address)
        leaving = plan_deregistration(before, args.quorums)
        if not args.yes and not _confirm_deregistration(before, leaving):
            print("not confirmed; no transaction sent", file=sys.stderr)
            return 1
        for step in await leave_quorums(writer, leaving):
            print(f"{step.what} (tx {step.tx_hash})")
        after = await writer.reader.get_registration(writer.address)
        _print_registration(after, config.advertised_socket)
        return 0

    return run_session(connection, work)


def _confirm_deregistration(reg: Registration, leaving: tuple[int, ...]) -> bool:
    """Show who leaves which quorums and ask on the terminal; True only for "y" or "yes"."""
    staying = sorted(set(reg.quorums) - set(leaving))
    stakes = ", ".join(f"{q}: {reg.stakes.get(q, 0)}" for q in leaving)
    after = f"stays in {staying}" if staying else "will be in no quorum and get no more batches"
    print(
        f"operator {reg.address} (operator id 0x{reg.operator_id.hex()})\n"
        f"leaves quorums {list(leaving)} (stake {stakes}) and {after}",
        file=sys.stderr,
    )
    print("Send the deregistration transaction? [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def allocate(args: argparse.Namespace) -> int:
    """Set the operator's magnitude in a quorum's operator set after confirmation; returns the
    exit code (1 when the question is answered no).

    Raises :class:`UsageError` (exit 2) for an M2 quorum or a deployment without operator sets,
    and without a terminal to ask on when ``--yes`` was not given.
    """
    config = chain_config(args)
    if not args.yes and not sys.stdin.isatty():
        raise UsageError(
            "allocate asks for confirmation, and there is no terminal to ask on: pass --yes "
            "(nothing was sent)"
        )
    connection = open_connection(config, load_account(config))

    async def work() -> int:
        writer = await connection.get_writer()
        plan = await plan_allocation(writer, args.quorum, args.magnitude)
        if plan is None:
            print(
                f"operator set {args.quorum} already has magnitude {args.magnitude}; no "
                "transaction sent"
            )
            return 0
        if not args.yes:
            print(plan.description, file=sys.stderr)
            print("Send the allocation transaction? [y/N] ", end="", file=sys.stderr, flush=True)
            if sys.stdin.readline().strip().lower() not in ("y", "yes"):
                print("not confirmed; no transaction sent", file=sys.stderr)
                return 1
        step = await apply_allocation(writer, plan)
        print(f"{step.what} (tx {step.tx_hash})")
        return 0

    return run_session(connection, work)


def update_socket(args: argparse.Namespace) -> int:
    """Set the on-chain socket to the configured one if they differ; returns the exit code."""
    config = chain_config(args)
    connection = open_connection(config, load_account(config))

    async def work() -> int:
        writer = await connection.get_writer()
        check = await ensure_socket(writer, config.advertised_socket, update=True)
        if check.updated:
            print(
                f"socket updated from {check.onchain or '-'} to {check.configured} "
                f"(tx {check.tx_hash})"
            )
        else:
            print(f"socket on chain is already {check.configured}; no transaction sent")
        return 0

    return run_session(connection, work)


def status(args: argparse.Namespace) -> int:
    """Print the on-chain registration of ``--address`` or the keystore's (as JSON with
    ``--json``); returns the exit code."""
    config = chain_config(args)
    address = args.address
    if address is None:
        path = config.keys.ecdsa_keystore
        if path is None:
            raise ConfigError("give --address or set keys.ecdsa_keystore")
        allow = config.keys.allow_insecure_permissions
        address = ecdsa_keystore_address(read_secret_file(path, allow_insecure_permissions=allow))
    connection = open_connection(config)

    async def work() -> int:
        reader = await connection.get_reader()
        reg = await reader.get_registration(address)
        sets = await read_operator_sets(reader, address, config.chain.quorums, reg.quorums)
        if wants_json(args):
            document = registration_document(reg, config.advertised_socket)
            document["operator_sets"] = sets
            print_json(document)
        else:
            _print_registration(reg, config.advertised_socket)
            _print_operator_sets(sets)
        return 0

    return run_session(connection, work)


async def read_operator_sets(
    reader: ChainReader, address: str, configured: tuple[int, ...], registered: tuple[int, ...]
) -> dict[str, Any] | None:
    """The operator-set side of ``status``: the allocation delay and, per configured or joined
    quorum, its kind and (operator sets) membership, allocations and live weight; None where
    the deployment has no AllocationManager. Magnitudes and stakes are decimal strings."""
    sets = OperatorSets(reader)
    if not sets.available:
        return None
    address = reader.w3.to_checksum_address(address)
    is_set, delay = await sets.allocation_delay(address)
    kinds = await sets.quorum_kinds(sorted(set(configured) | set(registered)))
    quorums: dict[str, Any] = {}
    for q, kind in kinds.items():
        entry: dict[str, Any] = {"kind": kind.kind}
        if kind.operator_set:
            entry.update(_standing_document(await sets.standing(address, kind)))
        quorums[str(q)] = entry
    return {
        "allocation_manager": sets.manager.address,
        "allocation_delay": delay if is_set else None,
        "m2_registration_disabled": await sets.m2_registration_disabled(),
        "quorums": quorums,
    }


def _standing_document(standing: SetStanding) -> dict[str, Any]:
    return {
        "look_ahead": standing.kind.look_ahead,
        "member": standing.member,
        "slashable": standing.slashable,
        "live_weight": str(standing.live_weight),
        "minimum_stake": str(standing.minimum_stake),
        "allocations": [
            {
                "strategy": a.strategy,
                "current": str(a.current),
                "pending": str(a.pending),
                "effect_block": a.effect_block if a.pending else None,
            }
            for a in standing.allocations
        ],
    }


def _print_operator_sets(sets: dict[str, Any] | None) -> None:
    if sets is None:
        return
    delay = sets["allocation_delay"]
    print(f"{'allocation delay:':<20} {'not set' if delay is None else f'{delay} blocks'}")
    for q, entry in sets["quorums"].items():
        if entry["kind"] == "m2":
            print(f"{f'quorum {q}:':<20} M2 quorum")
            continue
        member = "member" if entry["member"] else "not a member"
        if not entry["member"] and entry["slashable"]:
            member += " (still slashable)"
        print(
            f"{f'quorum {q}:':<20} operator set, {entry['kind']} stake, {member}, "
            f"live weight {entry['live_weight']} (minimum {entry['minimum_stake']})"
        )
        if entry["kind"] != "slashable":
            continue  # allocations count only where the quorum weighs slashable stake
        for a in entry["allocations"]:
            pending = ""
            if a["effect_block"] is not None:
                pending = f", {a['pending']} pending until block {a['effect_block']}"
            print(f"{'':<20}   strategy {a['strategy']}: magnitude {a['current']}{pending}")


def registration_document(reg: Registration, configured_socket: str) -> dict[str, Any]:
    """``status --json``: stakes are decimal strings (they exceed what a JSON double holds)."""
    return {
        "operator": reg.address,
        "eigenlayer_operator": reg.is_eigenlayer_operator,
        "operator_id": None if reg.operator_id == ZERO_ID else "0x" + reg.operator_id.hex(),
        "status": reg.status.name.lower(),
        "quorums": list(reg.quorums),
        "stakes": {str(q): str(s) for q, s in sorted(reg.stakes.items())},
        "socket_on_chain": reg.socket,
        "socket_configured": configured_socket,
        "socket_matches": reg.socket == configured_socket,
    }


def _print_registration(reg: Registration, configured_socket: str) -> None:
    operator_id = "-" if reg.operator_id == ZERO_ID else "0x" + reg.operator_id.hex()
    socket_note = "matches config" if reg.socket == configured_socket else "differs from config"
    rows = {
        "operator": reg.address,
        "eigenlayer operator": "yes" if reg.is_eigenlayer_operator else "no",
        "operator id": operator_id,
        "status": reg.status.name.lower(),
        "quorums": ", ".join(map(str, reg.quorums)) or "-",
        "stake": ", ".join(f"{q}: {s}" for q, s in sorted(reg.stakes.items())) or "-",
        "socket (on chain)": f"{reg.socket or '-'} ({socket_note})",
        "socket (config)": configured_socket,
    }
    for key, value in rows.items():
        print(f"{key + ':':<20} {value}")
