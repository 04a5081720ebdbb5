"""Structured logging with structlog: JSON lines for machines, readable lines for a terminal.

``configure_logging`` is called once by ``cli``; nothing here runs at import. A redaction step
replaces the value of any key that looks like a secret, so a careless ``log.info(..., password=p)``
cannot leak it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

_SECRET_MARKERS = ("password", "passphrase", "secret", "private_key", "privkey", "mnemonic")
_REDACTED = "[redacted]"


def redact_secrets(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: blank out values whose key names a secret."""
    for key in event_dict:
        if any(marker in key.lower() for marker in _SECRET_MARKERS):
            event_dict[key] = _REDACTED
    return event_dict


def configure_logging(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Set up structlog (and the stdlib root logger, for libraries) for this process.

    ``fmt`` is "json", "console" or "auto" (console when ``stream`` is a terminal).
    """
    stream = sys.stderr if stream is None else stream
    use_console = fmt == "console" or (fmt == "auto" and stream.isatty())
    numeric_level = logging.getLevelNamesMapping()[level.upper()]
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=stream.isatty())
        if use_console
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=True,
    )
    # Libraries (aiohttp, web3) log through the standard library: keep them quiet and on stderr.
    logging.basicConfig(level=max(numeric_level, logging.WARNING), stream=stream, force=True)


def get_logger(name: str) -> Any:
    """A structlog logger bound with the component name."""
    return structlog.get_logger(component=name)
