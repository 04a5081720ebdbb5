"""Heavy-tailed stake for a scale devnet: S_i ∝ 1/i^alpha, the running nodes on top.

Stake on a real AVS is concentrated: a few operators hold most of it, a long tail holds little.
A scale devnet registers many operators of which only a few run a node, so the profile puts the
running nodes at ranks 1..M, the top M by stake. With the default alpha = 1.5, four nodes among
250 operators hold 67% of the stake: above the disperser's default confirmation threshold of 50%
(their signatures alone confirm a batch) and far above the 25% (confirmation - adversary) whose
chunks rebuild a blob, so retrieval succeeds from them alone. At alpha = 1 the same four hold 34%,
at 1.2 48%, at 1.3 55% (too thin a margin); at 2 they hold 87% and the tail is nearly all at the
minimum.

Stakes are whole tokens, ``round(top / i**alpha)`` and never below ``minimum``.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ALPHA = 1.5
DEFAULT_TOP_STAKE = 100_000  # whole tokens; rank 250 then holds 25 at alpha 1.5


@dataclass(frozen=True)
class StakeProfile:
    """S_i = max(minimum, round(top / i**alpha)) whole tokens for ranks i = 1, 2, ..."""

    alpha: float = DEFAULT_ALPHA
    top: int = DEFAULT_TOP_STAKE
    minimum: int = 1

    def __post_init__(self) -> None:
        if self.alpha < 0 or self.top < 1 or not 1 <= self.minimum <= self.top:
            raise ValueError(
                f"a stake profile needs alpha >= 0 and 1 <= minimum <= top, got {self}"
            )

    def compute_stakes(self, count: int) -> list[int]:
        """The stakes of ranks 1..``count``, largest first."""
        return [
            max(self.minimum, round(self.top / rank**self.alpha)) for rank in range(1, count + 1)
        ]

    def split(self, operators: int, nodes: int) -> tuple[list[int], list[int]]:
        """(the ``nodes`` running nodes' stakes, the other operators' stakes) for ``operators``
        operators in all: the nodes get the top ranks, each list largest first.

        Raises ValueError unless 1 <= nodes <= operators.
        """
        if not 1 <= nodes <= operators:
            raise ValueError(f"need 1 <= nodes <= operators, got {nodes} of {operators}")
        stakes = self.compute_stakes(operators)
        return stakes[:nodes], stakes[nodes:]
