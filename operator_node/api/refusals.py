"""The operator's log of refused StoreChunks requests, one line per kind at most every so often.

The disperser is told why its request was refused; the operator should be able to see it too (a
disperser signing with the wrong key, a node whose chain view disagrees with the disperser's),
without a flood of bad requests becoming a flood of log lines. So each refusal code is logged at
once the first time, then at most once per ``interval`` seconds, and each line says how many
refusals of that code it stands for since the previous one (``suppressed``). The metrics count
every refusal (``operator_node_store_chunks_requests``).

A refusal caused by one of the node's own limits (a body over ``limits.max_request_bytes``, a
full in-flight table, the disperser's rate, the overhead bound, a deadline) is logged at warning
and names the configuration key (``limit``): an honest disperser refused by a limit set too low
is the operator's to fix, and must not pass for the sender's fault. Other client faults are
logged at info.

The node's own failures (store full, store unavailable) are logged in full by ``to_http_error``,
every time; they are not this log's business.
"""

from __future__ import annotations

from collections.abc import Callable

from operator_node.errors import OperatorNodeError
from operator_node.logging import Throttle, get_logger, truncate

DEFAULT_INTERVAL = 10.0
# Messages are the node's own words but can quote what the request held: enough to diagnose.
MAX_MESSAGE_CHARS = 200


# The configuration keys behind the limits a refusal can name: the wire decoder names its
# WireLimits field, which the node fills from [limits]; the others are fixed by the protocol.
_WIRE_LIMIT_KEYS = {
    "max_header_bytes": "limits.max_header_bytes",
    "max_body_bytes": "limits.max_request_bytes",
}
# Refusal codes that always stem from one configured limit.
_CODE_LIMIT_KEYS = {"excessive_overhead": "dispersal.max_overhead"}


def own_limit(exc: OperatorNodeError, code: str) -> str | None:
    """The node's own limit that refused with ``exc`` (a configuration key, or the protocol's
    fixed bound), or None when the request itself was at fault."""
    limit = getattr(exc, "limit", "")
    if isinstance(limit, str) and limit:
        if limit.startswith(("limits.", "dispersal.")):
            return limit
        return _WIRE_LIMIT_KEYS.get(limit, f"protocol {limit}")
    return _CODE_LIMIT_KEYS.get(code)


class RefusalLog:
    """Logs refusals by code: client faults at info; the node's limits and its 5xx at warning."""

    def __init__(self, clock: Callable[[], float], interval: float = DEFAULT_INTERVAL) -> None:
        # Keyed by code, the node's fixed set: never many kinds.
        self._throttle = Throttle(interval, clock=clock)
        self._log = get_logger("dispersal")

    def refused(
        self, status: int, code: str, message: str, peer: str | None, *, limit: str | None = None
    ) -> None:
        """Note one refusal; log it unless a line for ``code`` went out under ``interval`` ago.

        ``limit`` names the node's own limit that caused it (see :func:`own_limit`).
        """
        suppressed = self._throttle.admit(code)
        if suppressed is None:
            return
        emit = self._log.warning if status >= 500 or limit else self._log.info
        fields = {"limit": limit} if limit else {}
        emit(
            "store_chunks_refused",
            status=status,
            error=code,
            message=truncate(message, MAX_MESSAGE_CHARS),
            peer=peer,
            suppressed=suppressed,
            **fields,
        )
