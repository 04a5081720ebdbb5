"""Idempotent registration: read the state first and do only what is missing.

``ensure_registered`` registers with EigenLayer (``registerAsOperator``, with the configured
allocation delay) if needed, then with the AVS in whichever configured quorums the operator is not
in yet, each the way the quorum is joined:

- an **M2 quorum** with ``RegistryCoordinator.registerOperator`` and an AVSDirectory consent
  signature (refused before sending when the AVS has closed M2 registration);
- an **operator-set quorum** through the AllocationManager. For a slashable quorum the operator
  first needs an allocation delay (an operator from before the slashing release gets one, which
  holds only after ALLOCATION_CONFIGURATION_DELAY + 1 blocks: registration stops there and says
  when to come back) and an allocation: the configured magnitude is allocated to every strategy
  of the set where the allocation differs. Registration then waits for the allocation to take
  effect (up to ``wait`` seconds) or, without ``wait``, stops and names the block. An operator
  whose stake in a quorum would be zero is refused unless ``allow_zero_stake`` (EigenLayer would
  register it, with weight 0, where the minimum stake is 0). Last, ``registerForOperatorSets``.

Running it twice sends nothing the second time. ``ensure_socket`` compares the on-chain socket
with the configured one and updates it only when asked to. Each result lists the transactions it
sent with their hashes (none when there was nothing to do), so a command can tell the operator
what to look up on an explorer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from operator_node.chain.allocations import allocation_changes
from operator_node.chain.errors import (
    ContractRevertError,
    NotRegisteredError,
    RegistrationConflictError,
    RegistrationRefusedError,
)
from operator_node.chain.operator_sets import (
    REGISTRATION_MODES,
    OperatorSets,
    QuorumKind,
    deregister_from_operator_sets,
    modify_allocations,
    register_for_operator_sets,
    set_allocation_delay,
)
from operator_node.chain.reader import ZERO_ID, ChainReader, Registration
from operator_node.chain.writer import ChainWriter, Step, step_of, tx_hash_of
from operator_node.crypto.bls import BlsKeyPair

# The AVSDirectory's refusal to deregister an operator that never registered there: the current
# core's custom error, and the M2 core's revert string.
_NOT_IN_AVS_DIRECTORY = (
    "OperatorNotRegisteredToAVS",
    "AVSDirectory.deregisterOperatorFromAVS: operator not registered",
)
# How often to look at the head while waiting for an allocation to take effect.
_WAIT_POLL = 1.0


@dataclass(frozen=True)
class RegistrationResult:
    """What ``ensure_registered`` did and where the operator stands afterwards."""

    registered_core: bool
    registered_quorums: tuple[int, ...]
    after: Registration
    steps: tuple[Step, ...] = ()
    waiting_for_block: int | None = None
    """Operator-set registration is waiting for this block (an allocation delay or an
    allocation takes effect then); run ``register`` again from it."""

    @property
    def tx_hashes(self) -> tuple[str, ...]:
        """The transactions sent, in order (0x hex); empty when already registered."""
        return tuple(step.tx_hash for step in self.steps)

    @property
    def gas_used(self) -> int:
        """Gas of every transaction sent."""
        return sum(step.gas_used for step in self.steps)

    @property
    def already_registered(self) -> bool:
        """Nothing needed doing."""
        return not self.steps and self.waiting_for_block is None


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


@dataclass(frozen=True)
class OperatorSetOptions:
    """How to join operator-set quorums: the allocation delay a new operator registers with,
    the magnitude (out of 1e18) to allocate per slashable quorum, how long to wait for
    allocations to take effect (None: do not wait), and whether zero stake is acceptable."""

    allocation_delay: int = 0
    magnitudes: Mapping[int, int] | None = None
    wait: float | None = None
    allow_zero_stake: bool = False


async def ensure_registered(
    writer: ChainWriter,
    keypair: BlsKeyPair,
    quorums: Sequence[int],
    socket: str,
    *,
    metadata_uri: str = "",
    mode: str = "auto",
    options: OperatorSetOptions | None = None,
) -> RegistrationResult:
    """Register ``writer``'s account with EigenLayer and into ``quorums``, as far as missing.

    ``mode`` "m2" or "operator_sets" insists that every quorum is joined that way. Raises
    :class:`RegistrationConflictError` when the account is registered with another BLS key,
    :class:`RegistrationRefusedError` when a step would fail (mode mismatch, M2 registration
    closed, a pending change, too little magnitude, zero stake), and the writer's errors
    (reverts carry the contract's reason).
    """
    if mode not in REGISTRATION_MODES:
        raise RegistrationRefusedError(f"registration mode must be one of {REGISTRATION_MODES}")
    options = options or OperatorSetOptions()
    reader = writer.reader
    before = await reader.get_registration(writer.address)
    if before.operator_id not in (ZERO_ID, keypair.operator_id):
        raise RegistrationConflictError(
            f"{writer.address} is registered with operator id 0x{before.operator_id.hex()}, "
            f"but the BLS key loaded has operator id 0x{keypair.operator_id.hex()}"
        )
    sets = OperatorSets(reader)
    missing = tuple(sorted(set(quorums) - set(before.quorums)))
    kinds = await sets.quorum_kinds(missing)
    m2 = tuple(q for q in missing if not kinds[q].operator_set)
    operator_set = tuple(q for q in missing if kinds[q].operator_set)
    _check_mode(mode, m2, operator_set)
    if m2 and await sets.m2_registration_disabled():
        raise RegistrationRefusedError(
            f"quorum(s) {list(m2)} are M2 quorums and this AVS has closed M2 registration "
            "(RegistryCoordinator.isM2QuorumRegistrationDisabled): nothing sent"
        )
    steps: list[Step] = []
    if not before.is_eigenlayer_operator:
        receipt = await writer.register_as_operator(metadata_uri, options.allocation_delay)
        what = "registered as an EigenLayer operator"
        if writer.reader.contracts.core != "m2":
            what += f", allocation delay {options.allocation_delay} blocks"
        steps.append(step_of(what, receipt))
    registered: tuple[int, ...] = ()
    if m2:
        receipt = await writer.register_operator(m2, socket, keypair)
        steps.append(step_of(f"registered in M2 quorums {list(m2)}", receipt))
        registered = m2
    waiting = None
    if operator_set:
        joiner = _SetJoiner(writer, sets, kinds, options, steps)
        waiting = await joiner.prepare(operator_set)
        if waiting is None:
            await joiner.register(operator_set, socket, keypair)
            registered = tuple(sorted(registered + operator_set))
    return RegistrationResult(
        registered_core=not before.is_eigenlayer_operator,
        registered_quorums=registered,
        after=await reader.get_registration(writer.address),
        steps=tuple(steps),
        waiting_for_block=waiting,
    )


def _check_mode(mode: str, m2: Sequence[int], operator_set: Sequence[int]) -> None:
    if mode == "m2" and operator_set:
        raise RegistrationRefusedError(
            f"chain.registration is m2, but quorum(s) {list(operator_set)} are operator sets "
            "(joined through the AllocationManager): set it to auto or operator_sets"
        )
    if mode == "operator_sets" and m2:
        raise RegistrationRefusedError(
            f"chain.registration is operator_sets, but quorum(s) {list(m2)} are M2 quorums: "
            "set it to auto or m2"
        )


class _SetJoiner:
    """The operator-set steps of one ``ensure_registered``."""

    def __init__(
        self,
        writer: ChainWriter,
        sets: OperatorSets,
        kinds: Mapping[int, QuorumKind],
        options: OperatorSetOptions,
        steps: list[Step],
    ) -> None:
        self.writer, self.sets, self.kinds, self.options, self.steps = (
            writer, sets, kinds, options, steps,
        )  # fmt: skip
        self.reader: ChainReader = writer.reader
        self.address = writer.address

    async def prepare(self, quorums: Sequence[int]) -> int | None:
        """Allocation delay and allocations; the block to wait for when not waiting, else None."""
        slashable = [q for q in quorums if self.kinds[q].kind == "slashable"]
        if not slashable:
            return await self._settle(0)
        is_set, delay = await self.sets.allocation_delay(self.address)
        if not is_set:
            receipt = await set_allocation_delay(self.writer, self.options.allocation_delay)
            _, configuration_delay = await self.sets.delays()
            effect = int(receipt["blockNumber"]) + configuration_delay + 1
            self.steps.append(
                step_of(
                    f"set the allocation delay to {self.options.allocation_delay} blocks, in force "
                    f"from block {effect} (nothing can be allocated before)",
                    receipt,
                )
            )
            return await self._settle(effect)
        changes, effect = [], 0
        for q in slashable:
            strategies, pending_until = await self._plan(q)
            effect = max(effect, pending_until)
            if strategies:
                changes.append((q, strategies, self._magnitude(q)))
        if changes:
            receipt = await modify_allocations(self.writer, changes)
            at = int(receipt["blockNumber"]) + delay
            described = ", ".join(f"{m} to operator set {q}" for q, _, m in changes)
            self.steps.append(step_of(f"allocated {described}, effective at block {at}", receipt))
            effect = max(effect, at)
        return await self._settle(effect)

    def _magnitude(self, quorum: int) -> int:
        magnitudes = self.options.magnitudes or {}
        if quorum not in magnitudes:
            raise RegistrationRefusedError(
                f"quorum {quorum} counts slashable stake and no magnitude is configured for it: "
                "set [chain] allocation_magnitudes (or pass --magnitude); nothing sent"
            )
        return magnitudes[quorum]

    async def _plan(self, quorum: int) -> tuple[list[str], int]:
        """The strategies whose allocation must change, and the block a pending change is due."""
        want = self._magnitude(quorum)
        allocations = await self.sets.allocations(self.address, quorum)
        pending_until = max((a.effect_block for a in allocations if a.pending), default=0)
        todo = await allocation_changes(self.sets, self.address, quorum, allocations, want)
        return [a.strategy for a in todo], pending_until

    async def _settle(self, effect_block: int) -> int | None:
        """None once ``effect_block`` is reached (waiting for it if allowed), else the block."""
        head = await self.reader.get_current_block()
        if effect_block <= head:
            return None
        if self.options.wait is None:
            return effect_block
        deadline = time.monotonic() + self.options.wait
        while head < effect_block:
            if time.monotonic() >= deadline:
                return effect_block
            await asyncio.sleep(_WAIT_POLL)
            head = await self.reader.get_current_block()
        return None

    async def register(self, quorums: Sequence[int], socket: str, keypair: BlsKeyPair) -> None:
        for q in quorums:
            await self._check_stake(q)
        message = await self.reader.get_pubkey_registration_message(self.address)
        params = keypair.registration_params(message)  # raises if the local check fails
        receipt = await register_for_operator_sets(self.writer, quorums, socket, params.to_abi())
        self.steps.append(step_of(f"registered in operator-set quorums {list(quorums)}", receipt))

    async def _check_stake(self, quorum: int) -> None:
        if self.options.allow_zero_stake:
            return
        kind = self.kinds[quorum]
        if kind.kind == "slashable":
            allocations = await self.sets.allocations(self.address, quorum)
            zero = all(a.current == 0 for a in allocations)
        else:
            zero = await self.sets.live_weight(self.address, quorum) == 0
        if zero:
            what = "no magnitude allocated" if kind.kind == "slashable" else "no delegated stake"
            raise RegistrationRefusedError(
                f"quorum {quorum}: this operator has {what} and would register with zero stake "
                "(no chunks, no signatures counted); allocate or deposit first, or pass "
                "--allow-zero-stake (nothing sent)"
            )


async def deregister(
    writer: ChainWriter, quorums: Sequence[int] | None = None
) -> tuple[tuple[int, ...], tuple[Step, ...]]:
    """Leave ``quorums`` (all current ones when None); returns the quorums left and the
    transactions sent.

    Raises :class:`NotRegisteredError` when the operator is not in every quorum named.
    """
    reg = await writer.reader.get_registration(writer.address)
    leaving = plan_deregistration(reg, quorums)
    return leaving, await leave_quorums(writer, leaving)


async def leave_quorums(writer: ChainWriter, leaving: Sequence[int]) -> tuple[Step, ...]:
    """Leave ``leaving``: M2 quorums at the registry coordinator, operator-set quorums through
    the AllocationManager (after which the operator stays slashable by those sets, and cannot
    rejoin them, for DEALLOCATION_DELAY blocks; its allocations stay until it lowers them)."""
    sets = OperatorSets(writer.reader)
    kinds = await sets.quorum_kinds(leaving)
    m2 = [q for q in leaving if not kinds[q].operator_set]
    operator_set = [q for q in leaving if kinds[q].operator_set]
    steps = []
    if operator_set:
        try:
            receipt = await deregister_from_operator_sets(writer, operator_set)
        except ContractRevertError as exc:
            if not any(reason in exc.reason for reason in _NOT_IN_AVS_DIRECTORY):
                raise
            raise RegistrationRefusedError(
                f"{exc}: this AVS's registry coordinator (EigenLayer's RegistryCoordinator, "
                "for M2 and operator-set quorums) deregisters an operator in no M2 quorum from "
                "the AVSDirectory, where an operator that only joined operator sets never "
                "registered, so an operator in no M2 quorum cannot leave operator sets this "
                "way; nothing changed on chain. Ask the AVS (its coordinator or service "
                "manager must skip that step), or join an M2 quorum first"
            ) from exc
        deallocation_delay, _ = await sets.delays()
        until = int(receipt["blockNumber"]) + deallocation_delay
        steps.append(
            step_of(
                f"left operator-set quorums {operator_set}; slashable by them, and unable to "
                f"rejoin, until block {until}; allocations stay until lowered",
                receipt,
            )
        )
    if m2:  # last: leaving M2 quorums first would deregister from the AVS directory too soon
        receipt = await writer.deregister_operator(m2)
        steps.append(step_of(f"deregistered from M2 quorums {m2}", receipt))
    return tuple(steps)


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
