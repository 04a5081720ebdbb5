"""What the dispersal pipeline needs from the chain, as a narrow protocol."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from operator_node.protocol.assignment import OperatorStakes


class ChainView(Protocol):
    """Operator state and the disperser allow-list, read from the chain.

    Implementations raise :class:`~operator_node.dispersal.errors.ChainUnavailable` when the chain
    cannot be read.
    """

    async def get_operator_state(
        self, quorums: Sequence[int], block_number: int
    ) -> Mapping[int, OperatorStakes]:
        """Each quorum's (operator id, stake) pairs at ``block_number``, ordered by operator id."""
        ...

    async def get_block_number(self) -> int:
        """The current block number."""
        ...

    async def is_disperser(self, address: str) -> bool:
        """Whether the ServiceManager allows ``address`` to disperse (any case). Called for
        every request that passed its signature check, forged ones included: answer from
        memory, not with a chain call per address."""
        ...
