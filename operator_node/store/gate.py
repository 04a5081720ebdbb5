"""A shared/exclusive gate: many readers at once, or one thread that remaps the store.

LMDB may move its memory map when the map grows; a reader copying out of the old mapping at that
moment would fault. Readers hold the gate shared for the length of their read transaction, and
the writer holds it exclusive only while it changes the map size. Waiting remappers block new
readers, so a steady stream of reads cannot starve a growth.
"""

from __future__ import annotations

import threading


class SharedExclusiveGate:
    """Readers-writer lock with writer preference."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._exclusive = False
        self._waiting = 0

    def acquire_shared(self) -> None:
        """Enter as one of many readers; blocks while a remap holds or awaits the gate."""
        with self._cond:
            while self._exclusive or self._waiting:
                self._cond.wait()
            self._readers += 1

    def release_shared(self) -> None:
        """Leave as a reader."""
        with self._cond:
            self._readers -= 1
            if self._readers == 0:
                self._cond.notify_all()

    def acquire_exclusive(self) -> None:
        """Enter alone: waits until every reader has left."""
        with self._cond:
            self._waiting += 1
            try:
                while self._exclusive or self._readers:
                    self._cond.wait()
            finally:
                self._waiting -= 1
            self._exclusive = True

    def release_exclusive(self) -> None:
        """Leave the exclusive hold and wake every waiter."""
        with self._cond:
            self._exclusive = False
            self._cond.notify_all()
