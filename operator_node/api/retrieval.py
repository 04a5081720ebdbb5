"""``GET /v1/chunks/{batch_header_hash}/{blob_index}``: the chunks this node holds of one blob.

Public and rate-limited per client address. The reply is the binary retrieval reply of
:mod:`operator_node.protocol.wire`: the batch header, the blob header with its Merkle proof to the
batch root, and this node's chunks with their proofs to the blob commitment — everything a
retriever needs to check each chunk without trusting the node.

A retriever asks for every blob of a batch, and each proof needs the batch tree over all of the
batch's blob headers. So the trees of recently asked batches are kept (bounded by their leaves),
a big one is built off the event loop, and requests arriving while it is built share that build.
A batch's tree never changes: its hash covers the root the blob headers were checked against.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

from operator_node.api.clients import ClientAddresses
from operator_node.api.errors import to_http_error
from operator_node.api.ratelimit import RateLimiter
from operator_node.api.responses import error_response
from operator_node.dispersal.records import (
    decode_batch_record,
    decode_blob_header,
    decode_stored_blob,
)
from operator_node.errors import OperatorNodeError
from operator_node.metrics import Metrics
from operator_node.protocol.headers import BatchHeader, compute_batch_tree
from operator_node.protocol.merkle import MerkleTree
from operator_node.protocol.messages import RetrievalReply
from operator_node.protocol.wire import CONTENT_TYPE, encode_retrieval_reply
from operator_node.store import AsyncStore, StoredBatch

RETRIEVAL_PATH = "/v1/chunks/{batch_header_hash}/{blob_index}"
_MAX_BLOB_INDEX = 1 << 16
# Leaves (blob headers) of the batch trees kept: ~64 bytes of tree each, so at most ~16 MiB.
TREE_CACHE_LEAVES = 1 << 18
# Trees over fewer blob headers than this are built on the loop: a thread hop would cost more.
_INLINE_TREE_LEAVES = 32


# Every outcome a retrieval request can have (see handle).
RETRIEVAL_OUTCOMES = ("ok", "malformed", "error", "not_found", "rate_limited")


@dataclass(frozen=True)
class BatchIndex:
    """What every retrieval of a batch needs: its header and the tree over its blob headers."""

    header: BatchHeader
    tree: MerkleTree


class BatchTrees:
    """The :class:`BatchIndex` of recently retrieved batches, least recently used dropped first.

    Bounded by the trees' leaves. A batch that is not stored is not remembered: it may come.
    """

    def __init__(self, max_leaves: int = TREE_CACHE_LEAVES) -> None:
        self._max_leaves = max_leaves
        self._leaves = 0
        self._batches: collections.OrderedDict[bytes, asyncio.Future[BatchIndex | None]] = (
            collections.OrderedDict()
        )
        self._sizes: dict[bytes, int] = {}  # leaves of each batch already built

    def __len__(self) -> int:
        return len(self._batches)

    async def get(
        self, batch_hash: bytes, load: Callable[[], Awaitable[StoredBatch | None]]
    ) -> BatchIndex | None:
        """The index of ``batch_hash``, built from ``load()`` (the stored batch) if not kept."""
        future = self._batches.get(batch_hash)
        if future is None:
            future = asyncio.ensure_future(_build_index(load))
            self._batches[batch_hash] = future
            future.add_done_callback(functools.partial(self._built, batch_hash))
        else:
            self._batches.move_to_end(batch_hash)
        # Shielded: one caller going away must not cancel a build the others wait for.
        return await asyncio.shield(future)

    def _built(self, batch_hash: bytes, future: asyncio.Future[BatchIndex | None]) -> None:
        if self._batches.get(batch_hash) is not future:
            return
        index = None if future.cancelled() or future.exception() else future.result()
        if index is None:
            del self._batches[batch_hash]  # failures and unknown batches are not kept
            return
        self._sizes[batch_hash] = index.tree.leaf_count
        self._leaves += index.tree.leaf_count
        # Oldest built batches go first; the one just built stays even alone over the bound.
        for oldest in [h for h in self._batches if h in self._sizes and h != batch_hash]:
            if self._leaves <= self._max_leaves:
                break
            del self._batches[oldest]
            self._leaves -= self._sizes.pop(oldest)


async def _build_index(load: Callable[[], Awaitable[StoredBatch | None]]) -> BatchIndex | None:
    batch = await load()
    if batch is None:
        return None
    records = batch.blob_headers
    if len(records) < _INLINE_TREE_LEAVES:
        tree = _build_tree(records)
    else:
        tree = await asyncio.to_thread(_build_tree, records)
    return BatchIndex(decode_batch_record(batch.header), tree)


def _build_tree(blob_records: Sequence[bytes]) -> MerkleTree:
    return compute_batch_tree([decode_blob_header(record) for record in blob_records])


class RetrievalHandler:
    """Serves stored chunks with their proofs."""

    def __init__(
        self,
        store: AsyncStore,
        limiter: RateLimiter,
        metrics: Metrics,
        trees: BatchTrees | None = None,
        clients: ClientAddresses | None = None,
    ) -> None:
        self._store = store
        self._limiter = limiter
        self._clients = ClientAddresses() if clients is None else clients
        self._metrics = metrics
        metrics.preset_outcomes("retrieval", RETRIEVAL_OUTCOMES)
        self._trees = BatchTrees() if trees is None else trees

    def add_routes(self, app: web.Application) -> None:
        """Register the retrieval route on ``app``."""
        app.router.add_get(RETRIEVAL_PATH, self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one retrieval request."""
        if not self._limiter.allow(self._clients.of(request)):
            return self._refuse(429, "rate_limited", "too many retrieval requests; slow down")
        parsed = _parse_target(request)
        if isinstance(parsed, web.Response):
            self._metrics.count_retrieval("malformed")
            return parsed
        batch_hash, blob_index = parsed
        try:
            reply = await self._build_reply(batch_hash, blob_index)
        except OperatorNodeError as exc:
            self._metrics.count_retrieval("error")
            return to_http_error(exc)
        if reply is None:
            return self._refuse(
                404, "not_found", f"no blob {blob_index} of batch 0x{batch_hash.hex()} here"
            )
        self._metrics.count_retrieval("ok")
        response = await _stream(request, encode_retrieval_reply(reply))
        self._metrics.count_retrieval_bytes(reply.blob.chunk_bytes)  # once all were sent
        return response

    async def _build_reply(self, batch_hash: bytes, blob_index: int) -> RetrievalReply | None:
        load = functools.partial(self._store.get_batch, batch_hash)
        batch = await self._trees.get(batch_hash, load)
        if batch is None or blob_index >= batch.tree.leaf_count:
            return None
        # Two small reads on the reader pool at once: one thread hop's wait, not two.
        record, chunk_set = await asyncio.gather(
            self._store.get_blob_header(batch_hash, blob_index),
            self._store.get_chunks(batch_hash, blob_index),
        )
        if record is None:  # expired since its index was kept
            return None
        return RetrievalReply(
            batch_header=batch.header,
            blob_index=blob_index,
            blob_header_proof=batch.tree.get_proof(blob_index),
            blob=decode_stored_blob(record, chunk_set),
        )

    def _refuse(self, status: int, code: str, message: str) -> web.Response:
        self._metrics.count_retrieval(code)
        return error_response(status, code, message)


