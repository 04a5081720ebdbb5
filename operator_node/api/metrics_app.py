"""Prometheus exposition on its own port, from the registry built in ``cli``."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


def make_metrics_app(registry: CollectorRegistry) -> web.Application:
    """An app serving ``GET /metrics`` (and ``/`` for a quick look) from ``registry``."""

    async def metrics(request: web.Request) -> web.Response:
        # Collection reads /proc and walks every collector: keep it off the event loop.
        body = await asyncio.to_thread(generate_latest, registry)
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", metrics)
    return app
