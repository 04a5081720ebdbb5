"""Assemble a batch on the disperser's side: blobs → batch header → one request per operator.

Pure functions over the protocol layer, shared by the disperser client, the tests and the
benchmarks. Erasure coding happens before this (see :mod:`operator_node.client.disperser`): here a
blob is already its n chunks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from eth_account.signers.local import LocalAccount

from operator_node.erasure import cached_codec
from operator_node.protocol.assignment import OperatorStakes, compute_blob_assignment
from operator_node.protocol.encoding import compute_fingerprint_rows
from operator_node.protocol.hashes import Bytes, keccak256
from operator_node.protocol.headers import (
    CODE_FIELD_BITS,
    CODE_GF8,
    PROFILE_CODES,
    PROFILE_FP1,
    PROFILE_NONE,
    BatchHeader,
    BlobHeader,
    Payment,
    QuorumParams,
    compute_batch_root,
    compute_chunk_tree,
)
from operator_node.protocol.merkle import MerkleTree
from operator_node.protocol.messages import BlobChunks, StoreChunksRequest, select_blob_chunks
from operator_node.protocol.payment import sign_blob_payment


@dataclass(frozen=True)
class EncodedBlob:
    """One blob as n equal chunks, with its chunk tree, header, fingerprint rows Z (empty
    for profile 0) and its account's payment signature (empty for a blob without payment)."""

    header: BlobHeader
    chunks: tuple[Bytes, ...]
    tree: MerkleTree
    fingerprints: bytes = b""
    account_signature: bytes = b""

    def paid(
        self, payment: Payment, account: LocalAccount, chain_id: int, vault: bytes
    ) -> EncodedBlob:
        """This blob paid for by ``account`` as ``payment`` says, signed for ``chain_id`` and
        the payment vault at ``vault`` (``protocol.payment``)."""
        header = replace(self.header, account=bytes.fromhex(account.address[2:]), payment=payment)
        signature = sign_blob_payment(account, chain_id, vault, header)
        return replace(self, header=header, account_signature=signature)

    @classmethod
    def from_chunks(
        cls,
        chunks: Sequence[Bytes],
        *,
        data_length: int,
        k: int,
        quorums: Sequence[QuorumParams],
        account: bytes,
        code: int = CODE_GF8,
        fingerprint: int | None = None,
    ) -> EncodedBlob:
        """Commit to ``chunks`` (all n of them, of erasure code ``code``) and build the header;
        hashes every chunk. ``fingerprint`` is the encoding-validity profile: by default FP-v1
        where the code has it (GF(2^8)), else none. With FP-v1, Z is computed from the first k
        chunks (the data chunks of a systematic codeword) at points drawn from the commitment:
        after it, never before."""
        if fingerprint is None:
            fingerprint = PROFILE_FP1 if code in PROFILE_CODES[PROFILE_FP1] else PROFILE_NONE
        tree = compute_chunk_tree(chunks)
        header = BlobHeader(
            commitment=tree.root,
            data_length=data_length,
            k=k,
            n=len(chunks),
            chunk_length=len(chunks[0]),
            quorums=tuple(quorums),
            account=account,
            code=code,
            fingerprint=fingerprint,
        )
        if fingerprint == PROFILE_NONE:
            return cls(header, tuple(chunks), tree)
        z = compute_fingerprint_rows(header, chunks[:k])
        header = replace(header, fingerprint_hash=keccak256(z))
        return cls(header, tuple(chunks), tree, z)

    @classmethod
    def from_data(
        cls,
        data: Bytes,
        *,
        k: int,
        n: int,
        quorums: Sequence[QuorumParams],
        account: bytes,
        code: int = CODE_GF8,
        fingerprint: int | None = None,
        backend: str = "auto",
    ) -> EncodedBlob:
        """Erasure-code ``data`` into n chunks (k data chunks) and commit to them, as
        :meth:`from_chunks` does."""
        codec = cached_codec(k, n, backend, CODE_FIELD_BITS[code])
        return cls.from_chunks(
            codec.encode(data), data_length=len(data), k=k, quorums=quorums, account=account,
            code=code, fingerprint=fingerprint,
        )  # fmt: skip


@dataclass(frozen=True)
class PreparedBatch:
    """A batch ready to send: its header, hash, and the request each operator receives."""

    header: BatchHeader
    header_hash: bytes
    blobs: tuple[EncodedBlob, ...]
    assignments: tuple[dict[bytes, tuple[int, ...]], ...]
    requests: dict[bytes, StoreChunksRequest]


def prepare_batch(
    blobs: Sequence[EncodedBlob],
    states: Mapping[int, OperatorStakes],
    reference_block: int,
) -> PreparedBatch:
    """Assign every blob's chunks by stake and build each operator's StoreChunks request.

    Every operator in the states of any blob's quorums gets a request carrying all blob headers
    and its own chunks (possibly none for some blobs). Raises the protocol's UnassignableBlob if
    a blob cannot be assigned within its n.
    """
    header = BatchHeader(compute_batch_root([b.header for b in blobs]), reference_block)
    assignments = tuple(compute_blob_assignment(b.header, states) for b in blobs)
    operators = sorted({op for assignment in assignments for op in assignment})
    requests = {
        operator_id: StoreChunksRequest(
            batch_header=header,
            blobs=tuple(
                _select(blob, assignment.get(operator_id, ()))
                for blob, assignment in zip(blobs, assignments, strict=True)
            ),
        )
        for operator_id in operators
    }
    return PreparedBatch(header, header.compute_hash(), tuple(blobs), assignments, requests)


def _select(blob: EncodedBlob, indices: Sequence[int]) -> BlobChunks:
    return select_blob_chunks(
        blob.header, blob.tree, blob.chunks, indices, blob.fingerprints, blob.account_signature
    )
