"""Operators' BLS public keys, from the BLSApkRegistry's registration events, read once.

A disperser needs every signer's G2 key (to verify signatures) and every operator's G1 key (for
the non-signers and the quorum apks of the confirmation witness). Asking the registry one
operator at a time costs an RPC per operator on every dispersal: at 250 operators, most of a
second. Every release's BLSApkRegistry emits ``NewPubkeyRegistration(address indexed operator,
G1Point pubkeyG1, G2Point pubkeyG2)`` once per operator, and a registered key never changes, so
:class:`PubkeyBook` scans those events like sockets and dispersers (from ``[chain]
events_from_block``, in ranges of at most ``events_block_range`` blocks, then only the blocks
since) and keeps them. Only a G1 key the scanned range does not hold is read from the registry.

G2 keys are kept as the chain encodes them, not checked: the subgroup check costs ~3 ms each in
Python, and a disperser decodes (and so checks) only its signers' keys.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import NamedTuple

from operator_node.chain.events import EventCursor
from operator_node.crypto.bls import operator_id_of
from operator_node.crypto.bn254 import G1Point


class RegisteredKey(NamedTuple):
    """One operator's keys as registered, and the block of its registration."""

    operator_id: bytes
    pubkey_g1: G1Point
    pubkey_g2: bytes  # 128 bytes, EIP-197 order; unchecked (decode with G2Point.from_bytes)
    block: int


class PubkeyBook:
    """Operators' keys by address, from ``NewPubkeyRegistration`` events."""

    def __init__(
        self, cursor: EventCursor, read_g1: Callable[[Sequence[str]], Awaitable[list[G1Point]]]
    ) -> None:
        """``cursor`` scans the BLSApkRegistry's ``NewPubkeyRegistration`` events; ``read_g1``
        reads operators' G1 keys from the registry, in order (for keys registered before the
        scan starts)."""
        self._cursor = cursor
        self._read_g1 = read_g1
        self._keys: dict[str, RegisteredKey] = {}
        self._lock = asyncio.Lock()

    async def fetch_g2_keys(self, to_block: int) -> dict[bytes, bytes]:
        """Every operator registered by ``to_block``: its G2 key (128 bytes, unchecked) by
        operator id."""
        await self._scan()
        return {k.operator_id: k.pubkey_g2 for k in self._keys.values() if k.block <= to_block}

    async def fetch_g1_keys(self, addresses: Iterable[str]) -> dict[str, G1Point]:
        """The G1 keys of ``addresses`` (registered operators), by address: from the events,
        or read from the registry where the scanned range has none."""
        await self._scan()
        wanted = list(dict.fromkeys(addresses))
        found = {a: self._keys[a.lower()].pubkey_g1 for a in wanted if a.lower() in self._keys}
        missing = [a for a in wanted if a not in found]
        if missing:
            found.update(zip(missing, await self._read_g1(missing), strict=True))
        return found

    async def _scan(self) -> None:
        async with self._lock:  # one scan at a time; the next caller finds it done
            for log in await self._cursor.fetch_new():
                args = log["args"]
                g1, g2 = args["pubkeyG1"], args["pubkeyG2"]
                pubkey_g1 = G1Point.from_coordinates(int(g1["X"]), int(g1["Y"]))
                (x_im, x_re), (y_im, y_re) = g2["X"], g2["Y"]  # EIP-197: imaginary part first
                pubkey_g2 = b"".join(int(w).to_bytes(32, "big") for w in (x_im, x_re, y_im, y_re))
                self._keys[str(args["operator"]).lower()] = RegisteredKey(
                    operator_id_of(pubkey_g1), pubkey_g1, pubkey_g2, int(log["blockNumber"])
                )
