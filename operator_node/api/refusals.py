"""The operator's log of refused StoreChunks requests, one line per kind at most every so often.

The disperser is told why its request was refused; the operator should be able to see it too (a
disperser signing with the wrong key, a node whose chain view disagrees with the disperser's),
without a flood of bad requests becoming a flood of log lines. So each refusal code is logged at
once the first time, then at most once per ``interval`` seconds, and each line says how many
refusals of that code it stands for since the previous one (``suppressed``). The metrics count
every refusal (``operator_node_store_chunks_requests``).

The node's own failures (store full, store unavailable) are logged in full by ``to_http_error``,
every time; they are not this log's business.
"""

from __future__ import annotations

from collections.abc import Callable

from operator_node.logging import Throttle, get_logger, truncate

DEFAULT_INTERVAL = 10.0
# Messages are the node's own words but can quote what the request held: enough to diagnose.
MAX_MESSAGE_CHARS = 200


class RefusalLog:
    """Logs refusals by code: client faults (4xx) at info, the node's limits (5xx) at warning."""

    def __init__(self, clock: Callable[[], float], interval: float = DEFAULT_INTERVAL) -> None:
        # Keyed by code, the node's fixed set: never many kinds.
        self._throttle = Throttle(interval, clock=clock)
        self._log = get_logger("dispersal")

    def refused(self, status: int, code: str, message: str, peer: str | None) -> None:
        """Note one refusal; log it unless a line for ``code`` went out under ``interval`` ago."""
        suppressed = self._throttle.admit(code)
        if suppressed is None:
            return
        emit = self._log.warning if status >= 500 else self._log.info
        emit(
            "store_chunks_refused",
            status=status,
            error=code,
            message=truncate(message, MAX_MESSAGE_CHARS),
            peer=peer,
            suppressed=suppressed,
        )
