"""Errors raised by the chunk store. ``api/`` maps :class:`StoreFullError` to 507."""

from __future__ import annotations

from operator_node.errors import OperatorNodeError


class StoreError(OperatorNodeError):
    """Base class of every error the chunk store raises on purpose."""


class StoreFullError(StoreError):
    """The store reached its ``max_size`` or the disk is full; the batch was not written.

    Everything stored earlier stays readable; writes succeed again once expiry frees space.
    """


class StoreFormatError(StoreError):
    """The data directory holds a store this version cannot read (newer or unknown format)."""


class StoreInputError(StoreError):
    """A caller passed a malformed key or batch (wrong hash length, index out of range, ...).

    Raised before any transaction starts, so nothing is written.
    """


class StoreLockedError(StoreError):
    """Another process (or another open store object) already uses this data directory."""


class StoreClosedError(StoreError):
    """The store was used after :meth:`close`."""
