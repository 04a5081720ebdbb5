"""What ``operator-node register``, ``deregister`` and ``status`` do (arguments in ``cli.chain``).

Keys come from ``[keys]``: the ECDSA keystore signs transactions and the AVS consent, the BLS
keystore proves possession of the BLS key. Their passwords come from ``keys.*_password_file`` or
the environment variables ``OPERATOR_NODE_ECDSA_KEY_PASSWORD`` / ``OPERATOR_NODE_BLS_KEY_PASSWORD``
— never from the command line. ``register`` reads the chain first and does only what is missing,
so running it again says "already registered" and sends nothing.
"""

from __future__ import annotations

import argparse

from eth_account.signers.local import LocalAccount

from operator_node.chain.reader import ZERO_ID, Registration
from operator_node.chain.registration import deregister as leave_quorums
from operator_node.chain.registration import ensure_registered
from operator_node.cli.chain_session import open_connection, run_session
from operator_node.cli.credentials import load_bls_keypair, load_ecdsa_account
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
        if result.already_registered:
            print(f"already registered in quorums {list(quorums)}")
        if result.registered_core:
            print("registered as an EigenLayer operator")
        if result.registered_quorums:
            print(f"registered in quorums {list(result.registered_quorums)}")
        _print_registration(result.after, config.advertised_socket)
        return 0

    return run_session(connection, work)


def deregister(args: argparse.Namespace) -> int:
    """Leave ``--quorums`` (default all), print the registration after; returns the exit code."""
    config = _chain_config(args)
    connection = open_connection(config, _load_account(config))

    async def work() -> int:
        writer = await connection.get_writer()
        left = await leave_quorums(writer, args.quorums)
        print(f"deregistered from quorums {list(left)}")
        reader = await connection.get_reader()
        _print_registration(await reader.get_registration(writer.address), config.advertised_socket)
        return 0

    return run_session(connection, work)


def status(args: argparse.Namespace) -> int:
    """Print the on-chain registration of ``--address`` or the keystore's; returns the exit code."""
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
        _print_registration(await reader.get_registration(address), config.advertised_socket)
        return 0

    return run_session(connection, work)


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
