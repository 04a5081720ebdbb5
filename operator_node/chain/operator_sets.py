"""Operator sets, allocations and slashable stake: EigenLayer's current core, as the node sees it.

On a deployment whose registry coordinator answers ``allocationManager()`` (discovery binds it),
each quorum is either an **M2 quorum** — joined at the registry coordinator with an AVSDirectory
signature — or an **operator-set quorum**, operator set ``(avs, quorum)`` of the AllocationManager,
joined with ``AllocationManager.registerForOperatorSets``, which calls the registry coordinator as
the AVS's registrar with ``abi.encode(uint8 0, socket, PubkeyRegistrationParams)``. An
operator-set quorum weighs either the operators' delegated shares (``TOTAL_DELEGATED``) or the
shares they allocated to the set and that stay slashable over the quorum's look-ahead window
(``TOTAL_SLASHABLE``). Allocations take effect after the operator's allocation delay; pending
ones count for nothing. An older middleware (M2 only) has no ``allocationManager()``: every
quorum is M2 there.

Everything here reads or calls functions EigenLayer's AllocationManager, RegistryCoordinator and
StakeRegistry have (docs/eigenlayer-conformance.md); the registry coordinator's *recorded* stake
(``getOperatorState``) stays what chunk assignment and signatures use — the live weight shown
next to it is what the next ``updateOperators`` would record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from web3.contract import AsyncContract
from web3.types import TxReceipt

from operator_node.chain.calls import call_view, probe_view
from operator_node.chain.errors import ChainConfigError
from operator_node.chain.reader import ChainReader
from operator_node.chain.writer import ChainWriter

WAD = 10**18
"""A magnitude of 1e18 is all of an operator's shares in a strategy."""
REGISTRATION_MODES = ("auto", "m2", "operator_sets")
_PUBKEY_PARAMS = "((uint256,uint256),(uint256,uint256),(uint256[2],uint256[2]))"
_REGISTRATION_NORMAL = 0
_STAKE_TYPES = {0: "delegated", 1: "slashable"}


def registration_data(socket: str, pubkey_params: Any) -> bytes:
    """The registrar data of a NORMAL registration: ``abi.encode(uint8 0, string socket,
    PubkeyRegistrationParams)`` (``pubkey_params`` as ``PubkeyRegistrationParams.to_abi()``)."""
    return abi_encode(
        ["uint8", "string", _PUBKEY_PARAMS], [_REGISTRATION_NORMAL, socket, pubkey_params]
    )


@dataclass(frozen=True)
class QuorumKind:
    """How operators join a quorum and what its stake counts."""

    quorum: int
    kind: str
    """"m2", "delegated" (operator set, delegated shares) or "slashable" (operator set,
    allocated slashable shares)."""
    look_ahead: int = 0
    """Blocks of the slashable window (slashable quorums)."""

    @property
    def operator_set(self) -> bool:
        """Joined through the AllocationManager."""
        return self.kind != "m2"


@dataclass(frozen=True)
class Allocation:
    """The operator's magnitude in one strategy of one operator set."""

    strategy: str
    current: int
    pending: int
    """The change still to take effect (0 when none; negative for a deallocation)."""
    effect_block: int

    @property
    def target(self) -> int:
        """The magnitude once the pending change has taken effect."""
        return self.current + self.pending


@dataclass(frozen=True)
class SetStanding:
    """The operator in one operator-set quorum: membership, allocations and live weight."""

    kind: QuorumKind
    member: bool
    slashable: bool
    allocations: tuple[Allocation, ...]
    live_weight: int
    """``StakeRegistry.weightOfOperatorForQuorum``: what registering or ``updateOperators``
    would record now."""
    minimum_stake: int


