"""A leaky bucket of symbols: what metering a reservation (or the on-demand rate) comes down to.

The bucket holds a level of symbols that leaks at ``rate`` per second and may hold ``capacity``
(the rate times the window). A fill of ``symbols`` is accepted when it fits; with
``overfill_once`` it is also accepted whenever the bucket is not yet full, so a small
reservation can still send one large blob, which then keeps the next ones out until it has
leaked away (as EigenDA's buckets).
A refused fill adds nothing and says how long until it would fit. Time is passed in (a
monotonic clock's seconds), so every decision is reproducible; time never goes backwards here:
an earlier time than the last one seen counts as no time at all.
"""

from __future__ import annotations

from dataclasses import dataclass


class BucketError(ValueError):
    """A bucket with a rate or window that cannot meter anything."""


@dataclass(frozen=True)
class Fill:
    """The outcome of one fill: accepted, or refused with the seconds until it would fit
    (``never`` when it can never fit: larger than the capacity, with no overfill)."""

    accepted: bool
    retry_after: float = 0.0
    never: bool = False


class LeakyBucket:
    """Symbols leaking at ``rate`` per second out of a bucket of ``capacity``, starting at
    ``level`` at time ``now``. Raises :class:`BucketError` for a rate or capacity that is not
    positive."""

    def __init__(
        self,
        rate: float,
        capacity: float,
        *,
        overfill_once: bool = True,
        level: float = 0.0,
        now: float = 0.0,
    ) -> None:
        self._check(rate, capacity)
        self.rate = rate
        self.capacity = capacity
        self.overfill_once = overfill_once
        self._level = max(0.0, level)
        self._time = now

    @staticmethod
    def _check(rate: float, capacity: float) -> None:
        if not rate > 0 or not capacity > 0:
            raise BucketError(
                f"a bucket needs a positive rate and capacity, got {rate}, {capacity}"
            )

    def level(self, now: float) -> float:
        """The level after leaking until ``now``."""
        self._leak(now)
        return self._level

    def fill(self, now: float, symbols: float) -> Fill:
        """Add ``symbols`` at ``now`` if they are let in; a refused fill changes nothing."""
        outcome = self.check(now, symbols)
        if outcome.accepted:
            self._level += symbols
        return outcome

    def check(self, now: float, symbols: float) -> Fill:
        """What :meth:`fill` would answer at ``now``, without adding anything."""
        self._leak(now)
        if self._level + symbols <= self.capacity:
            return Fill(True)
        if self.overfill_once:
            if self._level < self.capacity:
                return Fill(True)
            # Full (or overfilled): it lets anything in once the level is below the capacity.
            return Fill(False, retry_after=(self._level - self.capacity) / self.rate + 1e-6)
        if symbols > self.capacity:
            return Fill(False, never=True)
        return Fill(False, retry_after=(self._level + symbols - self.capacity) / self.rate)

    def reconfigure(self, now: float, rate: float, capacity: float) -> None:
        """A new rate and capacity from ``now`` on, keeping the level (a changed reservation
        does not refill or empty its bucket)."""
        self._check(rate, capacity)
        self._leak(now)
        self.rate, self.capacity = rate, capacity

    def _leak(self, now: float) -> None:
        if now > self._time:
            self._level = max(0.0, self._level - (now - self._time) * self.rate)
            self._time = now
