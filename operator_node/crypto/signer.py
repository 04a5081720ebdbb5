"""Who signs the node's attestations: a narrow protocol, so a remote signer can replace the key.

Callers (the request handler, registration) depend only on :class:`Signer`. Signing is a G1 scalar
multiplication of about a millisecond and a half, so :class:`LocalSigner` runs it in a worker
thread rather than on the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, runtime_checkable

from operator_node.crypto.bls import BlsKeyPair
from operator_node.crypto.bn254 import g1_backend
from operator_node.crypto.errors import InvalidMessageError


@runtime_checkable
class Signer(Protocol):
    """Signs 32-byte message hashes with one operator's BN254 BLS key."""

    @property
    def operator_id(self) -> bytes:
        """keccak256 of the G1 public key (32 bytes)."""
        ...

    @property
    def pubkey_g1(self) -> bytes:
        """The G1 public key, 64 bytes X ‖ Y."""
        ...

    @property
    def pubkey_g2(self) -> bytes:
        """The G2 public key, 128 bytes in EIP-197 order."""
        ...

    async def sign(self, msg_hash: bytes) -> bytes:
        """The 64-byte G1 signature ``sk·hashToG1(msg_hash)``."""
        ...


class LocalSigner:
    """A :class:`Signer` holding the key in this process (loaded from a keystore)."""

    def __init__(self, keypair: BlsKeyPair) -> None:
        """Keep ``keypair``; derives the G2 key now so no request pays for it."""
        self._keypair = keypair
        self._pubkey_g1 = keypair.pubkey_g1
        self._pubkey_g2 = keypair.pubkey_g2
        self._operator_id = keypair.operator_id

    @property
    def operator_id(self) -> bytes:
        """keccak256 of the G1 public key (32 bytes)."""
        return self._operator_id

    @property
    def pubkey_g1(self) -> bytes:
        """The G1 public key, 64 bytes X ‖ Y."""
        return self._pubkey_g1

    @property
    def pubkey_g2(self) -> bytes:
        """The G2 public key, 128 bytes in EIP-197 order."""
        return self._pubkey_g2

    async def sign(self, msg_hash: bytes) -> bytes:
        """Sign; raises :class:`InvalidMessageError` unless 32 bytes.

        In C (~0.13 ms) the signature is made on the event loop: a thread hop would cost more.
        The pure-Python path (~1.5-6 ms) runs in a worker thread instead.
        """
        if len(msg_hash) != 32:
            raise InvalidMessageError(f"a message hash is 32 bytes, got {len(msg_hash)}")
        if g1_backend() == "native":
            return self._keypair.sign(bytes(msg_hash))
        return await asyncio.to_thread(self._keypair.sign, bytes(msg_hash))

    def __repr__(self) -> str:
        return f"LocalSigner(operator_id=0x{self._operator_id.hex()})"
