"""Changing an operator's allocation to an operator set: which strategies change, checked before
anything is sent (EigenLayer refuses a second change while one is pending, and more magnitude
than is unallocated), and the change sent with the block it takes effect at read back from the
chain. ``register`` and ``allocate`` both go through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from operator_node.chain.errors import RegistrationRefusedError
from operator_node.chain.operator_sets import Allocation, OperatorSets, modify_allocations
from operator_node.chain.writer import ChainWriter, Step, step_of


async def allocation_changes(
    sets: OperatorSets,
    operator: str,
    quorum: int,
    allocations: Sequence[Allocation],
    magnitude: int,
) -> list[Allocation]:
    """The allocations that setting ``magnitude`` would change. Raises
    :class:`RegistrationRefusedError` where one of them has a change pending (EigenLayer refuses
    a second) or the operator lacks the unallocated magnitude."""
    todo = [a for a in allocations if a.target != magnitude]
    for a in todo:
        if a.pending:
            raise RegistrationRefusedError(
                f"operator set {quorum}: strategy {a.strategy} has a change pending until block "
                f"{a.effect_block}; try again after it (nothing sent)"
            )
        if magnitude > a.current:
            free = await sets.allocatable(operator, a.strategy)
            if magnitude - a.current > free:
                raise RegistrationRefusedError(
                    f"operator set {quorum}: strategy {a.strategy} needs {magnitude - a.current} "
                    f"more magnitude and only {free} of 1e18 is unallocated (nothing sent)"
                )
    return todo


@dataclass(frozen=True)
class AllocationPlan:
    """A checked change of the operator's magnitude in one operator set: the strategies it
    changes, and what it does in words (to show before asking)."""

    quorum: int
    magnitude: int
    strategies: tuple[str, ...]
    description: str


async def plan_allocation(
    writer: ChainWriter, quorum: int, magnitude: int
) -> AllocationPlan | None:
    """Setting the operator's magnitude in ``quorum``'s operator set to ``magnitude``, checked
    before anything is sent (None when every strategy has it already).

    Raises :class:`RegistrationRefusedError` for an M2 quorum, a change still pending, or too
    little unallocated magnitude.
    """
    sets = OperatorSets(writer.reader)
    kind = (await sets.quorum_kinds([quorum]))[quorum]
    if not kind.operator_set:
        raise RegistrationRefusedError(f"quorum {quorum} is an M2 quorum: it has no allocations")
    standing = await sets.standing(writer.address, kind)
    todo = await allocation_changes(sets, writer.address, quorum, standing.allocations, magnitude)
    if not todo:
        return None
    lines = [f"operator {writer.address}, operator set {quorum} ({kind.kind} stake):"]
    lines += [f"  strategy {a.strategy}: {a.current} -> {magnitude}" for a in todo]
    if magnitude > min(a.current for a in todo):
        _, delay = await sets.allocation_delay(writer.address)
        lines.append(f"more takes effect after the allocation delay ({delay} blocks)")
    if magnitude < max(a.current for a in todo):
        deallocation_delay, _ = await sets.delays()
        lines.append(
            f"less takes effect after {deallocation_delay + 1} blocks (the set can still slash "
            "it until then)"
            if standing.slashable
            else "less takes effect at once (the set cannot slash this operator)"
        )
    strategies = tuple(a.strategy for a in todo)
    return AllocationPlan(quorum, magnitude, strategies, "\n".join(lines))


async def apply_allocation(writer: ChainWriter, plan: AllocationPlan) -> Step:
    """Send ``plan``; the effect block is the chain's, read back from the allocations."""
    receipt = await modify_allocations(writer, [(plan.quorum, plan.strategies, plan.magnitude)])
    after = await OperatorSets(writer.reader).allocations(writer.address, plan.quorum)
    effect = max((a.effect_block for a in after if a.pending), default=int(receipt["blockNumber"]))
    return step_of(
        f"allocated {plan.magnitude} to operator set {plan.quorum}, effective at block {effect}",
        receipt,
    )
