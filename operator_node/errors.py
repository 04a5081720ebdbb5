"""The root of the package's exception hierarchy.

Every error the package raises on purpose derives from :class:`OperatorNodeError`. Subpackages
define their own subclasses next to the code that raises them (``erasure``, ``crypto``, ``store``,
``chain``, ``protocol``); only ``api/`` turns them into HTTP status codes and only ``cli/`` turns
them into exit codes.
"""

from __future__ import annotations


class OperatorNodeError(Exception):
    """Base class of every error raised on purpose by operator-node."""


class ConfigError(OperatorNodeError):
    """The configuration could not be read or is invalid.

    ``source`` is the file (or environment variable) at fault, when known; the message already
    names it and every key at fault, so it can be printed as is.
    """

    def __init__(self, message: str, *, source: str = "") -> None:
        super().__init__(message)
        self.source = source


class StartupError(OperatorNodeError):
    """The node could not start: a port in use, a key that won't load, a store that won't open."""
