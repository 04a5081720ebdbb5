"""Merkle trees: hand-computed roots, proofs for every leaf, and refusal of bad proofs."""

from __future__ import annotations

import contextlib

import pytest
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from operator_node.protocol import BadProof, compute_merkle_root, keccak256, validate_merkle_proof
from operator_node.protocol.merkle import (
    compute_merkle_tree,
    compute_root_from_multiproof,
    compute_root_from_proof,
    multiproof_size,
    tree_depth,
    validate_merkle_proofs,
)

ZERO = bytes(32)


def _leaves(count: int) -> list[bytes]:
    return [keccak(bytes([i])) for i in range(count)]


def test_keccak256_is_keccak_not_sha3() -> None:
    assert keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )
    assert keccak256(memoryview(b"abc")) == keccak(b"abc")


def test_tree_depth_is_ceil_log2() -> None:
    assert [tree_depth(c) for c in (1, 2, 3, 4, 5, 8, 9, 255, 256)] == [0, 1, 2, 2, 3, 3, 4, 8, 8]
    with pytest.raises(ValueError):
        tree_depth(0)


def test_merkle_root_matches_hand_computation_with_zero_padding() -> None:
    a, b, c = _leaves(3)
    assert compute_merkle_root([a]) == a
    assert compute_merkle_root([a, b]) == keccak(a + b)
    expected = keccak(keccak(a + b) + keccak(c + ZERO))
    assert compute_merkle_root([a, b, c]) == expected


def test_merkle_proof_verifies_for_every_leaf_of_every_size() -> None:
    for count in range(1, 18):
        leaves = _leaves(count)
        tree = compute_merkle_tree(leaves)
        for index, leaf in enumerate(leaves):
            proof = tree.get_proof(index)
            assert len(proof) == tree_depth(count)
            validate_merkle_proof(leaf, index, proof, tree.root, count)


def test_merkle_proof_refuses_tampering() -> None:
    leaves = _leaves(5)
    tree = compute_merkle_tree(leaves)
    proof = tree.get_proof(2)
    bad_word = (proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:])
    cases = [
        (leaves[3], 2, proof, 5),  # another leaf
        (leaves[2], 3, proof, 5),  # wrong position
        (leaves[2], 2, bad_word, 5),  # altered sibling
        (leaves[2], 2, proof[:-1], 5),  # too short
        (leaves[2], 2, (*proof, ZERO), 5),  # too long
        (leaves[2], 5, proof, 5),  # index past the leaves
        (leaves[2], 2, proof, 16),  # leaf count of another depth
    ]
    for leaf, index, candidate, count in cases:
        with pytest.raises(BadProof):
            validate_merkle_proof(leaf, index, candidate, tree.root, count)


def test_merkle_inner_node_cannot_pass_as_leaf() -> None:
    leaves = _leaves(4)
    tree = compute_merkle_tree(leaves)
    inner = tree.levels[1][0]
    # The shortened proof does fold to the root, so only the depth check stops it.
    assert compute_root_from_proof(inner, 0, tree.levels[1][1:]) == tree.root
    with pytest.raises(BadProof):
        validate_merkle_proof(inner, 0, tree.levels[1][1:], tree.root, 4)


def test_merkle_tree_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        compute_merkle_tree([])
    with pytest.raises(ValueError):
        compute_merkle_tree([b"short"])
    with pytest.raises(IndexError):
        compute_merkle_tree(_leaves(3)).get_proof(3)


def _each_proof_holds(
    leaves: list[bytes], indices: list[int], proofs: list[tuple[bytes, ...]], root: bytes, n: int
) -> bool:
    try:
        for leaf, index, proof in zip(leaves, indices, proofs, strict=True):
            validate_merkle_proof(leaf, index, proof, root, n)
    except BadProof:
        return False
    return True


def _all_proofs_hold(
    leaves: list[bytes], indices: list[int], proofs: list[tuple[bytes, ...]], root: bytes, n: int
) -> bool:
    try:
        validate_merkle_proofs(leaves, indices, proofs, root, n)
    except BadProof:
        return False
    return True


