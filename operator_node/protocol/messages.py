"""The messages the node and its clients exchange, and the checks that need hashing.

Shape rules (checked on construction, :class:`MalformedRequest` otherwise) hold for every message
object, whether built by a client or decoded from the wire: for each blob the chunk indices are
strictly increasing and below n, there is one chunk per index, exactly chunk_length bytes, and
the chunks' multiproof has exactly the 32-byte words their indices and depth(n) call for.
Cryptographic checks (proofs against the commitment, headers against the batch root) are separate
``validate_`` functions because they cost CPU and the node runs them after the cheap checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from operator_node.protocol.errors import BadProof, MalformedRequest
from operator_node.protocol.hashes import WORD_BYTES, Bytes, keccak256_many
from operator_node.protocol.headers import (
    BatchHeader,
    BlobHeader,
    compute_blob_leaf,
    validate_batch_root,
)
from operator_node.protocol.merkle import (
    MerkleTree,
    compute_root_from_multiproof,
    compute_root_from_proof,
    multiproof_size,
    tree_depth,
)


def validate_chunk_index_order(indices: Sequence[int], n: int) -> None:
    """Check indices are strictly increasing and in [0, n); raise :class:`MalformedRequest`."""
    if any(a >= b for a, b in pairwise(indices)):
        raise MalformedRequest("chunk indices must be strictly increasing (no duplicates)")
    if indices and not (indices[0] >= 0 and indices[-1] < n):
        raise MalformedRequest(f"chunk index out of range for a blob of n={n} chunks")


@dataclass(frozen=True)
class BlobChunks:
    """Some chunks of one blob, with their indices and one Merkle multiproof to the commitment.

    ``chunks`` are buffers (memoryview slices of a request body when decoded: nothing is copied).
    ``proof`` is the multiproof of all of them (:mod:`~operator_node.protocol.merkle`).
    ``fingerprints`` is Z, the k fingerprint rows of the blob's data chunks, which a StoreChunks
    request carries for a blob of profile FP-v1 (:mod:`~operator_node.protocol.encoding`); empty
    otherwise, and in retrieval replies. ``account_signature`` is the paying account's
    signature over the blob's payment (:mod:`~operator_node.protocol.payment`), which a
    StoreChunks request carries for a blob with a payment; empty otherwise, and in retrieval
    replies.
    """

    header: BlobHeader
    indices: tuple[int, ...]
    proof: tuple[bytes, ...]
    chunks: tuple[Bytes, ...]
    fingerprints: Bytes = b""
    account_signature: bytes = b""

    def __post_init__(self) -> None:
        if len(self.chunks) != len(self.indices):
            raise MalformedRequest("chunk indices and chunks differ in number")
        validate_chunk_index_order(self.indices, self.header.n)
        words = multiproof_size(self.indices, tree_depth(self.header.n))
        if len(self.proof) != words or any(len(word) != WORD_BYTES for word in self.proof):
            raise MalformedRequest(f"the chunks' multiproof must be {words} words of 32 bytes")
        if any(len(chunk) != self.header.chunk_length for chunk in self.chunks):
            raise MalformedRequest(f"every chunk must be {self.header.chunk_length} bytes")

    @property
    def chunk_bytes(self) -> int:
        """Total bytes of chunk data carried."""
        return len(self.indices) * self.header.chunk_length


@dataclass(frozen=True)
class StoreChunksRequest:
    """One StoreChunks request: a batch header and, for every blob of the batch in blob index
    order, its header and the chunks meant for the receiving node (possibly none)."""

    batch_header: BatchHeader
    blobs: tuple[BlobChunks, ...]

    def __post_init__(self) -> None:
        if not self.blobs:
            raise MalformedRequest("a batch must have at least one blob")


@dataclass(frozen=True)
class RetrievalReply:
    """A node's answer to a retrieval: the chunks it holds of one blob, the blob header and its
    Merkle proof to the batch root, and the batch header that root belongs to."""

    batch_header: BatchHeader
    blob_index: int
    blob_header_proof: tuple[bytes, ...]
    blob: BlobChunks

    def __post_init__(self) -> None:
        if not 0 <= self.blob_index < (1 << len(self.blob_header_proof)):
            raise MalformedRequest(
                f"blob index {self.blob_index} does not fit a batch proof of "
                f"{len(self.blob_header_proof)} words"
            )
        if any(len(word) != WORD_BYTES for word in self.blob_header_proof):
            raise MalformedRequest("blob header proof words must be 32 bytes")


def select_blob_chunks(
    header: BlobHeader,
    tree: MerkleTree,
    chunks: Sequence[Bytes],
    indices: Sequence[int],
    fingerprints: Bytes = b"",
    account_signature: bytes = b"",
) -> BlobChunks:
    """Return the chunks at ``indices`` (sorted, distinct) of a blob with their multiproof, and
    the blob's fingerprint rows ``fingerprints`` (Z) if it has them.

    ``chunks`` are all n chunks of the blob and ``tree`` their chunk tree (its root is
    ``header.commitment``). Raises :class:`MalformedRequest` for bad indices or shapes.
    """
    validate_chunk_index_order(indices, len(chunks))
    return BlobChunks(
        header=header,
        indices=tuple(indices),
        proof=tree.get_multiproof(indices),
        chunks=tuple(chunks[i] for i in indices),
        fingerprints=fingerprints,
        account_signature=account_signature,
    )


def validate_blob_chunks(blob: BlobChunks, leaves: Sequence[bytes] | None = None) -> None:
    """Check the chunks against the blob's commitment; raise :class:`BadProof` if they fail.

    ``leaves`` are the chunks' leaf hashes if the caller computed them already (the node hashes
    a request's chunks on several threads); otherwise every chunk is hashed here, so run this
    off the event loop for big requests. The multiproof binds every chunk at once: a refusal
    says which run of chunks failed, not which chunk.
    """
    if not blob.indices:
        return
    if leaves is None:
        leaves = keccak256_many(blob.chunks)
    elif len(leaves) != len(blob.chunks):
        raise ValueError(f"{len(leaves)} leaves given for {len(blob.chunks)} chunks")
    header = blob.header
    root = compute_root_from_multiproof(leaves, blob.indices, blob.proof, tree_depth(header.n))
    if root != header.commitment:
        first, last = blob.indices[0], blob.indices[-1]
        raise BadProof(
            f"the chunk set {first}..{last} ({len(blob.indices)} chunks) does not match the"
            " blob commitment"
        )


def validate_store_chunks(request: StoreChunksRequest) -> None:
    """Check the blob headers against the batch root, then every chunk against its commitment.

    Returns None; raises :class:`BadProof`. Assignment is checked separately (it needs chain state).
    """
    validate_batch_root(request.batch_header, [blob.header for blob in request.blobs])
    for blob_index, blob in enumerate(request.blobs):
        try:
            validate_blob_chunks(blob)
        except BadProof as error:
            raise BadProof(f"blob {blob_index}: {error}") from None


def validate_retrieval_reply(
    reply: RetrievalReply, batch_header_hash: bytes, blob_index: int
) -> None:
    """Check a retrieval reply answers what was asked and that every part of it is proven.

    The batch header must hash to ``batch_header_hash``, the reply must be for ``blob_index``, the
    blob header must be proven at that index against the batch root, and every chunk against the
    commitment. Returns None; raises :class:`BadProof`.
    """
    if reply.batch_header.compute_hash() != batch_header_hash:
        raise BadProof("the reply's batch header does not hash to the requested batch")
    if reply.blob_index != blob_index:
        raise BadProof(f"asked for blob {blob_index}, the reply is for blob {reply.blob_index}")
    leaf = compute_blob_leaf(reply.blob.header)
    root = compute_root_from_proof(leaf, blob_index, reply.blob_header_proof)
    if root != reply.batch_header.batch_root:
        raise BadProof(f"blob header {blob_index} is not proven against the batch root")
    validate_blob_chunks(reply.blob)
