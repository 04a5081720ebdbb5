"""The operator's keys from ``[keys]``, for the node (``run``) and the chain commands alike.

Passwords come from ``keys.*_password_file`` or the environment variables below, never from the
command line. Loading a keystore runs scrypt at the standard strength (about a second): async
callers run these in a thread.
"""

from __future__ import annotations

import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from operator_node.config import Config
from operator_node.crypto.bls import BlsKeyPair
from operator_node.crypto.keystore import load_bls_keystore, load_ecdsa_keystore, read_password_file
from operator_node.errors import StartupError

BLS_PASSWORD_ENV = "OPERATOR_NODE_BLS_KEY_PASSWORD"  # noqa: S105 - a variable name, not a secret
ECDSA_PASSWORD_ENV = "OPERATOR_NODE_ECDSA_KEY_PASSWORD"  # noqa: S105 - a variable name
ACCOUNT_PASSWORD_ENV = "OPERATOR_NODE_ACCOUNT_KEY_PASSWORD"  # noqa: S105 - a variable name


def read_key_password(config: Config, password_file: Path | None, env: str, what: str) -> str:
    """The password of the ``what`` ("bls" or "ecdsa") keystore; StartupError if none is given."""
    if password_file is not None:
        return read_password_file(
            password_file, allow_insecure_permissions=config.keys.allow_insecure_permissions
        )
    if env in os.environ:
        return os.environ[env]
    raise StartupError(
        f"keys.{what}_keystore is set but neither keys.{what}_password_file nor {env} "
        "gives its password"
    )


def load_bls_keypair(config: Config) -> BlsKeyPair | None:
    """The BLS key pair from ``[keys]``, or None when no BLS keystore is configured.

    Raises StartupError without a password, and the keystore's error for a wrong password, a bad
    file or unsafe permissions.
    """
    keys = config.keys
    if keys.bls_keystore is None:
        return None
    password = read_key_password(config, keys.bls_password_file, BLS_PASSWORD_ENV, "bls")
    return load_bls_keystore(
        keys.bls_keystore, password, allow_insecure_permissions=keys.allow_insecure_permissions
    )


def load_ecdsa_account(config: Config) -> LocalAccount | None:
    """The operator's ECDSA account from ``[keys]``, or None when not set; raises as above."""
    keys = config.keys
    if keys.ecdsa_keystore is None:
        return None
    password = read_key_password(config, keys.ecdsa_password_file, ECDSA_PASSWORD_ENV, "ecdsa")
    key = load_ecdsa_keystore(
        keys.ecdsa_keystore, password, allow_insecure_permissions=keys.allow_insecure_permissions
    )
    account: LocalAccount = Account.from_key(key.secret_bytes())
    return account


def load_paying_account(
    keystore: Path, password_file: Path | None, allow_insecure_permissions: bool = False
) -> LocalAccount:
    """The account that pays for dispersal (``disperse --account``), from its keystore; the
    password from ``password_file`` or ``OPERATOR_NODE_ACCOUNT_KEY_PASSWORD``. Raises
    StartupError without a password, and the keystore's error for a wrong one or a bad file."""
    if password_file is not None:
        password = read_password_file(
            password_file, allow_insecure_permissions=allow_insecure_permissions
        )
    elif ACCOUNT_PASSWORD_ENV in os.environ:
        password = os.environ[ACCOUNT_PASSWORD_ENV]
    else:
        raise StartupError(
            f"--account {keystore} needs its password: --account-password-file or "
            f"{ACCOUNT_PASSWORD_ENV}"
        )
    key = load_ecdsa_keystore(
        keystore, password, allow_insecure_permissions=allow_insecure_permissions
    )
    account: LocalAccount = Account.from_key(key.secret_bytes())
    return account
