"""Prometheus exposition on its own port, from the registry built in ``cli``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


def make_metrics_app(
    registry: CollectorRegistry, before_scrape: Callable[[], None] = lambda: None
) -> web.Application:
    """An app serving ``GET /metrics`` (and ``/`` for a quick look) from ``registry``.

    ``before_scrape`` refreshes values that are computed rather than counted (e.g. the
    performance score from the services' health) right before each collection.
    """

    async def metrics(request: web.Request) -> web.Response:
        before_scrape()
        # Collection reads /proc and walks every collector: keep it off the event loop.
        body = await asyncio.to_thread(generate_latest, registry)
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", metrics)
    return app
