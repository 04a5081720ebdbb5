"""Paying for blobs in tests, as a devnet's paying accounts."""

from __future__ import annotations

import time

from operator_node.client.batch import EncodedBlob
from operator_node.devnet.network import Devnet
from operator_node.protocol.headers import PAYMENT_RESERVATION, Payment


def pay(blob: EncodedBlob, devnet: Devnet, *, timestamp: int | None = None) -> EncodedBlob:
    """``blob`` paid from the devnet's reserved account, signed now (or at ``timestamp`` ns)."""
    assert devnet.deployment is not None and devnet.payer is not None
    vault = bytes.fromhex(devnet.deployment.payment_vault[2:])
    payment = Payment(PAYMENT_RESERVATION, timestamp or time.time_ns())
    return blob.paid(payment, devnet.payer, devnet.anvil.chain_id, vault)


def paying_flags(devnet: Devnet) -> list[str]:
    """``disperse`` flags that pay from the devnet's reserved account."""
    (account,) = [a for a in devnet.paying_accounts if a.name == "reserved"]
    password = str(account.password_file)
    return ["--account", str(account.keystore), "--account-password-file", password]
