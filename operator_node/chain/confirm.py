"""Batch confirmation data: the on-chain batch header and the aggregate-signature witness.

``ServiceManager.confirmBatch`` checks e(sigma + gamma·apk, -G2) · e(H(m) + gamma·G1, apkG2) == 1
over m = keccak256(abi.encode(batchRoot, uint32 referenceBlock)), where apk is the sum of the
quorums' aggregate keys minus the non-signers' keys (each counted once per quorum it is in), and
then that signers hold the header's threshold percentage of each quorum's stake. EigenLayer's
checker reads every history (quorum apks, total stakes, non-signers' bitmaps and stakes) at an
index the witness names, and reverts unless it is the entry in force at the reference block
("not latest apk update"); :func:`build_signature_witness` assembles the witness from operator
state at the reference block, the signatures collected, and those indices as
``OperatorStateRetriever.getCheckSignaturesIndices`` gives them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_hash.auto import keccak

from operator_node.chain.errors import ChainError
from operator_node.chain.reader import ChainReader, CheckSignaturesIndices
from operator_node.crypto.bn254 import (
    G1_INFINITY,
    G1Point,
    G2Point,
    g1_multiply,
    g1_sum,
    g2_multiply,
    g2_sum,
)


@dataclass(frozen=True)
class ChainBatchHeader:
    """``ServiceManager.BatchHeader``: what a disperser confirms on chain."""

    batch_root: bytes
    quorums: tuple[int, ...]
    threshold_percentages: tuple[int, ...]
    reference_block_number: int

    def to_abi(self) -> tuple[bytes, bytes, bytes, int]:
        """The struct tuple for ABI encoding."""
        return (
            self.batch_root,
            bytes(self.quorums),
            bytes(self.threshold_percentages),
            self.reference_block_number,
        )

    def compute_signed_hash(self) -> bytes:
        """keccak256(abi.encode(batchRoot, uint32 referenceBlockNumber)): what operators sign."""
        return compute_reduced_batch_header_hash(self.batch_root, self.reference_block_number)


def compute_reduced_batch_header_hash(batch_root: bytes, reference_block_number: int) -> bytes:
    """keccak256(abi.encode(bytes32 batchRoot, uint32 referenceBlockNumber))."""
    return keccak(abi_encode(["bytes32", "uint32"], [batch_root, reference_block_number]))


@dataclass(frozen=True)
class SignatureWitness:
    """``NonSignerStakesAndSignature``: the non-signers' keys, the quorums' aggregate keys, the
    signers' aggregate G2 key and signature, and the index hints EigenLayer's checker verifies
    against its histories at the reference block."""

    non_signer_pubkeys: tuple[G1Point, ...]
    quorum_apks: tuple[G1Point, ...]
    apk_g2: G2Point
    sigma: G1Point
    indices: CheckSignaturesIndices

    def to_abi(self) -> tuple[Any, ...]:
        """The struct tuple for ABI encoding."""
        return (
            list(self.indices.non_signer_quorum_bitmap_indices),
            [p.to_abi() for p in self.non_signer_pubkeys],
            [p.to_abi() for p in self.quorum_apks],
            self.apk_g2.to_abi(),
            self.sigma.to_abi(),
            list(self.indices.quorum_apk_indices),
            list(self.indices.total_stake_indices),
            [list(per_quorum) for per_quorum in self.indices.non_signer_stake_indices],
        )


@dataclass(frozen=True)
class Signature:
    """One operator's signature on the batch and its G2 public key."""

    sigma: G1Point
    pubkey_g2: G2Point


async def build_signature_witness(
    reader: ChainReader,
    quorums: Sequence[int],
    reference_block_number: int,
    signatures: Mapping[bytes, Signature],
) -> SignatureWitness:
    """The witness for ``quorums`` at the reference block given signatures by operator id.

    Operators of those quorums without a signature become non-signers. A signer in c of the
    quorums is counted c times in sigma and apkG2, matching the contract's sum of quorum apks.
    Signatures from ids not in any of the quorums are ignored. Raises :class:`ChainError` when
    nobody in the quorums signed.
    Signatures are not verified here (that costs pairings); the contract verifies the aggregate.
    """
    state = await reader.get_operator_state(quorums, reference_block_number)
    members = {op.operator_id: op.address for ops in state.values() for op in ops}
    signers = [i for i in members if i in signatures]
    if not signers:
        raise ChainError("no operator of the batch's quorums signed it")
    by_address = await reader.pubkeys.fetch_g1_keys(members.values())
    keys = {i: by_address[address] for i, address in members.items()}
    quorum_apks = tuple(
        g1_sum(keys[op.operator_id] for op in state[q]) if state[q] else G1_INFINITY
        for q in quorums
    )
    # The contract wants non-signers by ascending id; equal-length bytes sort like the integers.
    non_signers = sorted(i for i in members if i not in signatures)
    # The contract sums quorum apks, so a signer in c of the quorums counts c times: its
    # signature and G2 key must too.
    quorum_members = [{op.operator_id for op in state[q]} for q in quorums]
    counts = {i: sum(i in ids for ids in quorum_members) for i in signers}
    sigma = g1_sum(g1_multiply(signatures[i].sigma, counts[i]) for i in signers)
    apk_g2 = g2_sum(g2_multiply(signatures[i].pubkey_g2, counts[i]) for i in signers)
    indices = await reader.get_check_signatures_indices(
        quorums, reference_block_number, non_signers
    )
    return SignatureWitness(
        tuple(keys[i] for i in non_signers), quorum_apks, apk_g2, sigma, indices
    )
