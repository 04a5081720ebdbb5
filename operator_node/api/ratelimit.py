"""A per-client token bucket, bounded in memory."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    """``rate`` requests per second per client with bursts up to ``burst``; 0 means unlimited.

    At most ``max_clients`` buckets are kept; the least recently seen client is forgotten first
    (a forgotten client starts again with a full bucket, which errs toward serving).
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, client: str) -> bool:
        """Take one token for ``client``; False when its bucket is empty."""
        if self._rate <= 0:
            return True
        now = self._clock()
        tokens, last = self._buckets.pop(client, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        allowed = tokens >= 1.0
        self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)
        return allowed
