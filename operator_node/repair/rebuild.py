"""Rebuilding a batch this node should hold, from its peers, trusting none of them.

The trust anchor is the batch header hash, taken from the chain (a ``BatchConfirmed`` event of
the service manager, whose ``confirmBatch`` checked the operators' signatures over it). Every
peer reply is proved against it: the batch header hashes to it, each blob header is in the batch
root, each chunk is in its blob's commitment (``protocol.messages.validate_retrieval_reply``).

1. Blob by blob, 0, 1, ...: replies from peers until they hold k chunks (the retriever's waves),
   which give the blob's header too; the batch ends at the first blob no peer asked has (a node
   that holds the batch answers every blob index below the count, even with no chunks of that
   blob, and 404 beyond it). A peer that lies about the count by answering 404 early is
   outvoted by any honest peer.
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

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from operator_node.client.retriever import RetrievalError, Retriever
from operator_node.errors import OperatorNodeError
from operator_node.protocol.assignment import OperatorStakes, compute_operator_chunks
from operator_node.protocol.headers import BatchHeader, BlobHeader
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


async def rebuild_batch(
    retriever: Retriever,
    batch_hash: bytes,
    operator_id: bytes,
    sockets: Sequence[str],
    read_state: StateReader,
) -> RebuiltBatch:
    """Steps 1-3 for one batch, blob by blob, each blob's chunks fetched once (its replies give
    its header too); raises :class:`RepairError` when it cannot be rebuilt."""
    batch_header: BatchHeader | None = None
    state: Mapping[int, OperatorStakes] = {}
    blobs: list[BlobChunks] = []
    fetched = 0
    most = _MAX_BLOBS
    while len(blobs) < most:
        index = len(blobs)
        replies, failures = await retriever.fetch_chunks(sockets, batch_hash, index, None)
        if not replies:
            if index == 0:
                raise RepairError(f"no peer has batch 0x{batch_hash.hex()}", "no_peer")
            break  # no peer has this blob: the batch has ``index`` blobs
        first = next(iter(replies.values()))
        header = first.blob.header
        if batch_header is None:
            batch_header = first.batch_header
            most = min(_MAX_BLOBS, 1 << len(first.blob_header_proof))
        state = await _state_for(read_state, header, batch_header, state)
        indices = compute_operator_chunks(operator_id, header, state)
        fetched += sum(len(r.blob.indices) for r in replies.values()) * header.chunk_length
        if not indices:
            blobs.append(BlobChunks(header=header, indices=(), proof=(), chunks=()))
            continue
        try:
            rebuilt = await asyncio.to_thread(retriever.rebuild, replies, failures)
        except RetrievalError as exc:
            cause = "invalid" if "does not match" in str(exc) else "too_few_chunks"
            raise RepairError(f"blob {index}: {exc}", cause) from None
        tree = rebuilt.tree  # the retriever checked its root against the commitment
        if tree is None or tree.root != header.commitment:
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
    assert batch_header is not None
    return RebuiltBatch(batch_header, tuple(blobs), fetched)


async def _state_for(
    read_state: StateReader,
    header: BlobHeader,
    batch_header: BatchHeader,
    known: Mapping[int, OperatorStakes],
) -> Mapping[int, OperatorStakes]:
    """The operator state at the batch's reference block for every quorum of ``header``,
    reading only the quorums not read yet."""
    missing = sorted({q.quorum_number for q in header.quorums} - set(known))
    if not missing:
        return known
    try:
        read = await read_state(missing, batch_header.reference_block_number)
    except OperatorNodeError as exc:
        raise RepairError(f"the operator state cannot be read: {exc}", "chain") from None
    return {**known, **read}