@settings(max_examples=150, deadline=None)
@given(data=st.data(), count=st.integers(1, 70))
def test_merkle_proofs_together_agree_with_each_proof_alone(
    data: st.DataObject, count: int
) -> None:
    tree_leaves = _leaves(count)
    tree = compute_merkle_tree(tree_leaves)
    indices = sorted(data.draw(st.sets(st.integers(0, count - 1), min_size=1)))
    leaves = [tree_leaves[i] for i in indices]
    proofs = [tree.get_proof(i) for i in indices]
    assert _all_proofs_hold(leaves, indices, proofs, tree.root, count)
    if tree_depth(count) == 0 or not data.draw(st.booleans()):
        # Tamper with a leaf instead of a proof word.
        victim = data.draw(st.integers(0, len(leaves) - 1))
        leaves[victim] = keccak(leaves[victim])
    else:
        victim = data.draw(st.integers(0, len(proofs) - 1))
        level = data.draw(st.integers(0, tree_depth(count) - 1))
        words = list(proofs[victim])
        words[level] = bytes([words[level][0] ^ 1]) + words[level][1:]
        proofs[victim] = tuple(words)
    assert not _each_proof_holds(leaves, indices, proofs, tree.root, count)
    assert not _all_proofs_hold(leaves, indices, proofs, tree.root, count)


def test_merkle_proofs_check_redundant_words_of_neighbours() -> None:
    # Leaves 0 and 1 are each other's sibling: leaf 1's proof word 0 is never needed to fold the
    # root, yet a wrong one must still be refused (a retriever later checks that proof alone).
    leaves = _leaves(4)
    tree = compute_merkle_tree(leaves)
    bad = (keccak(b"not leaf 0"), *tree.get_proof(1)[1:])
    proofs = [tree.get_proof(0), bad]
    with pytest.raises(BadProof, match="leaf 1 disagrees at level 0"):
        validate_merkle_proofs(leaves[:2], [0, 1], proofs, tree.root, 4)


def test_merkle_proofs_refuse_shape_errors() -> None:
    leaves = _leaves(4)
    tree = compute_merkle_tree(leaves)
    proof = tree.get_proof(2)
    cases: list[tuple[list[bytes], list[int], list[tuple[bytes, ...]], str]] = [
        ([leaves[2]], [2], [proof[:-1]], "needs 2"),
        ([leaves[2]], [4], [proof], "outside a tree"),
        ([leaves[2], leaves[2]], [2, 2], [proof, proof], "appears twice"),
        ([leaves[2]], [2, 3], [proof], "differ in number"),
        ([leaves[2]], [2], [(proof[0][:31], proof[1])], "not 32 bytes"),
    ]
    for case_leaves, indices, proofs, message in cases:
        with pytest.raises(BadProof, match=message):
            validate_merkle_proofs(case_leaves, indices, proofs, tree.root, 4)
    validate_merkle_proofs([], [], [], tree.root, 4)  # nothing to check is not an error


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_multiproof_proves_any_set_of_leaves_and_nothing_else(data: st.DataObject) -> None:
    count = data.draw(st.integers(1, 300), label="leaves")
    leaves = [keccak256(i.to_bytes(4, "big")) for i in range(count)]
    tree = compute_merkle_tree(leaves)
    depth = tree_depth(count)
    indices = sorted(data.draw(st.sets(st.integers(0, count - 1), min_size=1), label="indices"))
    proof = tree.get_multiproof(indices)
    assert len(proof) == multiproof_size(indices, depth)
    chosen = [leaves[i] for i in indices]
    assert compute_root_from_multiproof(chosen, indices, proof, depth) == tree.root
    # Any changed leaf, word or index leads elsewhere, or is refused.
    for position in range(len(proof)):
        altered = list(proof)
        altered[position] = keccak256(altered[position])
        assert compute_root_from_multiproof(chosen, indices, altered, depth) != tree.root
    wrong = [keccak256(chosen[0]), *chosen[1:]]
    assert compute_root_from_multiproof(wrong, indices, proof, depth) != tree.root
    if indices[-1] + 1 < count:  # the last leaf claimed one place further on
        moved = [*indices[:-1], indices[-1] + 1]
        with contextlib.suppress(BadProof):  # or the proof no longer has the right length
            assert compute_root_from_multiproof(chosen, moved, proof, depth) != tree.root
    with pytest.raises(BadProof):
        compute_root_from_multiproof(chosen, indices, (*proof, proof[0] if proof else ZERO), depth)
    if proof:
        with pytest.raises(BadProof):
            compute_root_from_multiproof(chosen, indices, proof[:-1], depth)


def test_multiproof_of_a_contiguous_run_is_two_words_a_level_at_most() -> None:
    leaves = [keccak256(i.to_bytes(4, "big")) for i in range(8194)]
    tree = compute_merkle_tree(leaves)
    run = list(range(1000, 4277))  # a node's share of an 8,194-chunk blob
    assert len(tree.get_multiproof(run)) <= 2 * tree_depth(8194)
    assert len(tree.get_multiproof([0])) == tree_depth(8194)  # one leaf: its sibling path
    assert tree.get_multiproof([5]) == tree.get_proof(5)
    # Every leaf: only nodes over the zero padding, at most one a level.
    assert 0 < len(tree.get_multiproof(list(range(8194)))) <= tree_depth(8194)
