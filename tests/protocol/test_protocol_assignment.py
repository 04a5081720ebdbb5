"""Chunk assignment: worked examples, refusals, and the safety law as a property."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from operator_node.protocol import (
    BlobHeader,
    InvalidOperatorState,
    QuorumParams,
    UnassignableBlob,
    WrongAssignment,
    compute_blob_assignment,
    compute_min_chunk_count,
    compute_operator_chunks,
    compute_quorum_assignment,
    validate_chunk_indices,
)


def _op(i: int) -> bytes:
    return bytes([i]) * 32


Q0 = QuorumParams(0, 33, 55)  # margin 22
Q1 = QuorumParams(1, 40, 60)  # margin 20


def _header(k: int, n: int, quorums: tuple[QuorumParams, ...]) -> BlobHeader:
    return BlobHeader(bytes(32), k * 10, k, n, 10, quorums, bytes(20))


def test_quorum_assignment_worked_example() -> None:
    # m = ceil(4·100·S / (22·4)): S=1 -> ceil(4.54) = 5, S=2 -> ceil(9.09) = 10.
    operators = [(_op(3), 2), (_op(1), 1), (_op(2), 1)]
    ranges = compute_quorum_assignment(operators, 4, 20, Q0)
    assert ranges == {_op(1): range(0, 5), _op(2): range(5, 10), _op(3): range(10, 20)}
    assert list(ranges) == [_op(1), _op(2), _op(3)]


def test_quorum_assignment_ignores_input_order() -> None:
    rng = random.Random(5)
    operators = [(_op(i), rng.randrange(1, 10**20)) for i in range(10)]
    shuffled = operators[:]
    rng.shuffle(shuffled)
    n = compute_min_chunk_count(16, [Q0], {0: operators})
    assert compute_quorum_assignment(shuffled, 16, n, Q0) == compute_quorum_assignment(
        operators, 16, n, Q0
    )


def test_quorum_assignment_gives_zero_stake_nothing() -> None:
    ranges = compute_quorum_assignment([(_op(1), 1), (_op(2), 0), (_op(3), 1)], 4, 20, Q0)
    assert ranges == {_op(1): range(0, 10), _op(3): range(10, 20)}


def test_quorum_assignment_refuses_more_chunks_than_n() -> None:
    operators = [(_op(1), 1), (_op(2), 1), (_op(3), 2)]
    assert sum(len(r) for r in compute_quorum_assignment(operators, 4, 20, Q0).values()) == 20
    with pytest.raises(UnassignableBlob, match="needs 20 chunks"):
        compute_quorum_assignment(operators, 4, 19, Q0)


def test_quorum_assignment_refuses_bad_operator_state() -> None:
    with pytest.raises(UnassignableBlob, match="no stake"):
        compute_quorum_assignment([(_op(1), 0)], 4, 20, Q0)
    with pytest.raises(UnassignableBlob, match="no stake"):
        compute_quorum_assignment([], 4, 20, Q0)
    with pytest.raises(InvalidOperatorState):
        compute_quorum_assignment([(_op(1), 1), (_op(1), 2)], 4, 20, Q0)
    with pytest.raises(InvalidOperatorState):
        compute_quorum_assignment([(_op(1), 1), (_op(2), -1)], 4, 20, Q0)
    with pytest.raises(InvalidOperatorState):
        compute_quorum_assignment([(b"short", 1)], 4, 20, Q0)


def test_blob_assignment_unions_quorums() -> None:
    states = {0: [(_op(1), 1), (_op(2), 1)], 1: [(_op(2), 1), (_op(3), 3)]}
    # Q0: ceil(400/44) = 10 each -> op1 0..9, op2 10..19.
    # Q1: ceil(400/80) = 5 for op2 -> 0..4, ceil(1200/80) = 15 for op3 -> 5..19.
    header = _header(4, 20, (Q0, Q1))
    assignment = compute_blob_assignment(header, states)
    assert assignment == {
        _op(1): tuple(range(0, 10)),
        _op(2): tuple(range(0, 5)) + tuple(range(10, 20)),
        _op(3): tuple(range(5, 20)),
    }
    assert compute_operator_chunks(_op(2), header, states) == assignment[_op(2)]
    assert compute_operator_chunks(_op(9), header, states) == ()


def test_blob_assignment_refuses_if_any_quorum_overflows_or_lacks_state() -> None:
    states = {0: [(_op(1), 1)], 1: [(_op(1), 1), (_op(2), 1), (_op(3), 1)]}
    # Q1 needs 3·ceil(400/60) = 21 > 20 even though op1's Q0 share fits.
    with pytest.raises(UnassignableBlob, match="quorum 1"):
        compute_operator_chunks(_op(1), _header(4, 20, (Q0, Q1)), states)
    with pytest.raises(UnassignableBlob, match="no operator state for quorum 1"):
        compute_operator_chunks(_op(1), _header(4, 20, (Q0, Q1)), {0: states[0]})
    assert compute_min_chunk_count(4, [Q0, Q1], states) == 21


def test_validate_chunk_indices_names_the_difference() -> None:
    validate_chunk_indices(0, (1, 2, 3), (1, 2, 3))
    with pytest.raises(WrongAssignment, match=r"missing \[3\], unexpected \[4\]"):
        validate_chunk_indices(2, (1, 2, 4), (1, 2, 3))
    with pytest.raises(WrongAssignment, match=r"missing \[3\], unexpected \[\]"):
        validate_chunk_indices(2, (1, 2), (1, 2, 3))


@st.composite
def _scenarios(draw: st.DrawFn) -> tuple[list[tuple[bytes, int]], int, int, QuorumParams]:
    count = draw(st.integers(1, 8))
    big = draw(st.booleans())
    stakes = draw(st.lists(st.integers(0, 10**24 if big else 50), min_size=count, max_size=count))
    if not any(stakes):
        stakes[0] = 1
    adversary = draw(st.integers(1, 90))
    confirmation = draw(st.integers(adversary + 10, 100))
    k = draw(st.integers(1, 64))
    operators = [(_op(i), s) for i, s in enumerate(stakes)]
    quorum = QuorumParams(0, adversary, confirmation)
    # Aim n at the boundary Σ m_i often, so both outcomes (assigned, refused) are exercised.
    need = compute_min_chunk_count(k, [quorum], {0: operators})
    n = draw(st.sampled_from([need - 1, need, need + 3]) | st.integers(k, 255))
    assume(k <= n <= 255)
    return operators, k, n, quorum


@settings(max_examples=300, deadline=None)
@given(_scenarios())
def test_quorum_assignment_any_gamma_stake_holds_k_chunks(
    scenario: tuple[list[tuple[bytes, int]], int, int, QuorumParams],
) -> None:
    operators, k, n, quorum = scenario
    total = sum(s for _, s in operators)
    gamma = Fraction(quorum.margin_percent, 100)
    # Independent computation of m_i with exact rationals.
    expected = {i: math.ceil(Fraction(k * s, total) / gamma) for i, s in operators}
    event("refused" if sum(expected.values()) > n else "assigned")
    if sum(expected.values()) > n:
        with pytest.raises(UnassignableBlob):
            compute_quorum_assignment(operators, k, n, quorum)
        return
    ranges = compute_quorum_assignment(operators, k, n, quorum)
    assert {i: len(ranges.get(i, range(0))) for i, _ in operators} == expected
    held = [set(r) for r in ranges.values()]
    assert sum(len(h) for h in held) == len(set().union(*held))  # disjoint
    assert all(0 <= i < n for h in held for i in h)
    for mask in range(1 << len(operators)):
        subset = [operators[j] for j in range(len(operators)) if mask >> j & 1]
        if Fraction(sum(s for _, s in subset), total) >= gamma:
            chunks = set().union(*(ranges.get(i, range(0)) for i, _ in subset))
            assert len(chunks) >= k
