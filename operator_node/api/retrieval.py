"""``GET /v1/chunks/{batch_header_hash}/{blob_index}``: the chunks this node holds of one blob.

Public and rate-limited per client address. The reply is the binary retrieval reply of
:mod:`operator_node.protocol.wire`: the batch header, the blob header with its Merkle proof to the
batch root, and this node's chunks with their proofs to the blob commitment — everything a
retriever needs to check each chunk without trusting the node.
"""

from __future__ import annotations

from aiohttp import web

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
from operator_node.protocol.headers import compute_batch_tree
from operator_node.protocol.messages import RetrievalReply
from operator_node.protocol.wire import CONTENT_TYPE, encode_retrieval_reply
from operator_node.store import AsyncStore

RETRIEVAL_PATH = "/v1/chunks/{batch_header_hash}/{blob_index}"
_MAX_BLOB_INDEX = 1 << 16


class RetrievalHandler:
    """Serves stored chunks with their proofs."""

    def __init__(self, store: AsyncStore, limiter: RateLimiter, metrics: Metrics) -> None:
        self._store = store
        self._limiter = limiter
        self._metrics = metrics

    def add_routes(self, app: web.Application) -> None:
        """Register the retrieval route on ``app``."""
        app.router.add_get(RETRIEVAL_PATH, self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one retrieval request."""
        if not self._limiter.allow(request.remote or "unknown"):
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
        return await _stream(request, encode_retrieval_reply(reply))

    async def _build_reply(self, batch_hash: bytes, blob_index: int) -> RetrievalReply | None:
        batch = await self._store.get_batch(batch_hash)
        if batch is None or blob_index >= len(batch.blob_headers):
            return None
        chunk_set = await self._store.get_chunks(batch_hash, blob_index)
        records = batch.blob_headers
        tree = compute_batch_tree([decode_blob_header(record) for record in records])
        return RetrievalReply(
            batch_header=decode_batch_record(batch.header),
            blob_index=blob_index,
            blob_header_proof=tree.get_proof(blob_index),
            blob=decode_stored_blob(records[blob_index], chunk_set),
        )

    def _refuse(self, status: int, code: str, message: str) -> web.Response:
        self._metrics.count_retrieval(code)
        return error_response(status, code, message)


def _parse_target(request: web.Request) -> tuple[bytes, int] | web.Response:
    text = request.match_info["batch_header_hash"]
    digits = text.removeprefix("0x")
    index_text = request.match_info["blob_index"]
    try:
        if len(digits) != 64:
            raise ValueError
        batch_hash = bytes.fromhex(digits)
    except ValueError:
        return error_response(400, "malformed", "batch header hash must be 32 bytes of hex")
    if not index_text.isdigit() or int(index_text) >= _MAX_BLOB_INDEX:
        return error_response(400, "malformed", "blob index must be a small decimal integer")
    return batch_hash, int(index_text)


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