class OperatorSets:
    """Reads of the AllocationManager and the operator-set side of the registry coordinator."""

    def __init__(self, reader: ChainReader) -> None:
        self.reader = reader
        self._contracts = reader.contracts
        self._delays: tuple[int, int] | None = None

    @property
    def available(self) -> bool:
        """Whether the deployment has operator sets (its coordinator names an AllocationManager)."""
        return self._contracts.allocation_manager is not None

    @property
    def manager(self) -> AsyncContract:
        """The AllocationManager; raises :class:`ChainConfigError` where there is none."""
        manager = self._contracts.allocation_manager
        if manager is None:
            raise ChainConfigError(
                "this AVS's registry coordinator has no AllocationManager (an M2-only "
                "middleware): its quorums are joined the M2 way"
            )
        return manager

    def operator_set(self, quorum: int) -> tuple[str, int]:
        """The operator set of an operator-set quorum: (avs, id = quorum number)."""
        return (self._contracts.avs, quorum)

    async def quorum_kinds(self, quorums: Sequence[int]) -> dict[int, QuorumKind]:
        """Each quorum's kind (all "m2" where the deployment has no operator sets)."""
        if not self.available:
            return {q: QuorumKind(q, "m2") for q in quorums}
        rc, stakes = self._contracts.registry_coordinator, self._contracts.stake_registry
        kinds = {}
        for q in quorums:
            # A SlashingRegistryCoordinator (operator sets only) has no isM2Quorum.
            answered, m2 = await probe_view(rc.functions.isM2Quorum(q))
            if answered and m2:
                kinds[q] = QuorumKind(q, "m2")
                continue
            stake_type = int(
                await call_view("StakeRegistry", stakes.functions.stakeTypePerQuorum(q))
            )
            look_ahead = 0
            if stake_type == 1:
                fn = stakes.functions.slashableStakeLookAheadPerQuorum(q)
                look_ahead = int(await call_view("StakeRegistry", fn))
            kinds[q] = QuorumKind(q, _STAKE_TYPES.get(stake_type, f"type {stake_type}"), look_ahead)
        return kinds

    async def m2_registration_disabled(self) -> bool:
        """``isM2QuorumRegistrationDisabled``: False where the coordinator predates operator
        sets, True where it has no M2 registration at all (a SlashingRegistryCoordinator)."""
        if not self.available:
            return False
        rc = self._contracts.registry_coordinator
        answered, disabled = await probe_view(rc.functions.isM2QuorumRegistrationDisabled())
        return bool(disabled) if answered else True

    async def delays(self) -> tuple[int, int]:
        """(DEALLOCATION_DELAY, ALLOCATION_CONFIGURATION_DELAY), read once."""
        if self._delays is None:
            manager = self.manager
            dealloc = await call_view("AllocationManager", manager.functions.DEALLOCATION_DELAY())
            config = await call_view(
                "AllocationManager", manager.functions.ALLOCATION_CONFIGURATION_DELAY()
            )
            self._delays = (int(dealloc), int(config))
        return self._delays

    async def allocation_delay(self, operator: str) -> tuple[bool, int]:
        """``getAllocationDelay``: (whether set, the delay in blocks in force now)."""
        is_set, delay = await call_view(
            "AllocationManager", self.manager.functions.getAllocationDelay(operator)
        )
        return bool(is_set), int(delay)

    async def strategies(self, quorum: int) -> tuple[str, ...]:
        """The strategies of the quorum's operator set."""
        fn = self.manager.functions.getStrategiesInOperatorSet(self.operator_set(quorum))
        return tuple(str(s) for s in await call_view("AllocationManager", fn))

    async def allocations(self, operator: str, quorum: int) -> tuple[Allocation, ...]:
        """The operator's allocation to the quorum's set in each of its strategies."""
        result = []
        for strategy in await self.strategies(quorum):
            fn = self.manager.functions.getAllocation(operator, self.operator_set(quorum), strategy)
            current, pending, effect = await call_view("AllocationManager", fn)
            result.append(Allocation(strategy, int(current), int(pending), int(effect)))
        return tuple(result)

    async def allocatable(self, operator: str, strategy: str) -> int:
        """``getAllocatableMagnitude``: what the operator can still allocate in ``strategy``."""
        fn = self.manager.functions.getAllocatableMagnitude(operator, strategy)
        return int(await call_view("AllocationManager", fn))

    async def live_weight(self, operator: str, quorum: int) -> int:
        """``StakeRegistry.weightOfOperatorForQuorum`` now."""
        fn = self._contracts.stake_registry.functions.weightOfOperatorForQuorum(quorum, operator)
        return int(await call_view("StakeRegistry", fn))

    async def minimum_stake(self, quorum: int) -> int:
        """``StakeRegistry.minimumStakeForQuorum``."""
        fn = self._contracts.stake_registry.functions.minimumStakeForQuorum(quorum)
        return int(await call_view("StakeRegistry", fn))

    async def standing(self, operator: str, kind: QuorumKind) -> SetStanding:
        """The operator in one operator-set quorum, read now."""
        manager, operator_set = self.manager, self.operator_set(kind.quorum)
        member = await call_view(
            "AllocationManager", manager.functions.isMemberOfOperatorSet(operator, operator_set)
        )
        slashable = await call_view(
            "AllocationManager", manager.functions.isOperatorSlashable(operator, operator_set)
        )
        return SetStanding(
            kind=kind,
            member=bool(member),
            slashable=bool(slashable),
            allocations=await self.allocations(operator, kind.quorum),
            live_weight=await self.live_weight(operator, kind.quorum),
            minimum_stake=await self.minimum_stake(kind.quorum),
        )


async def set_allocation_delay(writer: ChainWriter, delay: int) -> TxReceipt:
    """``AllocationManager.setAllocationDelay`` for the writer's operator (effective after
    ALLOCATION_CONFIGURATION_DELAY + 1 blocks)."""
    manager = OperatorSets(writer.reader).manager
    call = manager.functions.setAllocationDelay(writer.address, delay)
    return await writer.tx.send(call, "AllocationManager.setAllocationDelay")


async def modify_allocations(
    writer: ChainWriter, changes: Sequence[tuple[int, Sequence[str], int]]
) -> TxReceipt:
    """``AllocationManager.modifyAllocations``: for each (quorum, strategies, magnitude), set the
    operator's magnitude in every strategy of the quorum's set."""
    sets = OperatorSets(writer.reader)
    params = [
        (sets.operator_set(quorum), list(strategies), [magnitude] * len(strategies))
        for quorum, strategies, magnitude in changes
    ]
    call = sets.manager.functions.modifyAllocations(writer.address, params)
    return await writer.tx.send(call, "AllocationManager.modifyAllocations")


async def register_for_operator_sets(
    writer: ChainWriter, quorums: Sequence[int], socket: str, pubkey_params: Any
) -> TxReceipt:
    """``AllocationManager.registerForOperatorSets`` into the quorums' sets (ascending, as the
    registrar requires) with the NORMAL registration data."""
    sets = OperatorSets(writer.reader)
    params = (
        writer.reader.contracts.avs,
        sorted(quorums),
        registration_data(socket, pubkey_params),
    )
    call = sets.manager.functions.registerForOperatorSets(writer.address, params)
    return await writer.tx.send(call, "AllocationManager.registerForOperatorSets")


async def deregister_from_operator_sets(writer: ChainWriter, quorums: Sequence[int]) -> TxReceipt:
    """``AllocationManager.deregisterFromOperatorSets`` from the quorums' sets."""
    sets = OperatorSets(writer.reader)
    params = (writer.address, writer.reader.contracts.avs, sorted(quorums))
    call = sets.manager.functions.deregisterFromOperatorSets(params)
    return await writer.tx.send(call, "AllocationManager.deregisterFromOperatorSets")