# ASCII only: str.isdigit() and int() also take "²", full-width and Arabic-Indic digits, and
# bytes.fromhex() skips spaces; an unbounded digit string would reach int()'s length limit.
_BATCH_HASH = re.compile(r"(?:0x)?([0-9a-fA-F]{64})")
_BLOB_INDEX = re.compile(r"0|[1-9][0-9]{0,4}")


def _parse_target(request: web.Request) -> tuple[bytes, int] | web.Response:
    hash_match = _BATCH_HASH.fullmatch(request.match_info["batch_header_hash"])
    if hash_match is None:
        return error_response(400, "malformed", "batch header hash must be 32 bytes of hex")
    index_text = request.match_info["blob_index"]
    if _BLOB_INDEX.fullmatch(index_text) is None or int(index_text) >= _MAX_BLOB_INDEX:
        return error_response(
            400, "malformed", f"blob index must be a decimal integer below {_MAX_BLOB_INDEX}"
        )
    return bytes.fromhex(hash_match.group(1)), int(index_text)


async def _stream(
    request: web.Request, parts: list[bytes | bytearray | memoryview]
) -> web.StreamResponse:
    # Write the chunk buffers as they are: no concatenation into one big body.
    response = web.StreamResponse(headers={"Content-Type": CONTENT_TYPE})
    response.content_length = sum(len(part) for part in parts)
    await response.prepare(request)
    for part in parts:
        await response.write(part)
    await response.write_eof()
    return response
