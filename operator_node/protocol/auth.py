"""The disperser's signature on a StoreChunks request, its HTTP transport, and the replay guard.

Digest (what the disperser signs, raw secp256k1 over the 32 bytes, no EIP-191 prefix):

    digest = keccak256(abi.encode(bytes32 keccak256("operator-node.StoreChunks.v2"),
                                  bytes32 operatorId, uint64 timestamp, bytes32 requestHash))
    requestHash = keccak256(head)

where ``head`` is the body up to its first chunk byte: the wire prefix and header
(:func:`~operator_node.protocol.wire.store_chunks_head`). The operator id binds a request to one
node (it cannot be replayed to another) and the timestamp (seconds since the epoch) bounds how
long it is valid.

The request hash covers every byte of the body, in two steps: the head fixes each chunk's blob,
index, length and position in the body (the decoder refuses any other length), and each chunk
must match its Merkle proof, which the head carries, to its blob's commitment, which the head also
carries. Hashing the head only lets the node check who sent a request before it hashes a single
chunk byte, and then hash each chunk exactly once, for its proof. (Version 1 hashed the whole
body, so every chunk was hashed twice.) A chunk altered in flight therefore fails its proof
instead of the signature; the node records a request in the replay guard only once its chunks
have passed, so a tampered copy cannot use up the genuine request.

The signature travels as 65 bytes r ‖ s ‖ v (v in {27, 28}), hex with ``0x``, in the
``X-Disperser-Signature`` header; the timestamp as a decimal integer in ``X-Disperser-Timestamp``.
A disperser that retries a request signs it again with a fresh timestamp.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping

from coincurve import PublicKey
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32

from operator_node.addresses import to_checksum_address
from operator_node.protocol.errors import (
    BadSignature,
    MalformedRequest,
    ReplayGuardFull,
    ReplayRejected,
)
from operator_node.protocol.hashes import WORD_BYTES, Bytes, keccak256
from operator_node.protocol.headers import UINT64_MAX
from operator_node.protocol.wire import WireLimits, store_chunks_head

SIGNATURE_HEADER = "X-Disperser-Signature"
TIMESTAMP_HEADER = "X-Disperser-Timestamp"
STORE_CHUNKS_DOMAIN = b"operator-node.StoreChunks.v2"
# keccak256(STORE_CHUNKS_DOMAIN), written out so that importing does no work (a test checks it).
STORE_CHUNKS_TAG = bytes.fromhex("2dcaf1aabf2f63bd33bbcaf8648a93895329d40a87d0560083e232e2242d371e")
SIGNATURE_BYTES = 65
_MAX_TIMESTAMP_DIGITS = len(str(UINT64_MAX))


def compute_request_hash(body: Bytes, limits: WireLimits | None = None) -> bytes:
    """Return the request hash the disperser signs: keccak256 of the body's head.

    ``body`` is the whole StoreChunks body or only its head (the first buffer
    ``encode_store_chunks`` returns). Raises like
    :func:`~operator_node.protocol.wire.store_chunks_head`.
    """
    return keccak256(store_chunks_head(body, limits))


def compute_store_chunks_digest(operator_id: bytes, timestamp: int, request_hash: bytes) -> bytes:
    """Return the digest the disperser signs (see the module docstring).

    Raises :class:`MalformedRequest` for an operator id or request hash that is not 32 bytes or a
    timestamp outside uint64.
    """
    if len(operator_id) != WORD_BYTES or len(request_hash) != WORD_BYTES:
        raise MalformedRequest("operator id and request hash must be 32 bytes")
    if not 0 <= timestamp <= UINT64_MAX:
        raise MalformedRequest(f"timestamp {timestamp} is not a uint64")
    # abi.encode(bytes32, bytes32, uint64, bytes32): four static words, written directly.
    return keccak256(
        STORE_CHUNKS_TAG
        + bytes(operator_id)
        + timestamp.to_bytes(WORD_BYTES, "big")
        + bytes(request_hash)
    )


def sign_store_chunks(
    signer: LocalAccount | bytes, operator_id: bytes, timestamp: int, request_hash: bytes
) -> bytes:
    """Sign a StoreChunks request; return the 65-byte signature r ‖ s ‖ v.

    ``signer`` is an eth_account ``LocalAccount`` or a 32-byte private key.
    """
    digest = Hash32(compute_store_chunks_digest(operator_id, timestamp, request_hash))
    if isinstance(signer, bytes):
        signed = Account.unsafe_sign_hash(digest, signer)
    else:
        signed = signer.unsafe_sign_hash(digest)
    return bytes(signed.signature)


def compute_auth_headers(
    signer: LocalAccount | bytes, operator_id: bytes, timestamp: int, request_hash: bytes
) -> dict[str, str]:
    """Return the HTTP headers that authenticate a StoreChunks request to one node."""
    signature = sign_store_chunks(signer, operator_id, timestamp, request_hash)
    return {SIGNATURE_HEADER: "0x" + signature.hex(), TIMESTAMP_HEADER: str(timestamp)}


def parse_auth_headers(headers: Mapping[str, str]) -> tuple[bytes, int]:
    """Return (signature, timestamp) from a request's headers.

    Raises :class:`BadSignature` if either header is missing or not canonical: the signature must
    be ``0x`` and 130 hex digits, the timestamp decimal digits without sign or leading zeros.
    """
    signature_text = headers.get(SIGNATURE_HEADER)
    timestamp_text = headers.get(TIMESTAMP_HEADER)
    if signature_text is None or timestamp_text is None:
        raise BadSignature(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header")
    hex_digits = signature_text[2:]
    if not signature_text.startswith("0x") or len(hex_digits) != 2 * SIGNATURE_BYTES:
        raise BadSignature(f"{SIGNATURE_HEADER} must be 0x and {2 * SIGNATURE_BYTES} hex digits")
    try:
        signature = bytes.fromhex(hex_digits)
    except ValueError:
        raise BadSignature(f"{SIGNATURE_HEADER} is not hex") from None
    canonical = timestamp_text.isascii() and timestamp_text.isdigit()
    canonical = canonical and len(timestamp_text) <= _MAX_TIMESTAMP_DIGITS
    if not canonical or (len(timestamp_text) > 1 and timestamp_text[0] == "0"):
        raise BadSignature(f"{TIMESTAMP_HEADER} must be a canonical decimal integer")
    timestamp = int(timestamp_text)
    if timestamp > UINT64_MAX:
        raise BadSignature(f"{TIMESTAMP_HEADER} does not fit uint64")
    return signature, timestamp


def recover_disperser(
    signature: bytes, operator_id: bytes, timestamp: int, request_hash: bytes
) -> str:
    """Return the checksummed address that signed this request.

    Any valid signature recovers to *some* address: the caller must check it against the
    allow-list. Raises :class:`BadSignature` if the signature is not 65 bytes with v in {27, 28}
    or does not recover.
    """
    digest = compute_store_chunks_digest(operator_id, timestamp, request_hash)
    return recover_signer(signature, digest)


def recover_signer(signature: bytes, digest: bytes) -> str:
    """Return the checksummed address whose key made ``signature`` (r ‖ s ‖ v) over the raw
    32-byte ``digest``. Raises :class:`BadSignature` if the signature is not 65 bytes with v in
    {27, 28} or does not recover."""
    return to_checksum_address(recover_signer_bytes(signature, digest))


def recover_signer_bytes(signature: bytes, digest: bytes) -> bytes:
    """:func:`recover_signer`'s address as its raw 20 bytes."""
    if len(signature) != SIGNATURE_BYTES or signature[64] not in (27, 28):
        raise BadSignature("signature must be 65 bytes r || s || v with v 27 or 28")
    # coincurve directly (libsecp256k1), not through eth_keys: half the time, on the event loop.
    try:
        public_key = PublicKey.from_signature_and_message(
            signature[:64] + bytes([signature[64] - 27]), digest, hasher=None
        )
    except ValueError as error:  # r or s out of range, or no point recovers
        raise BadSignature(f"signature does not recover: {error}") from None
    return keccak256(public_key.format(compressed=False)[1:])[12:]


