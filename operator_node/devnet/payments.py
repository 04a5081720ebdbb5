"""The devnet's paying accounts: one with bandwidth reserved in advance, one with an on-demand
deposit, in the AVS's payment vault, with the devnet's global prices and limits.

Their keys are fresh and kept as keystores (with password files) under the devnet directory, so
a client can sign as them.
"""

from __future__ import annotations

import functools
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import AsyncWeb3

from operator_node.chain.contracts import ZERO_ADDRESS, bind
from operator_node.chain.deploy import Deployment
from operator_node.chain.txmanager import TxManager, TxPolicy
from operator_node.crypto.keystore import (
    EcdsaKey,
    keystore_path,
    load_ecdsa_keystore,
    save_ecdsa_keystore,
)
from operator_node.payments.vault import GlobalParams, Reservation

# EigenDA-like figures: 32-symbol minimum, 1 gwei a symbol, a client bucket of 60 s, a global
# on-demand rate of 512 KiB/s with a 10 s burst, on-demand in quorum 0.
DEVNET_PARAMS = GlobalParams(32, 10**9, 60, 16_384, 10, (0,))
RESERVED_RATE = 32_768  # symbols a second: 1 MiB/s
RESERVATION_DAYS = 30
ON_DEMAND_DEPOSIT = 10**18  # 1 ETH
_POLICY = TxPolicy(timeout=60.0, confirmations=1)


@dataclass(frozen=True)
class PayingAccount:
    """A devnet account that pays for dispersal, and where its key is."""

    name: str
    address: str
    keystore: Path
    password_file: Path
    reservation: Reservation | None
    deposit: int

    @functools.cached_property
    def account(self) -> LocalAccount:
        """The account with its key, read from its keystore (once)."""
        password = self.password_file.read_text().strip()
        key = load_ecdsa_keystore(self.keystore, password)
        account: LocalAccount = Account.from_key(key.secret_bytes())
        return account

    def describe(self) -> dict[str, Any]:
        """For devnet.json and the summary."""
        document: dict[str, Any] = {
            "name": self.name,
            "address": self.address,
            "keystore": str(self.keystore),
            "password_file": str(self.password_file),
        }
        if self.reservation is not None:
            document["reservation"] = self.reservation.describe()
        if self.deposit:
            document["on_demand_deposit_wei"] = str(self.deposit)
        return document


async def set_up_payments(
    w3: AsyncWeb3[Any], owner: LocalAccount, deployment: Deployment, home: Path
) -> list[PayingAccount]:
    """Set the devnet's global parameters, create the two accounts (keystores under ``home``),
    reserve for one and deposit for the other, from ``owner`` (the AVS's owner). Nothing where
    the deployment has no vault (the M2 shape)."""
    if deployment.payment_vault == ZERO_ADDRESS:
        return []
    vault = bind(w3, "PaymentVault", deployment.payment_vault)
    tx = TxManager(w3, owner, _POLICY)
    await tx.send(vault.functions.setGlobalParams(*DEVNET_PARAMS.to_abi()), "setGlobalParams")
    now = int(time.time())
    reservation = Reservation(
        RESERVED_RATE, now, now + RESERVATION_DAYS * 86_400, DEVNET_PARAMS.on_demand_quorums, (100,)
    )
    reserved = _new_account(home, "reserved", reservation, 0)
    reserve = vault.functions.setReservation(reserved.address, reservation.to_abi())
    await tx.send(reserve, "setReservation")
    on_demand = _new_account(home, "on-demand", None, ON_DEMAND_DEPOSIT)
    await tx.send(
        vault.functions.depositOnDemand(on_demand.address), "deposit", value=on_demand.deposit
    )
    return [reserved, on_demand]


def _new_account(
    home: Path, name: str, reservation: Reservation | None, deposit: int
) -> PayingAccount:
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = EcdsaKey.generate()
    password = secrets.token_hex(16)
    password_file = home / f"{name}.password"
    password_file.touch(mode=0o600)
    password_file.write_text(password + "\n")
    path = keystore_path(home, name, "ecdsa")
    save_ecdsa_keystore(path, key, password, scrypt_n=1 << 12)
    return PayingAccount(name, key.address, path, password_file, reservation, deposit)
