"""Stake-weighted chunk assignment, a pure function of operator state and the blob header.

For one quorum with thresholds (adversary, confirmation) in percent, operators ordered by
operator id and stakes S_i: operator i gets m_i = ceil(k·100·S_i / ((confirmation - adversary)·ΣS))
chunks, laid out contiguously from index 0 in that order. Exact integer arithmetic: the formula is
m_i = ceil(k·S_i / (gamma·ΣS)) with gamma = (confirmation - adversary)/100, without floats.

Why it is safe: for any set H of operators with 100·S_H ≥ (confirmation - adversary)·ΣS,
Σ_{i∈H} m_i ≥ k·100·S_H / ((confirmation - adversary)·ΣS) ≥ k, and the ranges are disjoint, so H
holds at least k distinct chunks. The blob is refused if Σ m_i > n for any of its quorums. An
operator in several quorums stores the union of its index ranges.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from operator_node.protocol.errors import InvalidOperatorState, UnassignableBlob, WrongAssignment
from operator_node.protocol.hashes import WORD_BYTES
from operator_node.protocol.headers import BlobHeader, QuorumParams

# One quorum's operator state at the reference block: (operator id, stake) pairs.
OperatorStakes = Sequence[tuple[bytes, int]]


def _validate_stakes(operators: OperatorStakes) -> None:
    seen: set[bytes] = set()
    for operator_id, stake in operators:
        if len(operator_id) != WORD_BYTES or operator_id in seen:
            raise InvalidOperatorState(
                f"operator id {operator_id.hex()} is not 32 bytes or repeats"
            )
        if stake < 0:
            raise InvalidOperatorState(f"operator {operator_id.hex()} has negative stake {stake}")
        seen.add(operator_id)


def compute_chunk_counts(operators: OperatorStakes, k: int, quorum: QuorumParams) -> list[int]:
    """Return m_i for each operator, in the order given (zero for zero stake).

    Raises :class:`UnassignableBlob` if the quorum has no stake and :class:`InvalidOperatorState`
    for bad ids or negative stakes.
    """
    _validate_stakes(operators)
    total = sum(stake for _, stake in operators)
    if total == 0:
        raise UnassignableBlob(f"quorum {quorum.quorum_number} has no stake at the reference block")
    denominator = quorum.margin_percent * total
    return [-(-(k * 100 * stake) // denominator) for _, stake in operators]


def _quorum_state(states: Mapping[int, OperatorStakes], quorum: QuorumParams) -> OperatorStakes:
    try:
        return states[quorum.quorum_number]
    except KeyError:
        raise UnassignableBlob(
            f"no operator state for quorum {quorum.quorum_number} of the blob"
        ) from None


def compute_min_chunk_count(
    k: int, quorums: Sequence[QuorumParams], states: Mapping[int, OperatorStakes]
) -> int:
    """Return the smallest n for which a blob with this k and these quorums can be assigned.

    That is the largest Σ m_i over the quorums (and at least k); the disperser encodes with this
    n or more. ``states`` maps quorum numbers to operator state. Raises as
    :func:`compute_chunk_counts`, and :class:`UnassignableBlob` for a quorum without state.
    """
    need = k
    for quorum in quorums:
        counts = compute_chunk_counts(_quorum_state(states, quorum), k, quorum)
        need = max(need, sum(counts))
    return need


def compute_quorum_assignment(
    operators: OperatorStakes, k: int, n: int, quorum: QuorumParams
) -> dict[bytes, range]:
    """Return each staked operator's contiguous chunk range for one quorum of a blob.

    ``operators`` may come in any order; they are laid out by ascending operator id. Operators
    with zero stake are absent from the result. Raises :class:`UnassignableBlob` if Σ m_i > n or
    the quorum has no stake, :class:`InvalidOperatorState` for bad ids or stakes.
    """
    ordered = sorted(operators)
    counts = compute_chunk_counts(ordered, k, quorum)
    if sum(counts) > n:
        raise UnassignableBlob(
            f"quorum {quorum.quorum_number} needs {sum(counts)} chunks for k={k}, blob has n={n}"
        )
    ranges: dict[bytes, range] = {}
    start = 0
    for (operator_id, _), count in zip(ordered, counts, strict=True):
        if count:
            ranges[operator_id] = range(start, start + count)
        start += count
    return ranges


def compute_blob_assignment(
    header: BlobHeader, states: Mapping[int, OperatorStakes]
) -> dict[bytes, tuple[int, ...]]:
    """Return, for every operator that gets chunks of this blob, its sorted chunk indices.

    ``states`` maps each quorum number of the blob to that quorum's operator state. The indices
    are the union over the blob's quorums. Raises :class:`UnassignableBlob` if any quorum cannot
    be assigned within n or has no state, :class:`InvalidOperatorState` for bad state.
    """
    union: dict[bytes, set[int]] = {}
    for quorum in header.quorums:
        operators = _quorum_state(states, quorum)
        for operator_id, indices in compute_quorum_assignment(
            operators, header.k, header.n, quorum
        ).items():
            union.setdefault(operator_id, set()).update(indices)
    return {operator_id: tuple(sorted(indices)) for operator_id, indices in sorted(union.items())}


def compute_operator_chunks(
    operator_id: bytes, header: BlobHeader, states: Mapping[int, OperatorStakes]
) -> tuple[int, ...]:
    """Return the sorted chunk indices ``operator_id`` must hold for this blob (maybe none).

    The whole blob is validated, not just this operator's share: a blob that any of its quorums
    cannot assign is refused with :class:`UnassignableBlob` even if this operator's ranges fit.
    """
    return compute_blob_assignment(header, states).get(operator_id, ())


def validate_chunk_indices(blob_index: int, sent: Sequence[int], expected: Sequence[int]) -> None:
    """Check that the chunk indices ``sent`` for a blob are exactly the ``expected`` ones.

    Returns None; raises :class:`WrongAssignment` naming the missing and unexpected indices.
    """
    if tuple(sent) == tuple(expected):
        return
    missing = sorted(set(expected) - set(sent))
    extra = sorted(set(sent) - set(expected))
    raise WrongAssignment(
        f"blob {blob_index}: chunks sent differ from this operator's assignment "
        f"(missing {missing[:8]}{'…' if len(missing) > 8 else ''}, "
        f"unexpected {extra[:8]}{'…' if len(extra) > 8 else ''})"
    )
