"""Build the node's HTTP applications, one per listener.

As in EigenDA, dispersal and retrieval listen on separate ports (``[api] dispersal_port`` and
``[api] port``), so an operator can open the first to the disperser alone and the second to
everyone. Each application answers a request meant for the other with 404 ``wrong_port``, naming
the port to use, so that a client holding a wrong socket learns why at once. With one port
(``dispersal_port = 0``) one application serves everything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from operator_node.api.dispersal import STORE_CHUNKS_PATH
from operator_node.api.eigen import EigenApi
from operator_node.api.middleware import make_observe_middleware
from operator_node.api.responses import error_response
from operator_node.api.retrieval import RETRIEVAL_PATH
from operator_node.logging import Throttle, get_logger
from operator_node.metrics import Metrics

# The public routes that a dispersal port refuses as ``wrong_port`` (retrieval and /eigen).
_PUBLIC_ROUTES = (("GET", RETRIEVAL_PATH), ("GET", "/eigen/{tail:.*}"))


def make_api_app(*, eigen: EigenApi, metrics: Metrics, max_request_bytes: int) -> web.Application:
    """The public application served on ``[api] host:port``: the /eigen routes here, retrieval
    (and, with one port, StoreChunks) added by the caller."""
    app = _new_app(metrics, max_request_bytes)
    eigen.add_routes(app)
    return app


def make_dispersal_app(*, metrics: Metrics, max_request_bytes: int) -> web.Application:
    """The application served on ``[api] host:dispersal_port``: StoreChunks, added by the caller,
    and nothing public."""
    return _new_app(metrics, max_request_bytes)


def refuse_dispersal_here(app: web.Application, dispersal_port: int) -> None:
    """Make ``app`` (the public port's) answer StoreChunks with 404 ``wrong_port``."""
    app.router.add_post(
        STORE_CHUNKS_PATH,
        _wrong_port(
            f"StoreChunks is served on this node's dispersal port, {dispersal_port}", "dispersal"
        ),
    )


def refuse_public_here(app: web.Application, port: int) -> None:
    """Make ``app`` (the dispersal port's) answer retrieval and /eigen with 404 ``wrong_port``."""
    handler = _wrong_port(
        f"retrieval and the node API are served on this node's port {port}", "retrieval"
    )
    for method, path in _PUBLIC_ROUTES:
        app.router.add_route(method, path, handler)


def _new_app(metrics: Metrics, max_request_bytes: int) -> web.Application:
    return web.Application(
        client_max_size=max_request_bytes, middlewares=[make_observe_middleware(metrics)]
    )


def _wrong_port(
    where: str, meant_for: str
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A handler refusing requests ``meant_for`` the other port. Each refusal is also logged
    (at most once per interval): the likeliest cause is this operator's socket on chain, which
    ``operator-node status`` shows, naming the wrong port."""
    message = f"{where}, not on this one: check the socket this request was sent to"
    throttle = Throttle()
    log = get_logger("api")

    async def wrong_port(request: web.Request) -> web.StreamResponse:
        suppressed = throttle.admit(meant_for)
        if suppressed is not None:
            log.warning(
                "request_on_wrong_port",
                meant_for=meant_for,
                path=request.path[:100],
                peer=request.remote,
                suppressed=suppressed,
                hint="check this operator's socket on chain (operator-node status)",
            )
        response = error_response(404, "wrong_port", message)
        # A StoreChunks body sent here is not read: do not keep the connection for another one.
        response.force_close()
        return response

    return wrong_port
