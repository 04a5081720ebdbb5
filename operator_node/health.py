"""Health of the node's services: set by the components that know it, read by the API.

Each component registers a service once and then updates its status as it learns it (the store
when it opens, the chain reader when an RPC call succeeds or fails). The node-spec API reads it.
Mutations happen on the event loop only, so no lock is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ServiceStatus(StrEnum):
    """A service's status, spelled as the AVS node specification spells it."""

    UP = "Up"
    DOWN = "Down"
    INITIALIZING = "Initializing"


@dataclass
class Service:
    """One entry of ``/eigen/node/services``.

    ``critical`` services make the node unhealthy (503) when down; the others make it partially
    healthy (206), e.g. the chain RPC, without which the node still serves retrieval.
    """

    id: str
    name: str
    description: str
    status: ServiceStatus
    critical: bool


class NodeHealth(StrEnum):
    """Overall health: ``/eigen/node/health`` answers 200, 206 or 503."""

    HEALTHY = "healthy"
    PARTIAL = "partially_healthy"
    UNHEALTHY = "unhealthy"


class Health:
    """The registry of services and their status."""

    def __init__(self) -> None:
        self._services: dict[str, Service] = {}

    def register(
        self,
        service_id: str,
        name: str,
        description: str,
        *,
        critical: bool,
        status: ServiceStatus = ServiceStatus.INITIALIZING,
    ) -> None:
        """Add a service (or replace one with the same id)."""
        self._services[service_id] = Service(service_id, name, description, status, critical)

    def unregister(self, service_id: str) -> None:
        """Remove a service that does not apply to this deployment (nothing if unknown)."""
        self._services.pop(service_id, None)

    def set_status(self, service_id: str, status: ServiceStatus) -> None:
        """Update one service's status. Raises KeyError for an id never registered."""
        self._services[service_id].status = status

    def get_service(self, service_id: str) -> Service | None:
        """The service with that id, or None."""
        return self._services.get(service_id)

    def get_services(self) -> list[Service]:
        """Every registered service, in registration order."""
        return list(self._services.values())

    def compute_up_fraction(self) -> float:
        """Share of registered services that are Up (1.0 when none are registered)."""
        if not self._services:
            return 1.0
        up = sum(s.status is ServiceStatus.UP for s in self._services.values())
        return up / len(self._services)

    def get_overall(self) -> NodeHealth:
        """UNHEALTHY if a critical service is down, PARTIAL if any service is not up."""
        statuses = [(s.status, s.critical) for s in self._services.values()]
        if any(status is ServiceStatus.DOWN and critical for status, critical in statuses):
            return NodeHealth.UNHEALTHY
        if any(status is not ServiceStatus.UP for status, _ in statuses):
            return NodeHealth.PARTIAL
        return NodeHealth.HEALTHY
