"""Structured logging with structlog: JSON lines for machines, readable lines for a terminal.

``configure_logging`` is called once by ``cli``; nothing here runs at import. A redaction step
replaces the value of any key that looks like a secret, so a careless ``log.info(..., password=p)``
cannot leak it.

Libraries (aiohttp, web3) log through the standard library; their records are bridged into the
same stream as one structlog event each (``LibraryLogBridge``). What a library logs can quote what
a remote sent (aiohttp quotes up to ~73 KB of a malformed request, across many lines), so the
bridge truncates the message and the error, keeps a traceback only for the node's own bugs, and
throttles each kind of record, so that junk from the internet cannot flood the log.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, MutableMapping
from typing import Any, TextIO

import structlog

# A library record's message and error are cut to this many characters; a traceback to TRACE.
MAX_LIBRARY_CHARS = 300
MAX_TRACE_CHARS = 4000
THROTTLE_INTERVAL = 10.0

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
    use_console = not writes_json(fmt, stream)
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
    # Libraries log through the standard library: warnings and up, bridged into this stream.
    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    root.addHandler(LibraryLogBridge())
    root.setLevel(max(numeric_level, logging.WARNING))


def writes_json(fmt: str, stream: TextIO | None = None) -> bool:
    """Whether ``[node] log_format`` ``fmt`` means JSON lines on ``stream`` (default stderr):
    "json" always, "auto" when the stream is not a terminal (a service manager, a container)."""
    stream = sys.stderr if stream is None else stream
    return fmt == "json" or (fmt == "auto" and not stream.isatty())


class Throttle:
    """Lets the first line of each kind through, then at most one per ``interval`` seconds.

    :meth:`admit` returns None for a line to drop, or how many lines of its kind were dropped
    since the last one let through. At most ``max_kinds`` kinds are remembered (the least recently
    seen is forgotten first), so kinds made up by a remote sender cannot grow it without bound.
    """

    def __init__(
        self,
        interval: float = THROTTLE_INTERVAL,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_kinds: int = 1024,
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._max_kinds = max_kinds
        self._kinds: OrderedDict[object, tuple[float, int]] = OrderedDict()

    def admit(self, kind: object) -> int | None:
        """Whether a line of ``kind`` goes out now: None (drop it) or the number dropped before."""
        now = self._clock()
        last = self._kinds.pop(kind, None)
        if last is not None and now - last[0] < self._interval:
            self._kinds[kind] = (last[0], last[1] + 1)
            return None
        self._kinds[kind] = (now, 0)
        if len(self._kinds) > self._max_kinds:
            self._kinds.popitem(last=False)
        return 0 if last is None else last[1]


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked with "..." when cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


class LibraryLogBridge(logging.Handler):
    """Standard-library records as one structlog event each, truncated and throttled.

    The event is ``library_log`` with the library's logger name, its level, the message and, for
    a record with an exception, ``error`` (type and message). A traceback is kept (in
    ``traceback``, cut to MAX_TRACE_CHARS) only at ERROR and above and only for exceptions that
    are not a malformed request (those are the remote's fault, not a bug). Records are throttled
    by (logger, level, message template).
    """

    def __init__(self, throttle: Throttle | None = None) -> None:
        super().__init__()
        self._throttle = throttle or Throttle()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            suppressed = self._throttle.admit((record.name, record.levelno, str(record.msg)))
            if suppressed is None:
                return
            fields: dict[str, Any] = {
                "logger": record.name,
                "message": truncate(record.getMessage(), MAX_LIBRARY_CHARS),
                "suppressed": suppressed,
            }
            level = record.levelno
            exc = record.exc_info[1] if record.exc_info else None
            if exc is not None:
                fields["error"] = truncate(f"{type(exc).__name__}: {exc}", MAX_LIBRARY_CHARS)
                if _is_bad_request(exc):
                    level = min(level, logging.INFO)
                elif level >= logging.ERROR:
                    trace = "".join(traceback.format_exception(exc))
                    fields["traceback"] = truncate(trace, MAX_TRACE_CHARS)
            structlog.get_logger(component="library").log(level, "library_log", **fields)
        except Exception:  # noqa: BLE001 - a logging failure must not take the node down
            self.handleError(record)


def _is_bad_request(exc: BaseException) -> bool:
    # aiohttp's parser errors (malformed request line, headers, body framing) are HTTP 400s.
    # Imported here, not at the top: the CLI's quick commands never import aiohttp.
    from aiohttp.http_exceptions import HttpProcessingError  # noqa: PLC0415

    return isinstance(exc, HttpProcessingError)


def get_logger(name: str) -> Any:
    """A structlog logger bound with the component name."""
    return structlog.get_logger(component=name)
