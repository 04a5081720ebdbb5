"""Idempotent registration: read the state first and do only what is missing.

``ensure_registered`` registers with EigenLayer (``registerAsOperator``) if needed, then with the
AVS in whichever configured quorums the operator is not in yet. Running it twice sends nothing the
second time. ``ensure_socket`` compares the on-chain socket with the configured one and updates it
only when asked to. Each result carries the hashes of the transactions it sent (none when there
was nothing to do), so a command can tell the operator what to look up on an explorer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from web3.types import TxReceipt

from operator_node.chain.errors import NotRegisteredError, RegistrationConflictError
from operator_node.chain.reader import ZERO_ID, Registration
from operator_node.chain.writer import ChainWriter
from operator_node.crypto.bls import BlsKeyPair


@dataclass(frozen=True)
class RegistrationResult:
    """What ``ensure_registered`` did and where the operator stands afterwards."""

    registered_core: bool
    registered_quorums: tuple[int, ...]
    gas_used: int
    after: Registration
    tx_hashes: tuple[str, ...] = ()
    """The transactions sent, in order (0x hex); empty when already registered."""

    @property
    def already_registered(self) -> bool:
        """Nothing needed doing."""
        return not self.registered_core and not self.registered_quorums


@dataclass(frozen=True)
class SocketCheck:
    """The on-chain socket against the configured one, and whether it was updated."""

    onchain: str
    configured: str
    updated: bool
    tx_hash: str = ""
    """The ``updateSocket`` transaction (0x hex) when one was sent."""

    @property
    def matches(self) -> bool:
        """Whether the chain now has the configured socket."""
        return self.updated or self.onchain == self.configured


async def ensure_registered(
    writer: ChainWriter,
    keypair: BlsKeyPair,
    quorums: Sequence[int],
    socket: str,
    *,
    metadata_uri: str = "",
) -> RegistrationResult:
    """Register ``writer``'s account with EigenLayer and into ``quorums``, as far as missing.

    Raises :class:`RegistrationConflictError` when the account is registered with another BLS
    key, and the writer's errors (reverts carry the contract's reason).
    """
    reader = writer.reader
    before = await reader.get_registration(writer.address)
    if before.operator_id not in (ZERO_ID, keypair.operator_id):
        raise RegistrationConflictError(
            f"{writer.address} is registered with operator id 0x{before.operator_id.hex()}, "
            f"but the BLS key loaded has operator id 0x{keypair.operator_id.hex()}"
        )
    receipts: list[TxReceipt] = []
    if not before.is_eigenlayer_operator:
        receipts.append(await writer.register_as_operator(metadata_uri))
    missing = tuple(sorted(set(quorums) - set(before.quorums)))
    if missing:
        receipts.append(await writer.register_operator(missing, socket, keypair))
    return RegistrationResult(
        registered_core=not before.is_eigenlayer_operator,
        registered_quorums=missing,
        gas_used=sum(int(receipt["gasUsed"]) for receipt in receipts),
        after=await reader.get_registration(writer.address),
        tx_hashes=tuple(tx_hash_of(receipt) for receipt in receipts),
    )


def tx_hash_of(receipt: TxReceipt) -> str:
    """The receipt's transaction hash as 0x-prefixed hex."""
    return "0x" + bytes(receipt["transactionHash"]).hex()


async def deregister(writer: ChainWriter, quorums: Sequence[int] | None = None) -> tuple[int, ...]:
    """Leave ``quorums`` (all current ones when None); returns the quorums left.

    Raises :class:`NotRegisteredError` when the operator is not in every quorum named.
    """
    reg = await writer.reader.get_registration(writer.address)
    leaving = plan_deregistration(reg, quorums)
    await writer.deregister_operator(leaving)
    return leaving


def plan_deregistration(reg: Registration, quorums: Sequence[int] | None) -> tuple[int, ...]:
    """The quorums ``reg``'s operator would leave (all its quorums when ``quorums`` is None),
    checked before anything is sent, so a command can ask for confirmation in between.

    Raises :class:`NotRegisteredError` when the operator is not in every quorum named.
    """
    if not reg.registered:
        raise NotRegisteredError(f"{reg.address} is not registered with the AVS")
    leaving = tuple(sorted(set(reg.quorums if quorums is None else quorums)))
    absent = sorted(set(leaving) - set(reg.quorums))
    if absent:
        raise NotRegisteredError(
            f"{reg.address} is not registered in quorum(s) {absent}; it is in {list(reg.quorums)}"
        )
    return leaving


async def ensure_socket(writer: ChainWriter, socket: str, *, update: bool) -> SocketCheck:
    """Compare the on-chain socket with ``socket``; send ``updateSocket`` only when ``update``.

    Raises :class:`NotRegisteredError` when the operator is not registered.
    """
    reg = await writer.reader.get_registration(writer.address)
    if not reg.registered:
        raise NotRegisteredError(f"{writer.address} is not registered with the AVS")
    if reg.socket == socket or not update:
        return SocketCheck(reg.socket, socket, updated=False)
    receipt = await writer.update_socket(socket)
    return SocketCheck(reg.socket, socket, updated=True, tx_hash=tx_hash_of(receipt))