class ReplayGuard:
    """Refuses requests whose timestamp is stale or whose digest was already admitted.

    A digest is remembered until its timestamp leaves the window, so memory holds only requests
    still valid; ``max_entries`` caps it against a flood of fresh, validly signed requests. Admit
    only requests whose signature checked out and whose signer is allowed, or anyone could fill it;
    :meth:`release` one whose request then stored nothing. Not thread-safe: use it from the event
    loop.
    """

    def __init__(
        self, window_seconds: float, clock: Callable[[], float], max_entries: int = 100_000
    ) -> None:
        if window_seconds <= 0 or max_entries <= 0:
            raise ValueError("replay window and capacity must be positive")
        self._window = window_seconds
        self._clock = clock
        self._max_entries = max_entries
        self._seen: set[bytes] = set()
        self._expiries: list[tuple[float, bytes]] = []

    def __len__(self) -> int:
        return len(self._seen)

    def _evict(self, now: float) -> None:
        while self._expiries and self._expiries[0][0] < now:
            _, digest = heapq.heappop(self._expiries)
            self._seen.discard(digest)

    def check(self, digest: bytes, timestamp: int) -> None:
        """Refuse ``digest`` (signed at ``timestamp``) as :meth:`admit` would, recording nothing.

        Raises :class:`ReplayRejected` if ``timestamp`` is more than the window away from the
        clock or the digest was admitted before.
        """
        now = self._clock()
        if abs(now - timestamp) > self._window:
            raise ReplayRejected(
                f"timestamp {timestamp} is {now - timestamp:+.0f} s from now, "
                f"outside the {self._window:g} s replay window"
            )
        self._evict(now)
        if digest in self._seen:
            raise ReplayRejected("this request was already received (same digest)")

    def admit(self, digest: bytes, timestamp: int) -> None:
        """Record ``digest`` (signed at ``timestamp``) as used, or refuse it.

        Raises like :meth:`check`, and :class:`ReplayGuardFull` at capacity. A refusal records
        nothing.
        """
        self.check(digest, timestamp)
        if len(self._seen) >= self._max_entries:
            raise ReplayGuardFull(
                f"replay guard holds {self._max_entries} live requests; retry shortly"
            )
        self._seen.add(digest)
        heapq.heappush(self._expiries, (timestamp + self._window, digest))

    def release(self, digest: bytes) -> None:
        """Forget an admitted ``digest``: its request was refused after admission (the store
        failed), so nothing was stored and the same request may be sent again.

        Its expiry entry stays until it falls due (then it discards nothing, or the digest of
        the same request admitted again, which expires at the same moment). Past twice the cap, the
        entries are compacted to one per live digest, so admit-release cycles cannot grow them.
        """
        self._seen.discard(digest)
        if len(self._expiries) > 2 * self._max_entries:
            self._expiries = list({entry for entry in self._expiries if entry[1] in self._seen})
            heapq.heapify(self._expiries)
