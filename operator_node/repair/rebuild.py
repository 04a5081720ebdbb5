"""Rebuilding a batch this node should hold, from its peers, trusting none of them.

The trust anchor is the batch header hash, taken from the chain (a ``BatchConfirmed`` event of
the service manager, whose ``confirmBatch`` checked the operators' signatures over it). Every
peer reply is proved against it: the batch header hashes to it, each blob header is in the batch
root, each chunk is in its blob's commitment (``protocol.messages.validate_retrieval_reply``).

1. Blob headers: blob 0, 1, ... from any peer that has the batch, until no peer asked has the
   next (a node that holds the batch answers every blob index below the count, even with no
   chunks of that blob, and 404 beyond it). A peer that lies about the count by answering 404
   early is outvoted by any honest peer.
2. This operator's chunk indices of each blob, from the operator state at the batch's reference
   block (the assignment the node checked when it signed, ``protocol.assignment``).
3. For each blob with chunks for this node: any k valid chunks from the peers (the retriever),
   the blob decoded and encoded again, its commitment compared with the header's (and, for
   FP-v1, its fingerprints with the fingerprint hash), and this node's chunks taken from that
   codeword with their multiproof from its chunk tree, exactly as a disperser would send them.

The result is the batch as StoreChunks would have stored it. A paid blob's account signature
does not travel in retrieval replies; a rebuilt record keeps 65 zero bytes in its place (the
payment itself is in the header, and so in the batch root). Nothing here signs anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from operator_node.client.retriever import RetrievalError, Retriever
from operator_node.errors import OperatorNodeError
from operator_node.protocol.assignment import OperatorStakes, compute_operator_chunks
from operator_node.protocol.headers import BatchHeader, BlobHeader, compute_chunk_tree
from operator_node.protocol.messages import BlobChunks

# A repaired paid blob's record: its account's signature is not known (see the module doc).
UNKNOWN_SIGNATURE = bytes(65)
# The most blobs a batch proof of this depth allows; the wire's own bound is 2^16.
_MAX_BLOBS = 1 << 16

StateReader = Callable[[Sequence[int], int], Awaitable[Mapping[int, OperatorStakes]]]


class RepairError(OperatorNodeError):
    """A batch could not be rebuilt; ``cause`` says why, for metrics: ``no_peer`` (no peer
    has it), ``too_few_chunks`` (fewer than k valid chunks of a blob), ``invalid`` (what came
    back rebuilt to something else than was committed) or ``chain`` (the operator state)."""

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


@dataclass(frozen=True)
class RebuiltBatch:
    """A batch as this node should hold it: its header, every blob with this node's chunks (maybe
    none), and the chunk bytes fetched from peers to rebuild it."""

    header: BatchHeader
    blobs: tuple[BlobChunks, ...]
    fetched_bytes: int

    @property
    def chunks(self) -> int:
        """This node's chunks in the batch."""
        return sum(len(blob.indices) for blob in self.blobs)

    @property
    def chunk_bytes(self) -> int:
        """This node's chunk bytes in the batch."""
        return sum(blob.chunk_bytes for blob in self.blobs)


async def learn_blob_headers(
    retriever: Retriever, batch_hash: bytes, sockets: Sequence[str]
) -> tuple[BatchHeader, list[BlobHeader]]:
    """The batch header and every blob header of a batch, proved by peers (step 1).

    Raises :class:`RepairError` (``no_peer``) when no peer asked has the batch.
    """
    first = await retriever.fetch_header(batch_hash, 0, sockets)
    if first is None:
        raise RepairError(f"no peer has batch 0x{batch_hash.hex()}", "no_peer")
    headers = [first.blob.header]
    most = min(_MAX_BLOBS, 1 << len(first.blob_header_proof))
    while len(headers) < most:
        reply = await retriever.fetch_header(batch_hash, len(headers), sockets)
        if reply is None:
            break
        headers.append(reply.blob.header)
    return first.batch_header, headers


async def rebuild_batch(
    retriever: Retriever,
    batch_hash: bytes,
    operator_id: bytes,
    sockets: Sequence[str],
    read_state: StateReader,
) -> RebuiltBatch:
    """Steps 1-3 for one batch; raises :class:`RepairError` when it cannot be rebuilt."""
    batch_header, headers = await learn_blob_headers(retriever, batch_hash, sockets)
    quorums = sorted({q.quorum_number for header in headers for q in header.quorums})
    try:
        state = await read_state(quorums, batch_header.reference_block_number)
    except OperatorNodeError as exc:
        raise RepairError(f"the operator state cannot be read: {exc}", "chain") from None
    blobs: list[BlobChunks] = []
    fetched = 0
    for index, header in enumerate(headers):
        indices = compute_operator_chunks(operator_id, header, state)
        if not indices:
            blobs.append(BlobChunks(header=header, indices=(), proof=(), chunks=()))
            continue
        try:
            rebuilt = await retriever.retrieve(batch_hash, index, sockets)
        except RetrievalError as exc:
            cause = "invalid" if "does not match" in str(exc) else "too_few_chunks"
            raise RepairError(f"blob {index}: {exc}", cause) from None
        fetched += rebuilt.fetched_bytes
        tree = compute_chunk_tree(rebuilt.encoded)
        if tree.root != header.commitment:  # the retriever checked it; a store is forever
            raise RepairError(f"blob {index}: the rebuilt chunks are not committed", "invalid")
        blobs.append(
            BlobChunks(
                header=header,
                indices=indices,
                proof=tree.get_multiproof(indices),
                chunks=tuple(rebuilt.encoded[i] for i in indices),
                account_signature=UNKNOWN_SIGNATURE if header.payment is not None else b"",
            )
        )
    return RebuiltBatch(batch_header, tuple(blobs), fetched)
