"""Binary keccak Merkle trees: roots, sibling-path proofs, multiproofs and their verification.

Leaves are 32-byte words, padded with zero words up to the next power of two; a parent is
keccak256(left ‖ right). A proof is the list of sibling words from the leaf up to the root, so its
length is the tree depth, which the verifier derives from the leaf count it already knows: a proof
of any other length is refused, so an inner node can never pass for a leaf.

A multiproof proves many leaves at once: it holds every node the verifier cannot compute from the
leaves it has, level by level from the leaves up and left to right within a level, and nothing
else, so its length follows from the leaf indices and the depth (:func:`multiproof_positions`).
For a contiguous run of leaves that is at most two words a level: a node holding a thousand
chunks of a blob proves them with a few hundred bytes instead of a proof per chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from operator_node.protocol.errors import BadProof
from operator_node.protocol.hashes import WORD_BYTES, ZERO_WORD, keccak256, keccak256_many


def tree_depth(leaf_count: int) -> int:
    """Return the depth of a tree over ``leaf_count`` (≥ 1) leaves: ceil(log2(leaf_count))."""
    if leaf_count < 1:
        raise ValueError("a Merkle tree needs at least one leaf")
    return (leaf_count - 1).bit_length()


@dataclass(frozen=True)
class MerkleTree:
    """Every level of a tree, leaves (padded) first and the root level last."""

    levels: tuple[tuple[bytes, ...], ...]
    leaf_count: int

    @property
    def root(self) -> bytes:
        """The root word."""
        return self.levels[-1][0]

    def get_proof(self, index: int) -> tuple[bytes, ...]:
        """Return the sibling path of leaf ``index``, leaf level first.

        Raises ``IndexError`` if ``index`` is not one of the unpadded leaves.
        """
        if not 0 <= index < self.leaf_count:
            raise IndexError(f"leaf {index} is not in a tree of {self.leaf_count} leaves")
        path = []
        for level in self.levels[:-1]:
            path.append(level[index ^ 1])
            index >>= 1
        return tuple(path)

    def get_multiproof(self, indices: Sequence[int]) -> tuple[bytes, ...]:
        """Return the multiproof of the leaves at ``indices`` (strictly increasing).

        Raises ``IndexError`` if an index is not one of the unpadded leaves.
        """
        if indices and not (indices[0] >= 0 and indices[-1] < self.leaf_count):
            raise IndexError(f"leaves {indices[0]}..{indices[-1]} are not all in the tree")
        depth = len(self.levels) - 1
        return tuple(self.levels[level][p] for level, p in multiproof_positions(indices, depth))


def multiproof_positions(indices: Sequence[int], depth: int) -> list[tuple[int, int]]:
    """The (level, position) of every word of the multiproof of leaves ``indices`` (strictly
    increasing) in a tree of ``depth`` levels, in the multiproof's order."""
    wanted: list[tuple[int, int]] = []
    known = list(indices)
    for level in range(depth):
        parents = []
        j, count = 0, len(known)
        while j < count:
            p = known[j]
            if p & 1:  # a right child whose left sibling is not known
                wanted.append((level, p - 1))
                j += 1
            elif j + 1 < count and known[j + 1] == p + 1:  # both children known
                j += 2
            else:  # a left child whose right sibling is not known
                wanted.append((level, p + 1))
                j += 1
            parents.append(p >> 1)
        known = parents
    return wanted


def multiproof_size(indices: Sequence[int], depth: int) -> int:
    """The number of words in the multiproof of leaves ``indices`` (see multiproof_positions)."""
    return len(multiproof_positions(indices, depth))


def compute_root_from_multiproof(
    leaves: Sequence[bytes], indices: Sequence[int], proof: Sequence[bytes], depth: int
) -> bytes:
    """Fold ``proof`` onto ``leaves`` at ``indices`` (strictly increasing, at least one) in a tree
    of ``depth`` levels; return the root. Words are taken in the order multiproof_positions gives.

    Raises :class:`BadProof` if the proof has too few or too many words or an index does not
    fit the depth.
    """
    if not indices or not 0 <= indices[0] <= indices[-1] < (1 << depth):
        raise BadProof(f"leaf indices do not fit a tree of depth {depth}")
    known = list(indices)
    values = list(leaves)
    taken = 0
    for _ in range(depth):
        parents, pairs = [], []
        j, count = 0, len(known)
        try:
            while j < count:
                p, value = known[j], values[j]
                if p & 1:
                    pairs.append(proof[taken] + value)
                    taken += 1
                    j += 1
                elif j + 1 < count and known[j + 1] == p + 1:
                    pairs.append(value + values[j + 1])
                    j += 2
                else:
                    pairs.append(value + proof[taken])
                    taken += 1
                    j += 1
                parents.append(p >> 1)
        except IndexError:
            raise BadProof(f"the multiproof has {len(proof)} words, too few") from None
        known, values = parents, keccak256_many(pairs)
    if taken != len(proof):
        raise BadProof(f"the multiproof has {len(proof)} words, {taken} expected")
    return values[0]


