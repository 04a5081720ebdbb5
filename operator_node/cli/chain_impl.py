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

from operator_node.chain.reader import ZERO_ID, Registration
from operator_node.chain.registration import (
    RegistrationResult,
    ensure_registered,
    ensure_socket,
    plan_deregistration,
    tx_hash_of,
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


def _load_account(config: Config) -> LocalAccount:
    account = load_ecdsa_account(config)
    if account is None:
        raise ConfigError("keys.ecdsa_keystore is required to send transactions")
    return account


def _load_bls(config: Config) -> BlsKeyPair:
    keypair = load_bls_keypair(config)
    if keypair is None:
        raise ConfigError("keys.bls_keystore is required to register")
    return keypair


def _chain_config(args: argparse.Namespace) -> Config:
    config = load_config(args.config)
    if not config.chain.rpc_url:
        raise ConfigError(f"{args.config}: chain.rpc_url is empty; nothing to register with")
    return config


def register(args: argparse.Namespace) -> int:
    """Register the operator where it is missing, print the result; returns the exit code."""
    config = _chain_config(args)
    account, keypair = _load_account(config), _load_bls(config)
    quorums = args.quorums or config.chain.quorums
    connection = open_connection(config, account)

    async def work() -> int:
        writer = await connection.get_writer()
        result = await ensure_registered(
            writer, keypair, quorums, config.advertised_socket, metadata_uri=args.metadata_uri
        )
        _print_registration_steps(result, quorums)
        _print_registration(result.after, config.advertised_socket)
        return 0

    return run_session(connection, work)


def _print_registration_steps(result: RegistrationResult, quorums: tuple[int, ...]) -> None:
    """One line per transaction ``register`` sent, with its hash; or that it sent none."""
    if result.already_registered:
        print(f"already registered in quorums {list(quorums)}; no transaction sent")
        return
    hashes = iter(result.tx_hashes)
    if result.registered_core:
        print(f"registered as an EigenLayer operator (tx {next(hashes)})")
    if result.registered_quorums:
        print(f"registered in quorums {list(result.registered_quorums)} (tx {next(hashes)})")


def deregister(args: argparse.Namespace) -> int:
    """Leave ``--quorums`` (default all) after confirmation, print the transaction and the
    registration after; returns the exit code (1 when the question is answered no).

    Raises :class:`UsageError` (exit 2) before anything else when there is no terminal to ask
    on and ``--yes`` was not given.
    """
    config = _chain_config(args)
    if not args.yes and not sys.stdin.isatty():
        raise UsageError(
            "deregister asks for confirmation, and there is no terminal to ask on: "
            "pass --yes to deregister without asking (nothing was sent)"
        )
    connection = open_connection(config, _load_account(config))

    async def work() -> int:
        writer = await connection.get_writer()
        before = await writer.reader.get_registration(writer.address)
        leaving = plan_deregistration(before, args.quorums)
        if not args.yes and not _confirm_deregistration(before, leaving):
            print("not confirmed; no transaction sent", file=sys.stderr)
            return 1
        receipt = await writer.deregister_operator(leaving)
        print(f"deregistered from quorums {list(leaving)} (tx {tx_hash_of(receipt)})")
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


def update_socket(args: argparse.Namespace) -> int:
    """Set the on-chain socket to the configured one if they differ; returns the exit code."""
    config = _chain_config(args)
    connection = open_connection(config, _load_account(config))

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
    config = _chain_config(args)
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
        if wants_json(args):
            print_json(registration_document(reg, config.advertised_socket))
        else:
            _print_registration(reg, config.advertised_socket)
        return 0

    return run_session(connection, work)


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
