"""A bounds-checked big-endian reader over a memoryview, for the wire decoders.

Every read checks the bytes are there before slicing, so a lying length fails with a message
naming the field and the offset instead of reading past the end or allocating.
"""

from __future__ import annotations

import struct
from typing import Any

from operator_node.protocol.errors import MalformedRequest

U8 = struct.Struct(">B")
U16 = struct.Struct(">H")
U32 = struct.Struct(">I")


class Reader:
    """Reads fields in order from ``view[start:end]``."""

    def __init__(self, view: memoryview, start: int, end: int) -> None:
        self._view = view
        self.position = start
        self._end = end

    @property
    def remaining(self) -> int:
        """Bytes left before the end of the region."""
        return self._end - self.position

    def take(self, size: int, what: str) -> memoryview:
        """Return the next ``size`` bytes as a slice (no copy); raise if they are not there."""
        if size > self.remaining:
            raise MalformedRequest(
                f"truncated {what}: needs {size} bytes at offset {self.position}, "
                f"{self.remaining} left"
            )
        start = self.position
        self.position += size
        return self._view[start : self.position]

    def unpack(self, layout: struct.Struct, what: str) -> tuple[Any, ...]:
        """Read one fixed-size ``layout``; raise :class:`MalformedRequest` if truncated."""
        return tuple(layout.unpack(self.take(layout.size, what)))

    def uint(self, layout: struct.Struct, what: str) -> int:
        """Read one unsigned integer field."""
        value: int = self.unpack(layout, what)[0]
        return value

    def words(self, count: int, what: str) -> tuple[bytes, ...]:
        """Read ``count`` 32-byte words (checked present before any is copied)."""
        block = self.take(32 * count, what)
        return tuple(bytes(block[i : i + 32]) for i in range(0, len(block), 32))

    def expect_end(self, what: str) -> None:
        """Raise :class:`MalformedRequest` unless the region was consumed exactly."""
        if self.remaining:
            raise MalformedRequest(f"{what} has {self.remaining} unexpected bytes at its end")
