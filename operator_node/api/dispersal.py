"""``POST /v1/store-chunks``: the HTTP front of the StoreChunks pipeline.

Nothing a sender has not proved is paid for. In order, each step cheaper than the next:

1. refusals from headers alone: the node is stopping (503 ``stopping``) or its own state dooms
   every request (503 with that reason's code, e.g. ``not_registered``); no ``Content-Length``
   (411); a declared length over ``max_request_bytes`` (413);
2. a head slot (at most ``max_pending_heads`` at once, ``max_pending_heads_per_client`` per
   source address; more: 503 ``busy``), then the head alone, bounded and under ``head_timeout``
   (``api.upload``), and the sender authenticated on it;
3. the authenticated disperser's token bucket (429 ``rate_limited``): after the signature, so a
   forged request cannot spend an honest disperser's allowance;
4. an in-flight slot (at most ``max_inflight``; more: 503 ``busy``), then the batch's payments
   metered on the head (``payments.meter``: 429 with ``Retry-After`` when an account's
   reservation or the on-demand rate is used up, 401/403 for what its accounts do not pay for),
   and only then a buffer of the declared length and the rest of the body, under its deadline;
5. the pipeline's remaining stages.

So an unauthenticated sender holds at most a head slot for ``head_timeout`` and a head-sized
buffer, and memory is bounded by ``max_pending_heads * max_header_bytes`` plus
``max_inflight * max_request_bytes``. A refusal before the body is read closes the connection.
Every refusal is counted in the metrics and noted in the operator's log (see ``refusals``).

Stopping: :meth:`StoreChunksHandler.drain` refuses new requests and lets those under way finish
until the grace runs out; a request still receiving its body then is answered 503 ``stopping``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

from aiohttp import web

from operator_node.api.errors import classify, is_node_failure, refusal_codes, to_http_error
from operator_node.api.ratelimit import RateLimiter
from operator_node.api.refusals import RefusalLog, own_limit
from operator_node.api.responses import error_response
from operator_node.api.upload import NodeStopping, read_head, read_rest
from operator_node.dispersal import StoreChunksPipeline
from operator_node.dispersal.readiness import DispersalReadiness
from operator_node.errors import OperatorNodeError
from operator_node.metrics import Metrics
from operator_node.protocol.wire import PREFIX_BYTES, WireLimits

STORE_CHUNKS_PATH = "/v1/store-chunks"


@dataclass(frozen=True)
class UploadLimits:
    """How much a StoreChunks sender may hold, and for how long (``[limits]``)."""

    max_request_bytes: int = 64 << 20
    max_inflight: int = 8
    max_pending_heads: int = 64
    max_pending_heads_per_client: int = 8
    head_timeout: float = 5.0
    body_timeout: float = 10.0
    body_min_rate: float = 1 << 20


# What a StoreChunks request can end as besides the refusals of api.errors: its own refusals
# before the body is read, and the readiness reasons that refuse (dispersal.readiness).
STORE_CHUNKS_OUTCOMES = frozenset(
    {"ok", "stopping", "length_required", "too_large", "malformed", "busy", "rate_limited"}
    | {"initializing", "chain_unavailable", "allowlist_unavailable", "no_disperser_check"}
    | {"not_registered", "store_full", "no_key", "payments_unavailable"}
)


class StoreChunksHandler:
    """Admits, reads and hands StoreChunks requests to the pipeline; maps refusals to HTTP."""

    def __init__(
        self,
        pipeline: StoreChunksPipeline,
        metrics: Metrics,
        refusals: RefusalLog,
        *,
        limits: UploadLimits,
        wire_limits: WireLimits,
        readiness: DispersalReadiness | None = None,
        disperser_limiter: RateLimiter | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._metrics = metrics
        metrics.preset_outcomes("store_chunks", STORE_CHUNKS_OUTCOMES | refusal_codes())
        self._refusals = refusals
        self._limits = limits
        self._wire_limits = wire_limits
        self._readiness = readiness
        self._disperser_limiter = disperser_limiter
        self._inflight = 0
        self._heads = 0
        self._heads_by_peer: Counter[str] = Counter()
        self._active: dict[int, web.Request] = {}  # by id(): requests are not hashable
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False

    def add_routes(self, app: web.Application) -> None:
        """Register the StoreChunks route on ``app``."""
        app.router.add_post(STORE_CHUNKS_PATH, self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one StoreChunks request (JSON reply with the signature, or a JSON refusal)."""
        if self._stopping:
            return self._refuse(request, 503, "stopping", "the node is stopping", retry=True)
        reason = self._readiness.refusal() if self._readiness is not None else None
        if reason is not None:
            return self._refuse(request, 503, reason.code, reason.message, retry=True)
        length = request.content_length
        if length is None:
            return self._refuse(
                request, 411, "length_required", "StoreChunks needs a Content-Length header"
            )
        if length > self._limits.max_request_bytes:
            message = f"body of {length} bytes exceeds {self._limits.max_request_bytes}"
            return self._refuse(
                request, 413, "too_large", message, limit="limits.max_request_bytes"
            )
        if length < PREFIX_BYTES:
            message = f"body of {length} bytes is shorter than a StoreChunks prefix"
            return self._refuse(request, 400, "malformed", message)
        self._active[id(request)] = request
        self._idle.clear()
        try:
            return await self._admit(request, length)
        except OperatorNodeError as exc:
            status, code = classify(exc)
            self._metrics.count_store_chunks(code)
            if not is_node_failure(code):
                limit = own_limit(exc, code)
                self._refusals.refused(status, code, str(exc), request.remote, limit=limit)
            response = to_http_error(exc)
            response.force_close()  # the body may be unread: the connection is not reusable
            return response
        finally:
            del self._active[id(request)]
            if not self._active:
                self._idle.set()

    async def drain(self, grace: float) -> None:
        """Refuse new requests; wait up to ``grace`` seconds for those under way, then end the
        reads of any still receiving their bodies (they are answered 503 ``stopping``)."""
        self._stopping = True
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            for request in list(self._active.values()):
                request.content.set_exception(NodeStopping("the node is stopping"))
            await self._idle.wait()

    async def _admit(self, request: web.Request, length: int) -> web.StreamResponse:
        peer = request.remote or ""
        limits = self._limits
        if self._heads >= limits.max_pending_heads:
            message = "too many requests are sending heads"
            return self._refuse(request, 503, "busy", message, limit="limits.max_pending_heads")
        if self._heads_by_peer[peer] >= limits.max_pending_heads_per_client:
            message = f"too many requests from {peer} are sending heads"
            limit = "limits.max_pending_heads_per_client"
            return self._refuse(request, 503, "busy", message, limit=limit)
        self._heads += 1
        self._heads_by_peer[peer] += 1
        try:
            head = await read_head(request, length, self._wire_limits, limits.head_timeout)
            admission = await self._pipeline.authenticate(head, request.headers)
        finally:
            self._heads -= 1
            self._heads_by_peer[peer] -= 1
            if not self._heads_by_peer[peer]:
                del self._heads_by_peer[peer]
        limiter = self._disperser_limiter
        if limiter is not None and not limiter.allow(admission.disperser):
            message = f"disperser {admission.disperser} is over its request rate"
            return self._refuse(
                request, 429, "rate_limited", message, retry=True, limit="dispersal.rate_limit"
            )
        if self._inflight >= limits.max_inflight:
            message = "node is at its in-flight request limit"
            return self._refuse(request, 503, "busy", message, limit="limits.max_inflight")
        self._inflight += 1
        try:
            parsed = self._pipeline.meter(head)
            body = await read_rest(
                request,
                head,
                length,
                timeout=limits.body_timeout,
                min_rate=limits.body_min_rate,
            )
            result = await self._pipeline.store_admitted(admission, body, parsed)
        finally:
            self._inflight -= 1
        self._metrics.count_store_chunks("ok")
        return web.json_response(
            {
                "batch_header_hash": "0x" + result.batch_header_hash.hex(),
                "operator_id": "0x" + result.operator_id.hex(),
                "signature": "0x" + result.signature.hex(),
                "already_stored": not result.newly_stored,
            }
        )

    def _refuse(
        self,
        request: web.Request,
        status: int,
        code: str,
        message: str,
        *,
        retry: bool = False,
        limit: str | None = None,
    ) -> web.Response:
        """A refusal before the body was read: counted, logged (naming the node's own ``limit``
        behind it, if any), and the connection closed (the unread body is not the node's to
        drain)."""
        self._metrics.count_store_chunks(code)
        self._refusals.refused(status, code, message, request.remote, limit=limit)
        response = error_response(status, code, message)
        if retry or status == 503:
            response.headers["Retry-After"] = "1"
        response.force_close()
        return response
