"""Helpers for the chain tests: the devnet's accounts and keys, and raw JSON-RPC calls."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from operator_node.chain.client import ChainConnection
from operator_node.chain.deploy import Deployment, QuorumSpec, deploy_contracts, deposit
from operator_node.chain.registration import ensure_registered
from operator_node.chain.rpc import RetryPolicy, connect
from operator_node.config import ChainSection
from operator_node.crypto.bls import BlsKeyPair
from operator_node.crypto.keystore import EcdsaKey, save_bls_keystore, save_ecdsa_keystore
from operator_node.devnet.anvil import DEV_PRIVATE_KEYS, Anvil

DEPLOYER: LocalAccount = Account.from_key(DEV_PRIVATE_KEYS[0])
OPERATORS: tuple[LocalAccount, ...] = tuple(Account.from_key(k) for k in DEV_PRIVATE_KEYS[1:5])
OUTSIDER: LocalAccount = Account.from_key(DEV_PRIVATE_KEYS[9])
# Fixed BLS secrets, one per operator, so failures reproduce.
BLS_KEYS = tuple(BlsKeyPair(0x5EC2E7 + 7919 * i) for i in range(len(OPERATORS)))
WEIGHTS = (100, 200, 300, 400)  # operator i's deposit, so its stake in every quorum
QUORUMS = (0, 1)
SOCKET = "127.0.0.1:32005"
FAST_RETRY = RetryPolicy(retries=2, backoff=0.01, max_backoff=0.05)
_FAST_SCRYPT = 1 << 10  # test keystores only; real ones use the standard 2^18


@dataclass(frozen=True)
class Devnet:
    """A running anvil with the contracts deployed."""

    anvil: Anvil
    deployment: Deployment

    @property
    def rpc_url(self) -> str:
        """anvil's endpoint."""
        return self.anvil.rpc_url

    def chain_config(self, **overrides: Any) -> ChainSection:
        """A ``[chain]`` section for this devnet."""
        base = ChainSection(
            rpc_url=self.rpc_url,
            chain_id=self.anvil.chain_id,
            registry_coordinator=self.deployment.registry_coordinator,
            operator_state_retriever=self.deployment.operator_state_retriever,
            confirmations=1,
            tx_timeout=30.0,
            rpc_timeout=5.0,
        )
        return replace(base, **overrides)

    def connection(self, account: LocalAccount | None = None, **overrides: Any) -> ChainConnection:
        """A connection as ``account`` (read-only when None)."""
        return ChainConnection(
            self.chain_config(**overrides), metrics=None, account=account, retry=FAST_RETRY
        )

    def connection_to(
        self, deployment: Deployment, account: LocalAccount | None = None, **overrides: Any
    ) -> ChainConnection:
        """A connection to another contract set on the same anvil."""
        return self.connection(
            account,
            registry_coordinator=deployment.registry_coordinator,
            operator_state_retriever=deployment.operator_state_retriever,
            **overrides,
        )

    async def register(self, index: int, quorums: tuple[int, ...] = QUORUMS) -> None:
        """Register operator ``index`` (its BLS key, ``SOCKET``) in ``quorums``."""
        connection = self.connection(OPERATORS[index])
        try:
            writer = await connection.get_writer()
            await ensure_registered(writer, BLS_KEYS[index], quorums, SOCKET)
        finally:
            await connection.close()

    async def deploy_m2(self, deposits: Mapping[int, int] | None = None) -> Deployment:
        """A second contract set, in the M2 shape (no socket registry, no ``isDisperser``), with
        one quorum; operator ``i`` deposits ``deposits[i]``."""
        setup = self.connection(DEPLOYER)
        try:
            m2 = await deploy_contracts(setup.w3, DEPLOYER, core="m2", quorums=[QuorumSpec()])
            for index, amount in (deposits or {}).items():
                await deposit(setup.w3, DEPLOYER, m2, OPERATORS[index], amount)
        finally:
            await setup.close()
        return m2


def rpc_call(url: str, method: str, params: list[Any] | None = None) -> Any:
    """One synchronous JSON-RPC call (for snapshot/revert around async tests)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    request = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        reply = json.loads(response.read())
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


async def deploy_with_deposits(url: str) -> Deployment:
    """Deploy the contracts on ``url`` (both quorums, DEPLOYER an allowed disperser) and make
    each operator's deposit of its weight: the chain that the chain and CLI tests share."""
    w3 = connect(url, metrics=None)
    try:
        deployment = await deploy_contracts(
            w3, DEPLOYER, quorums=[QuorumSpec() for _ in QUORUMS], dispersers=[DEPLOYER.address]
        )
        for operator, weight in zip(OPERATORS, WEIGHTS, strict=True):
            await deposit(w3, DEPLOYER, deployment, operator, weight)
        return deployment
    finally:
        await w3.provider.disconnect()


def write_cli_config(
    tmp_path: Path,
    devnet: Devnet,
    *,
    rpc_url: str | None = None,
    deployment: Deployment | None = None,
    index: int = 2,
    quorums: tuple[int, ...] = QUORUMS,
    account: LocalAccount | None = None,
) -> Path:
    """A node config for the CLI as operator ``index`` (its keystores written beside it, with
    password files; ``account`` signs instead of the operator's key when given), on
    ``deployment`` (the devnet's by default)."""
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    for name in ("ecdsa", "bls"):
        (keys / f"{name}.pw").write_text("correct horse")
        (keys / f"{name}.pw").chmod(0o600)
    key = EcdsaKey.from_secret(bytes((account or OPERATORS[index]).key))
    save_ecdsa_keystore(keys / "op.ecdsa.key.json", key, "correct horse", scrypt_n=_FAST_SCRYPT)
    bls = BLS_KEYS[index]
    save_bls_keystore(keys / "op.bls.key.json", bls, "correct horse", scrypt_n=_FAST_SCRYPT)
    d = deployment or devnet.deployment
    config = tmp_path / "node.toml"
    config.write_text(
        f"""
[api]
socket = "203.0.113.7:32004;32005"

[chain]
rpc_url = "{rpc_url or devnet.rpc_url}"
chain_id = {devnet.anvil.chain_id}
registry_coordinator = "{d.registry_coordinator}"
operator_state_retriever = "{d.operator_state_retriever}"
quorums = {list(quorums)}
tx_timeout = 30.0
rpc_timeout = 2.0

[keys]
ecdsa_keystore = "{keys / "op.ecdsa.key.json"}"
ecdsa_password_file = "{keys / "ecdsa.pw"}"
bls_keystore = "{keys / "op.bls.key.json"}"
bls_password_file = "{keys / "bls.pw"}"
"""
    )
    return config
