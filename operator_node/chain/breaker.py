"""A circuit breaker for calls to the chain RPC made on behalf of requests.

When the RPC is down or hangs, each call waits for every retry before it fails (tens of seconds),
holding whatever the request holds. After one call fails for the transport, the breaker opens for
``retry_after`` seconds and calls fail at once; then one call at a time goes through as a probe
(the others still fail at once) until one succeeds, which closes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class CircuitBreaker:
    """Open for ``retry_after`` seconds after a failure, then half-open (one probe at a time)."""

    def __init__(self, retry_after: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.retry_after = retry_after
        self._clock = clock
        self._failed_at: float | None = None
        self.error = ""  # why the last call failed ("" once one succeeds)
        self._probing = False

    def is_open(self) -> bool:
        """Whether a call failed under ``retry_after`` seconds ago (asks, changes nothing)."""
        return self._failed_at is not None and self._clock() - self._failed_at < self.retry_after

    def admit(self) -> str | None:
        """None when a call may go out now (after a failure: as the one probe); otherwise why
        not (the last failure)."""
        if self._failed_at is None:
            return None
        if self.is_open() or self._probing:
            waited = self._clock() - self._failed_at
            return (
                f"the chain RPC failed {waited:.0f} s ago ({self.error}); "
                f"calls fail at once, retried at most every {self.retry_after:g} s"
            )
        self._probing = True
        return None

    def succeeded(self) -> None:
        """A call got an answer: close."""
        self._failed_at, self.error, self._probing = None, "", False

    def failed(self, error: str) -> None:
        """A call failed for the transport: open (again)."""
        self._failed_at, self.error, self._probing = self._clock(), error, False
