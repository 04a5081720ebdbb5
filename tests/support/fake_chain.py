"""A small in-memory ChainView for tests that exercise the node without anvil."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from operator_node.protocol.assignment import OperatorStakes


@dataclass
class FakeChain:
    """Fixed operator state, a settable chain head and a settable disperser allow-list."""

    states: Mapping[int, OperatorStakes]
    head: int
    dispersers: set[str] = field(default_factory=set)
    head_reads: int = 0

    async def get_operator_state(
        self, quorums: Sequence[int], block_number: int
    ) -> Mapping[int, OperatorStakes]:
        """The fixed state of each quorum asked for (the block is ignored)."""
        return {q: self.states[q] for q in quorums}

    async def get_block_number(self) -> int:
        """The chain head set by the test (counted in ``head_reads``)."""
        self.head_reads += 1
        return self.head

    async def is_disperser(self, address: str) -> bool:
        """Whether the (lower-cased) address was added to ``dispersers``."""
        return address.lower() in self.dispersers
