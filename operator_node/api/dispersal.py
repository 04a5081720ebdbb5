"""``POST /v1/store-chunks``: the HTTP front of the StoreChunks pipeline.

The cheapest refusals happen here, before the body is read: a declared length over the limit
(413) and a node already busy with ``max_inflight`` requests (503, with Retry-After). Memory is
therefore bounded by ``max_inflight * max_request_bytes``. Every refusal is counted in the metrics
and noted in the operator's log (see ``refusals``).
"""

from __future__ import annotations

from aiohttp import web

from operator_node.api.errors import classify, is_node_failure, to_http_error
from operator_node.api.refusals import RefusalLog
from operator_node.api.responses import error_response
from operator_node.dispersal import StoreChunksPipeline
from operator_node.errors import OperatorNodeError
from operator_node.metrics import Metrics

STORE_CHUNKS_PATH = "/v1/store-chunks"


class StoreChunksHandler:
    """Admits, reads and hands StoreChunks requests to the pipeline; maps refusals to HTTP."""

    def __init__(
        self,
        pipeline: StoreChunksPipeline,
        metrics: Metrics,
        refusals: RefusalLog,
        *,
        max_inflight: int,
        max_request_bytes: int,
    ) -> None:
        self._pipeline = pipeline
        self._metrics = metrics
        self._refusals = refusals
        self._max_inflight = max_inflight
        self._max_request_bytes = max_request_bytes
        self._inflight = 0

    def add_routes(self, app: web.Application) -> None:
        """Register the StoreChunks route on ``app``."""
        app.router.add_post(STORE_CHUNKS_PATH, self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one StoreChunks request (JSON reply with the signature, or a JSON refusal)."""
        length = request.content_length
        if length is not None and length > self._max_request_bytes:
            return self._refuse(
                request,
                413,
                "too_large",
                f"body of {length} bytes exceeds {self._max_request_bytes}",
            )
        if self._inflight >= self._max_inflight:
            response = self._refuse(request, 503, "busy", "node is at its in-flight request limit")
            response.headers["Retry-After"] = "1"
            return response
        self._inflight += 1
        try:
            return await self._process(request)
        finally:
            self._inflight -= 1

    async def _process(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await _read_body(request)
        except ConnectionResetError:
            # The client went away (or the node is stopping) before the whole body arrived.
            return self._refuse(
                request, 400, "incomplete_body", "connection lost before the body arrived"
            )
        try:
            result = await self._pipeline.store_chunks(body, request.headers)
        except OperatorNodeError as exc:
            status, code = classify(exc)
            self._metrics.count_store_chunks(code)
            if not is_node_failure(code):
                self._refusals.refused(status, code, str(exc), request.remote)
            return to_http_error(exc)
        self._metrics.count_store_chunks("ok")
        return web.json_response(
            {
                "batch_header_hash": "0x" + result.batch_header_hash.hex(),
                "operator_id": "0x" + result.operator_id.hex(),
                "signature": "0x" + result.signature.hex(),
                "already_stored": not result.newly_stored,
            }
        )

    def _refuse(self, request: web.Request, status: int, code: str, message: str) -> web.Response:
        self._metrics.count_store_chunks(code)
        self._refusals.refused(status, code, message, request.remote)
        return error_response(status, code, message)


async def _read_body(request: web.Request) -> memoryview:
    """Read the whole body with one copy, into a buffer of the declared length.

    ``request.read()`` grows a bytearray piece by piece and then copies it into ``bytes``: two
    copies and a few reallocations of every byte, a quarter of the node's CPU on large batches.
    aiohttp's parser stops at the declared length and enforces ``client_max_size`` for chunked
    bodies, which have no declared length and take the plain path.
    """
    length = request.content_length
    if length is None:
        return memoryview(await request.read())
    buffer = bytearray(length)
    view = memoryview(buffer)
    position = 0
    while position < length:
        piece = await request.content.readany()
        if not piece or len(piece) > length - position:
            break
        view[position : position + len(piece)] = piece
        position += len(piece)
    if position != length:
        raise ConnectionResetError(f"body does not match its declared {length} bytes")
    return view
