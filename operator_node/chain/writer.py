"""State-changing calls: EigenLayer operator registration (both core forms), AVS registration,
deregistration, socket updates and batch confirmation. Each goes through the transaction manager.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_typing import Hash32
from web3.contract import AsyncContract
from web3.types import TxReceipt

from operator_node.chain.confirm import ChainBatchHeader, SignatureWitness
from operator_node.chain.errors import ChainError
from operator_node.chain.reader import ChainReader
from operator_node.chain.txmanager import TxManager
from operator_node.crypto.bls import BlsKeyPair

ZERO_ADDRESS = "0x" + "00" * 20

# How long the operator's consent signature stays valid; registration happens right after.
SIGNATURE_LIFETIME = 3600


def m2_entry_points(coordinator: AsyncContract) -> AsyncContract:
    """The registry coordinator bound without the AllocationManager's registrar callbacks
    (``registerOperator(address,address,uint32[],bytes)``, ``deregisterOperator(address,address,
    uint32[])``): web3 cannot tell those overloads from the M2 entry points by their arguments."""
    abi = [entry for entry in coordinator.abi if not _is_registrar_callback(entry)]
    return coordinator.w3.eth.contract(address=coordinator.address, abi=abi)


def _is_registrar_callback(entry: Any) -> bool:
    inputs = entry.get("inputs") or []
    return (
        entry.get("name") in ("registerOperator", "deregisterOperator")
        and len(inputs) >= 3
        and inputs[0]["type"] == "address"
    )


@dataclass(frozen=True)
class Step:
    """One transaction sent: what it did, its hash, its gas."""

    what: str
    tx_hash: str
    gas_used: int


def step_of(what: str, receipt: TxReceipt) -> Step:
    """The :class:`Step` of a mined transaction."""
    return Step(what, tx_hash_of(receipt), int(receipt["gasUsed"]))


def tx_hash_of(receipt: TxReceipt) -> str:
    """The receipt's transaction hash as 0x-prefixed hex."""
    return "0x" + bytes(receipt["transactionHash"]).hex()


@dataclass(frozen=True)
class ConfirmedBatch:
    """A confirmed batch: its id, the signed (reduced) header hash, and the receipt."""

    batch_id: int
    batch_header_hash: bytes
    receipt: TxReceipt


class ChainWriter:
    """Sends the node's (and a disperser's) transactions from one account."""

    def __init__(self, reader: ChainReader, tx: TxManager) -> None:
        self.reader = reader
        self.tx = tx
        self._contracts = reader.contracts

    @property
    def address(self) -> str:
        """The sending account."""
        return self.tx.address

    async def register_as_operator(
        self, metadata_uri: str = "", allocation_delay: int = 0
    ) -> TxReceipt:
        """``DelegationManager.registerAsOperator`` in the deployed core's form: the slashing
        release's ``(address, uint32 allocationDelay, string)`` — the delay holds at once for a
        new operator — or M2's ``((address,address,uint32), string)``."""
        delegation = self._contracts.delegation
        if self._contracts.core == "m2":
            details = (self.address, ZERO_ADDRESS, 0)
            call = delegation.functions.registerAsOperator(details, metadata_uri)
        else:
            call = delegation.functions.registerAsOperator(
                ZERO_ADDRESS, allocation_delay, metadata_uri
            )
        return await self.tx.send(call, "DelegationManager.registerAsOperator")

    async def register_operator(
        self, quorums: Sequence[int], socket: str, keypair: BlsKeyPair
    ) -> TxReceipt:
        """``RegistryCoordinator.registerOperator`` with the BLS proof of possession (checked
        locally first) and an ECDSA consent signature over the AVS directory's digest."""
        if not quorums:
            raise ChainError("registerOperator needs at least one quorum")
        message = await self.reader.get_pubkey_registration_message(self.address)
        params = keypair.registration_params(message)  # raises if the local check fails
        signature = await self._avs_consent()
        coordinator = m2_entry_points(self._contracts.registry_coordinator)
        call = coordinator.functions.registerOperator(
            bytes(sorted(quorums)), socket, params.to_abi(), signature
        )
        return await self.tx.send(call, "RegistryCoordinator.registerOperator")

    async def _avs_consent(self) -> tuple[bytes, bytes, int]:
        """(signature, salt, expiry): the operator's signature over the registration digest,
        with a random salt and an expiry bounded from the chain's own clock."""
        salt = secrets.token_bytes(32)
        block = await self.reader.w3.eth.get_block("latest")
        expiry = int(block["timestamp"]) + SIGNATURE_LIFETIME
        digest = await self.reader.get_avs_registration_digest(self.address, salt, expiry)
        signed = self.tx.account.unsafe_sign_hash(Hash32(digest))
        return (bytes(signed.signature), salt, expiry)

    async def deregister_operator(self, quorums: Sequence[int]) -> TxReceipt:
        """``RegistryCoordinator.deregisterOperator`` for ``quorums``."""
        coordinator = m2_entry_points(self._contracts.registry_coordinator)
        call = coordinator.functions.deregisterOperator(bytes(sorted(quorums)))
        return await self.tx.send(call, "RegistryCoordinator.deregisterOperator")

    async def update_socket(self, socket: str) -> TxReceipt:
        """``RegistryCoordinator.updateSocket``."""
        call = self._contracts.registry_coordinator.functions.updateSocket(socket)
        return await self.tx.send(call, "RegistryCoordinator.updateSocket")

    async def confirm_batch(
        self, header: ChainBatchHeader, witness: SignatureWitness
    ) -> ConfirmedBatch:
        """``ServiceManager.confirmBatch``; the batch id comes from its ``BatchConfirmed`` event."""
        manager = self._contracts.service_manager
        call = manager.functions.confirmBatch(header.to_abi(), witness.to_abi())
        receipt = await self.tx.send(call, "ServiceManager.confirmBatch")
        events: Any = manager.events.BatchConfirmed().process_receipt(receipt)
        if not events:
            raise ChainError("confirmBatch succeeded without a BatchConfirmed event")
        args = events[0]["args"]
        return ConfirmedBatch(int(args["batchId"]), bytes(args["batchHeaderHash"]), receipt)