def compute_merkle_tree(leaves: Sequence[bytes]) -> MerkleTree:
    """Build the whole tree over ``leaves`` (32-byte words, at least one).

    Raises ``ValueError`` for no leaves or a leaf that is not 32 bytes.
    """
    if any(len(leaf) != WORD_BYTES for leaf in leaves):
        raise ValueError("every Merkle leaf must be a 32-byte word")
    width = 1 << tree_depth(len(leaves))
    level = tuple(leaves) + (ZERO_WORD,) * (width - len(leaves))
    levels = [level]
    while len(level) > 1:
        level = tuple(keccak256_many([level[i] + level[i + 1] for i in range(0, len(level), 2)]))
        levels.append(level)
    return MerkleTree(levels=tuple(levels), leaf_count=len(leaves))


def compute_merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Return the root over ``leaves``; see :func:`compute_merkle_tree` for the errors."""
    return compute_merkle_tree(leaves).root


def compute_root_from_proof(leaf: bytes, index: int, proof: Sequence[bytes]) -> bytes:
    """Fold ``proof`` (sibling path, leaf level first) onto ``leaf`` at ``index``; return the root.

    Raises :class:`BadProof` if ``index`` does not fit a tree of ``len(proof)`` levels or a word
    is not 32 bytes.
    """
    if not 0 <= index < (1 << len(proof)):
        raise BadProof(f"leaf index {index} does not fit a proof of depth {len(proof)}")
    node = leaf
    for sibling in proof:
        if len(sibling) != WORD_BYTES:
            raise BadProof("a Merkle proof word is not 32 bytes")
        node = keccak256(sibling + node) if index & 1 else keccak256(node + sibling)
        index >>= 1
    return node


def validate_merkle_proof(
    leaf: bytes, index: int, proof: Sequence[bytes], root: bytes, leaf_count: int
) -> None:
    """Check that ``leaf`` sits at ``index`` of the ``leaf_count``-leaf tree with ``root``.

    Returns None; raises :class:`BadProof` naming what failed (index, proof length, root).
    """
    if not 0 <= index < leaf_count:
        raise BadProof(f"leaf index {index} is outside a tree of {leaf_count} leaves")
    depth = tree_depth(leaf_count)
    if len(proof) != depth:
        raise BadProof(
            f"Merkle proof has {len(proof)} words, a tree of {leaf_count} leaves needs {depth}"
        )
    if compute_root_from_proof(leaf, index, proof) != root:
        raise BadProof(f"Merkle proof of leaf {index} does not lead to the root")


def validate_merkle_proofs(
    leaves: Sequence[bytes],
    indices: Sequence[int],
    proofs: Sequence[Sequence[bytes]],
    root: bytes,
    leaf_count: int,
) -> None:
    """Check many proofs of one tree at once: the same verdict as each proof on its own.

    Works level by level. The nodes on the leaves' paths are computed once each (a run of
    neighbouring leaves shares most of its path), and every proof word must equal the node it
    names: a computed one, or the value the first proof gave for a node off every path. Then the
    one computed root must be ``root``. Hashing is therefore about two per leaf instead of
    ``depth`` per leaf, and no word of any proof goes unchecked.

    Returns None; raises :class:`BadProof` naming a leaf whose proof disagrees.
    """
    if not len(leaves) == len(indices) == len(proofs):
        raise BadProof("leaves, indices and proofs differ in number")
    if not leaves:
        return
    depth = tree_depth(leaf_count)
    for index, proof in zip(indices, proofs, strict=True):
        if not 0 <= index < leaf_count:
            raise BadProof(f"leaf index {index} is outside a tree of {leaf_count} leaves")
        if len(proof) != depth:
            raise BadProof(
                f"Merkle proof has {len(proof)} words, a tree of {leaf_count} leaves needs {depth}"
            )
    known = dict(zip(indices, leaves, strict=True))
    if len(known) != len(indices):
        raise BadProof("the same leaf index appears twice")
    for level in range(depth):
        _check_proof_words(known, indices, proofs, level)
        parents = sorted({index >> (level + 1) for index in indices})
        pairs = [known[2 * position] + known[2 * position + 1] for position in parents]
        known = dict(zip(parents, keccak256_many(pairs), strict=True))
    if known[0] != root:
        raise BadProof("the Merkle proofs do not lead to the root")


def _check_proof_words(
    known: dict[int, bytes], indices: Sequence[int], proofs: Sequence[Sequence[bytes]], level: int
) -> None:
    for index, proof in zip(indices, proofs, strict=True):
        word = proof[level]
        if len(word) != WORD_BYTES:
            raise BadProof("a Merkle proof word is not 32 bytes")
        sibling = (index >> level) ^ 1
        have = known.setdefault(sibling, word)
        if have != word:
            raise BadProof(f"Merkle proof of leaf {index} disagrees at level {level}")
