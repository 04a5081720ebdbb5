"""Whether the node can take dispersals now, and if not, why: one answer from every part that knows.

The chain service knows whether the operator is registered and the allow-list readable; the
pipeline knows when the store refused a batch for lack of space. Each sets or clears its own
reason here, and the dispersal service's health follows from all of them: Up with none,
Initializing while the only reasons are start-up ones, Down otherwise (``/eigen/node/health``
then answers 206). A reason that comes from the node's own state and dooms every request (an
operator id that is not registered) is also a refusal: the StoreChunks handler answers it before
reading a body, with the reason's own code, instead of letting the request fail further on with a
message that blames the disperser.
"""

from __future__ import annotations

from dataclasses import dataclass

from operator_node.health import Health, ServiceStatus
from operator_node.logging import get_logger


@dataclass(frozen=True)
class Reason:
    """Why dispersal cannot work: a machine code, the operator-facing message, and its effect."""

    code: str
    message: str
    status: ServiceStatus = ServiceStatus.DOWN
    refuses: bool = False


class DispersalReadiness:
    """The reasons dispersal is not Up, by the part that reported them; drives the health entry."""

    def __init__(self, health: Health, service_id: str) -> None:
        self._health = health
        self._service_id = service_id
        self._reasons: dict[str, Reason] = {}
        self._log = get_logger("dispersal")
        self._publish()

    def set(self, source: str, reason: Reason | None) -> None:
        """Record ``source``'s reason (None clears it) and update the health entry."""
        if self._reasons.get(source) == reason:
            return  # the common case: nothing changed
        previous = self._reasons.pop(source, None)
        if reason is not None:
            self._reasons[source] = reason
        if reason is not None and reason != previous and reason.status is ServiceStatus.DOWN:
            self._log.warning(
                "dispersal_down", source=source, code=reason.code, reason=reason.message
            )
        elif reason is None and previous is not None and previous.status is ServiceStatus.DOWN:
            self._log.info("dispersal_reason_cleared", source=source, code=previous.code)
        self._publish()

    def reasons(self) -> dict[str, Reason]:
        """Every reason in force, by source."""
        return dict(self._reasons)

    def refusal(self) -> Reason | None:
        """The reason every request would be refused for now, or None."""
        for reason in self._reasons.values():
            if reason.refuses:
                return reason
        return None

    def _publish(self) -> None:
        statuses = {reason.status for reason in self._reasons.values()}
        if ServiceStatus.DOWN in statuses:
            status = ServiceStatus.DOWN
        elif statuses:
            status = ServiceStatus.INITIALIZING
        else:
            status = ServiceStatus.UP
        self._health.set_status(self._service_id, status)
