"""Middleware shared by every route: per-route metrics and JSON bodies for HTTP errors."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from operator_node.api.responses import error_response
from operator_node.metrics import Metrics

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _route_label(request: web.Request) -> str:
    # The route pattern, never the raw path: a label per URL would grow without bound.
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def make_observe_middleware(metrics: Metrics) -> Middleware:
    """Count, time and JSON-ify every request's outcome."""

    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        start = time.perf_counter()
        metrics.http_request_started()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            if exc.empty_body or exc.status < 400:
                raise
            code = exc.reason.lower().replace(" ", "_")
            return error_response(exc.status, code, exc.text or exc.reason)
        finally:
            metrics.http_request_finished()
            metrics.observe_http(
                _route_label(request), request.method, status, time.perf_counter() - start
            )

    return observe
