"""Reading a StoreChunks body off the connection: the head first, then the rest, each bounded.

A StoreChunks body is a small head (prefix and header, which the disperser signs) and then the
chunks. The node reads the head alone, under a short deadline and at most ``max_header_bytes``,
so it can authenticate the sender before it commits an in-flight slot or a buffer of the
declared length. Only then is the rest read into one buffer sized from ``Content-Length``, under a
deadline that allows ``body_timeout`` seconds plus the time the rest takes at ``body_min_rate``
bytes per second. A sender that misses a deadline gets 408 and loses the connection.

Every failure here frees the request's buffer before it raises: the library keeps the exception
that ended a read (a lost connection) on the request's stream, whose traceback holds this frame,
and that reference cycle would otherwise hold the whole buffer until the cycle collector ran.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from operator_node.protocol.errors import MalformedRequest, ProtocolError
from operator_node.protocol.wire import PREFIX_BYTES, WireLimits, store_chunks_head_length


class UploadTimeout(ProtocolError):
    """The sender did not deliver the head or the body in time; ``limit`` names the deadline's
    configuration key."""

    code = "timeout"

    def __init__(self, message: str, *, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


class IncompleteBody(ProtocolError):
    """The connection ended (or the body ran short) before the declared length arrived."""

    code = "incomplete_body"


class NodeStopping(ProtocolError):
    """The node is stopping: the request was not started, or its grace ran out."""

    code = "stopping"


async def read_head(request: web.Request, length: int, limits: WireLimits, timeout: float) -> bytes:
    """Read the head of a StoreChunks body of ``length`` bytes within ``timeout`` seconds.

    Raises :class:`MalformedRequest` (or ``RequestTooLarge``) for a prefix that declares no valid
    head or a head longer than the body, :class:`UploadTimeout` and :class:`IncompleteBody`.
    """
    content = request.content
    try:
        async with asyncio.timeout(timeout):
            prefix = await content.readexactly(PREFIX_BYTES)
            head_length = store_chunks_head_length(prefix, limits)
            if head_length > length:
                raise MalformedRequest(
                    f"the header runs past the end of the body ({head_length} > {length} bytes)"
                )
            return prefix + await content.readexactly(head_length - PREFIX_BYTES)
    except TimeoutError:
        raise UploadTimeout(
            f"the head did not arrive within {timeout:g} s", limit="limits.head_timeout"
        ) from None
    except (asyncio.IncompleteReadError, ConnectionError):
        raise IncompleteBody("the connection ended before the head arrived") from None


async def read_rest(
    request: web.Request, head: bytes, length: int, *, timeout: float, min_rate: float
) -> memoryview:
    """Read the body after ``head`` into one buffer of ``length`` bytes (one copy per byte).

    The deadline is ``timeout`` plus the rest's size over ``min_rate`` bytes per second. Raises
    :class:`UploadTimeout`, :class:`IncompleteBody`, or whatever was set on the request's stream
    (:class:`NodeStopping` when the node's grace ran out); the buffer is freed first.
    """
    buffer = bytearray(length)
    view = memoryview(buffer)
    position = len(head)
    view[:position] = head
    deadline = timeout + (length - position) / min_rate
    content = request.content
    try:
        async with asyncio.timeout(deadline):
            while position < length:
                piece = await content.readany()
                if not piece or len(piece) > length - position:
                    break
                view[position : position + len(piece)] = piece
                position += len(piece)
    except BaseException as exc:
        view.release()
        buffer.clear()
        if isinstance(exc, TimeoutError):
            raise UploadTimeout(
                f"the body ({length} bytes) did not arrive within {deadline:.0f} s",
                limit="limits.body_timeout",
            ) from None
        if isinstance(exc, ConnectionError):
            raise IncompleteBody("the connection ended before the body arrived") from None
        raise
    if position != length:
        view.release()
        buffer.clear()
        raise IncompleteBody(f"body does not match its declared {length} bytes")
    return view
