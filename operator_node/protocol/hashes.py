"""keccak256, the one hash of the protocol.

pycryptodome's keccak is used directly rather than through ``eth_hash`` because it hashes any
buffer (``memoryview`` slices of a request body) without copying it into ``bytes`` first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias

from Crypto.Hash import keccak

WORD_BYTES = 32
ZERO_WORD = bytes(WORD_BYTES)

# What the protocol hashes: request bodies arrive as memoryview, encoders hold bytes.
Bytes: TypeAlias = bytes | bytearray | memoryview


def keccak256(data: Bytes) -> bytes:
    """Return the 32-byte keccak256 (Ethereum's, not SHA3-256) of ``data``; no copy is made."""
    return bytes(keccak.new(digest_bits=256, data=data).digest())


def keccak256_parts(parts: Iterable[Bytes]) -> bytes:
    """Return keccak256 of the concatenation of ``parts`` without building the concatenation."""
    state = keccak.new(digest_bits=256)
    for part in parts:
        state.update(part)
    return bytes(state.digest())
