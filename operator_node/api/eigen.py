"""The AVS node specification API (v0.0.1) under ``/eigen``.

Routes, status codes and bodies follow the specification exactly; see reference/eigenlayer.md.
"""

from __future__ import annotations

from aiohttp import web

from operator_node.health import Health, NodeHealth, ServiceStatus

SPEC_VERSION = "v0.0.1"
_SUPPORTED_VERSIONS = {SPEC_VERSION, SPEC_VERSION.removeprefix("v")}

_NODE_STATUS = {NodeHealth.HEALTHY: 200, NodeHealth.PARTIAL: 206, NodeHealth.UNHEALTHY: 503}
_SERVICE_STATUS = {ServiceStatus.UP: 200, ServiceStatus.INITIALIZING: 206, ServiceStatus.DOWN: 503}


class EigenApi:
    """Handlers for the four node-spec routes, reading the shared :class:`Health`."""

    def __init__(self, health: Health, *, node_name: str, node_version: str) -> None:
        self._health = health
        self._node_name = node_name
        self._node_version = node_version

    def add_routes(self, app: web.Application) -> None:
        """Register the /eigen routes on ``app``."""
        app.router.add_get("/eigen/node", self.node)
        app.router.add_get("/eigen/node/health", self.node_health)
        app.router.add_get("/eigen/node/services", self.services)
        app.router.add_get("/eigen/node/services/{service_id}/health", self.service_health)

    async def node(self, request: web.Request) -> web.StreamResponse:
        """``GET /eigen/node``: name and versions."""
        if unsupported := _check_version(request):
            return unsupported
        return web.json_response(
            {
                "node_name": self._node_name,
                "spec_version": SPEC_VERSION,
                "node_version": self._node_version,
            }
        )

    async def node_health(self, request: web.Request) -> web.StreamResponse:
        """``GET /eigen/node/health``: 200 healthy, 206 partially healthy, 503 unhealthy."""
        if unsupported := _check_version(request):
            return unsupported
        return web.Response(status=_NODE_STATUS[self._health.get_overall()])

    async def services(self, request: web.Request) -> web.StreamResponse:
        """``GET /eigen/node/services``: every service with its status."""
        if unsupported := _check_version(request):
            return unsupported
        return web.json_response(
            {
                "services": [
                    {
                        "id": s.id,
                        "name": s.name,
                        "description": s.description,
                        "status": str(s.status),
                    }
                    for s in self._health.get_services()
                ]
            }
        )

    async def service_health(self, request: web.Request) -> web.StreamResponse:
        """``GET /eigen/node/services/{id}/health``: 200 Up, 206 Initializing, 503 Down, 404."""
        if unsupported := _check_version(request):
            return unsupported
        service = self._health.get_service(request.match_info["service_id"])
        if service is None:
            return web.json_response({"message": "Service not found"}, status=404)
        return web.Response(status=_SERVICE_STATUS[service.status])


def _check_version(request: web.Request) -> web.Response | None:
    version = request.query.get("version")
    if version is None or version in _SUPPORTED_VERSIONS:
        return None
    return web.json_response({"message": "API version not found"}, status=404)
