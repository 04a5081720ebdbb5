"""Idempotent registration: read the state first and do only what is missing.

``ensure_registered`` registers with EigenLayer (``registerAsOperator``) if needed, then with the
AVS in whichever configured quorums the operator is not in yet. Running it twice sends nothing the
second time. ``ensure_socket`` compares the on-chain socket with the configured one and updates it
only when asked to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
    gas = 0
    if not before.is_eigenlayer_operator:
        gas += int((await writer.register_as_operator(metadata_uri))["gasUsed"])
    missing = tuple(sorted(set(quorums) - set(before.quorums)))
    if missing:
        gas += int((await writer.register_operator(missing, socket, keypair))["gasUsed"])
    return RegistrationResult(
        registered_core=not before.is_eigenlayer_operator,
        registered_quorums=missing,
        gas_used=gas,
        after=await reader.get_registration(writer.address),
    )


async def deregister(writer: ChainWriter, quorums: Sequence[int] | None = None) -> tuple[int, ...]:
    """Leave ``quorums`` (all current ones when None); returns the quorums left.

    Raises :class:`NotRegisteredError` when the operator is not in every quorum named.
    """
    reg = await writer.reader.get_registration(writer.address)
    if not reg.registered:
        raise NotRegisteredError(f"{writer.address} is not registered with the AVS")
    leaving = tuple(sorted(set(reg.quorums if quorums is None else quorums)))
    absent = sorted(set(leaving) - set(reg.quorums))
    if absent:
        raise NotRegisteredError(
            f"{writer.address} is not registered in quorum(s) {absent}; "
            f"it is in {list(reg.quorums)}"
        )
    await writer.deregister_operator(leaving)
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
    await writer.update_socket(socket)
    return SocketCheck(reg.socket, socket, updated=True)
