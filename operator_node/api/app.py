"""Build the public API application: node-spec routes now, dispersal and retrieval as they land."""

from __future__ import annotations

from aiohttp import web

from operator_node.api.eigen import EigenApi
from operator_node.api.middleware import make_observe_middleware
from operator_node.metrics import Metrics


def make_api_app(*, eigen: EigenApi, metrics: Metrics, max_request_bytes: int) -> web.Application:
    """The aiohttp application served on ``[api] host:port``."""
    app = web.Application(
        client_max_size=max_request_bytes, middlewares=[make_observe_middleware(metrics)]
    )
    eigen.add_routes(app)
    return app
