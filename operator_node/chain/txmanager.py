"""A small transaction manager: simulate, price (EIP-1559 under a cap), sign, send, wait.

One manager per sending account. Nonces are handed out under a lock, starting from the chain's
pending nonce and resynchronised when the node says a nonce is used. Transport failures are
retried by the provider (:mod:`.rpc`); a resent transaction the node already holds ("already
known") counts as sent. A revert — in simulation or in the mined receipt — becomes a
:class:`ContractRevertError` carrying the decoded reason.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak
from hexbytes import HexBytes
from web3 import AsyncWeb3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError
from web3.types import BlockIdentifier, Nonce, TxParams, TxReceipt, Wei

from operator_node.chain.artifacts import CONTRACT_NAMES, load_abi
from operator_node.chain.errors import (
    ContractRevertError,
    FeeCapError,
    TransactionRejectedError,
    TransactionTimeoutError,
)

_GWEI = 10**9
_GAS_MARGIN = 1.2  # estimates are exact for the simulated state; leave room for it to move
_NONCE_ERRORS = ("nonce too low", "nonce too high", "replacement transaction underpriced")


class Transactable(Protocol):
    """What web3 contract calls and constructors have in common."""

    async def estimate_gas(
        self, transaction: TxParams | None = None, block_identifier: BlockIdentifier | None = None
    ) -> int:
        """Simulate and return the gas used."""
        ...

    async def build_transaction(self, transaction: TxParams | None = None) -> TxParams:
        """The transaction dict for this call."""
        ...


@dataclass(frozen=True)
class TxPolicy:
    """Fee cap, waiting and confirmation settings (from ``[chain]``)."""

    max_fee_gwei: float = 100.0
    timeout: float = 120.0
    confirmations: int = 1
    poll_interval: float = 0.1


def revert_reason(exc: ContractLogicError) -> str:
    """The revert string of a web3 contract error, minus the node's "execution reverted" prefix;
    a custom error (EigenLayer's current contracts use them) by its name where known."""
    message = str(exc.message or exc)
    for prefix in ("execution reverted: ", "execution reverted"):
        if message.startswith(prefix):
            message = message[len(prefix) :].strip()
            break
    name = custom_error_names().get(message[:10].lower())
    return f"{name} ({message})" if name else message


# Errors (without arguments) of EigenLayer's contracts the node can meet that ours do not declare.
_EIGENLAYER_ERRORS = (
    "OperatorNotRegisteredToAVS",
    "BelowMinimumStakeRequirement",
    "CurrentlyPaused",
    "BytesArrayNotOrdered",
    "MaxOperatorCountReached",
    "AlreadyRegisteredForQuorums",
    "NotRegisteredForQuorum",
)


@cache
def custom_error_names() -> dict[str, str]:
    """Custom error selectors (0x + 8 hex) to their signatures: those in our contracts' ABIs
    (the same as EigenLayer's where ours model them) and a few more of EigenLayer's."""
    signatures = {f"{name}()" for name in _EIGENLAYER_ERRORS}
    for name in CONTRACT_NAMES:
        for entry in load_abi(name):
            if entry.get("type") == "error":
                types = ",".join(i["type"] for i in entry.get("inputs", []))
                signatures.add(f"{entry['name']}({types})")
    return {"0x" + keccak(sig.encode())[:4].hex(): sig for sig in sorted(signatures)}


class TxManager:
    """Sends transactions from one account. Safe to share between tasks of one event loop."""

    def __init__(self, w3: AsyncWeb3[Any], account: LocalAccount, policy: TxPolicy) -> None:
        self._w3 = w3
        self.account = account
        self._policy = policy
        self._lock = asyncio.Lock()
        self._next_nonce: int | None = None
        self._chain_id_value: int | None = None

    @property
    def address(self) -> str:
        """The sending account's checksum address."""
        return str(self.account.address)

    async def send(self, call: Transactable, action: str, *, value: int = 0) -> TxReceipt:
        """Simulate ``call`` (sending ``value`` wei with it), then send it and wait for its
        receipt and confirmations.

        ``action`` names it in errors ("registerOperator"). Raises :class:`ContractRevertError`
        (simulation or receipt), :class:`FeeCapError`, :class:`TransactionRejectedError`,
        :class:`TransactionTimeoutError` or :class:`RpcUnavailableError`.
        """
        try:
            # "pending": the transaction runs in the next block, and gas can depend on the block
            # (histories append an entry per block but overwrite within one).
            simulated: TxParams = {"from": self.account.address}
            if value:
                simulated["value"] = Wei(value)
            gas = await call.estimate_gas(simulated, "pending")
        except ContractLogicError as exc:
            raise ContractRevertError(action, revert_reason(exc)) from exc
        fees = await self._fees()
        params: TxParams = {"gas": int(gas * _GAS_MARGIN), **fees}
        if value:
            params["value"] = Wei(value)
        tx_hash = await self._sign_and_send(call, params, action)
        receipt = await self._wait_for_receipt(tx_hash, action)
        if receipt["status"] != 1:
            reason = await self._replay_reason(call, receipt)
            raise ContractRevertError(action, reason, tx_hash=tx_hash)
        await self._wait_for_confirmations(receipt, tx_hash, action)
        return receipt

    async def _fees(self) -> TxParams:
        cap = int(self._policy.max_fee_gwei * _GWEI)
        block = await self._w3.eth.get_block("latest")
        base_fee = int(block.get("baseFeePerGas", 0))
        if base_fee > cap:
            raise FeeCapError(
                f"base fee {base_fee / _GWEI:.3f} gwei is above max_fee_gwei "
                f"{self._policy.max_fee_gwei}; not sending"
            )
        priority = int(await self._w3.eth.max_priority_fee)
        max_fee = min(cap, 2 * base_fee + priority)
        return {
            "maxFeePerGas": Wei(max_fee),
            "maxPriorityFeePerGas": Wei(min(priority, max_fee - base_fee)),
        }

    async def _sign_and_send(self, call: Transactable, params: TxParams, action: str) -> str:
        async with self._lock:
            for attempt in range(2):
                nonce = await self._take_nonce(resync=attempt > 0)
                request: TxParams = {"from": self.account.address, "nonce": Nonce(nonce)}
                request.update(params)
                request["chainId"] = await self._chain_id()
                tx = await call.build_transaction(request)
                raw = self.account.sign_transaction(tx).raw_transaction  # type: ignore[arg-type]
                try:
                    await self._w3.eth.send_raw_transaction(raw)
                except Web3RPCError as exc:
                    message = str(exc).lower()
                    if "already known" in message:
                        pass  # our earlier attempt reached the node; same bytes, same hash
                    elif any(e in message for e in _NONCE_ERRORS) and attempt == 0:
                        continue
                    else:
                        self._next_nonce = None
                        raise TransactionRejectedError(f"{action}: node refused it: {exc}") from exc
                self._next_nonce = nonce + 1
                return "0x" + keccak(raw).hex()
        raise TransactionRejectedError(f"{action}: nonce kept colliding with another sender")

    async def _chain_id(self) -> int:
        if self._chain_id_value is None:
            self._chain_id_value = int(await self._w3.eth.chain_id)
        return self._chain_id_value

    async def _take_nonce(self, *, resync: bool) -> int:
        if self._next_nonce is None or resync:
            self._next_nonce = int(
                await self._w3.eth.get_transaction_count(self.account.address, "pending")
            )
        return self._next_nonce

    async def _wait_for_receipt(self, tx_hash: str, action: str) -> TxReceipt:
        deadline = time.monotonic() + self._policy.timeout
        while True:
            try:
                return await self._w3.eth.get_transaction_receipt(HexBytes(tx_hash))
            except TransactionNotFound:
                pass
            if time.monotonic() >= deadline:
                raise TransactionTimeoutError(
                    f"{action}: tx {tx_hash} not mined within {self._policy.timeout:.0f}s"
                )
            await asyncio.sleep(self._policy.poll_interval)

    async def _wait_for_confirmations(self, receipt: TxReceipt, tx_hash: str, action: str) -> None:
        target = int(receipt["blockNumber"]) + self._policy.confirmations - 1
        deadline = time.monotonic() + self._policy.timeout
        while int(await self._w3.eth.block_number) < target:
            if time.monotonic() >= deadline:
                raise TransactionTimeoutError(
                    f"{action}: tx {tx_hash} mined but not {self._policy.confirmations} "
                    f"blocks deep within {self._policy.timeout:.0f}s"
                )
            await asyncio.sleep(self._policy.poll_interval)

    async def _replay_reason(self, call: Transactable, receipt: TxReceipt) -> str:
        """Re-run a reverted transaction as a call at its block to recover the reason."""
        tx = await call.build_transaction({"from": self.account.address, "gas": receipt["gasUsed"]})
        try:
            await self._w3.eth.call(tx, receipt["blockNumber"] - 1)
        except ContractLogicError as exc:
            return revert_reason(exc)
        return "reverted on chain (out of gas or state changed since simulation)"
