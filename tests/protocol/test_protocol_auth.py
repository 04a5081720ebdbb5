"""Disperser signatures: the exact digest, what it binds, header transport, and the replay guard."""

from __future__ import annotations

import random

import pytest
from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_hash.auto import keccak
from eth_keys.backends import get_backend
from eth_keys.backends.coincurve import CoinCurveECCBackend
from eth_keys.datatypes import Signature
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from support.messages import make_request

from operator_node.addresses import to_checksum_address
from operator_node.protocol import (
    SIGNATURE_HEADER,
    STORE_CHUNKS_TAG,
    TIMESTAMP_HEADER,
    BadSignature,
    MalformedRequest,
    ReplayGuard,
    ReplayGuardFull,
    ReplayRejected,
    compute_auth_headers,
    compute_request_hash,
    compute_store_chunks_digest,
    parse_auth_headers,
    recover_disperser,
    sign_store_chunks,
    store_chunks_head,
)
from operator_node.protocol.wire import encode_store_chunks

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
ACCOUNT = Account.from_key(KEY)
OPERATOR = keccak(b"operator")
BODY = b"".join(encode_store_chunks(make_request(random.Random(7))))
HEAD = bytes(store_chunks_head(BODY))
NOW = 1_700_000_000


def _recovered_or_none(signature: bytes, operator_id: bytes, timestamp: int, body: bytes) -> object:
    try:
        return recover_disperser(signature, operator_id, timestamp, compute_request_hash(body))
    except (BadSignature, MalformedRequest):
        return None


def test_store_chunks_digest_matches_hand_computation() -> None:
    tag = keccak(b"operator-node.StoreChunks.v2")
    assert tag == STORE_CHUNKS_TAG
    request_hash = keccak(HEAD)
    expected = keccak(tag + OPERATOR + NOW.to_bytes(32, "big") + request_hash)
    assert compute_store_chunks_digest(OPERATOR, NOW, request_hash) == expected
    assert compute_request_hash(BODY) == request_hash
    assert compute_request_hash(HEAD) == request_hash  # the head alone gives the same hash
    assert compute_request_hash(memoryview(BODY)) == request_hash
    for timestamp in (0, 1, 2**64 - 1):  # the uint64 word at its edges, against eth_abi
        words = abi_encode(
            ("bytes32", "bytes32", "uint64", "bytes32"), (tag, OPERATOR, timestamp, request_hash)
        )
        assert compute_store_chunks_digest(OPERATOR, timestamp, request_hash) == keccak(words)


def test_request_hash_is_the_head_up_to_the_first_chunk_byte() -> None:
    request = make_request(random.Random(7))
    parts = encode_store_chunks(request)
    assert parts[0] == HEAD
    assert BODY[len(HEAD) :] == b"".join(c for blob in request.blobs for c in blob.chunks)


def test_request_hash_refuses_what_is_not_a_store_chunks_body() -> None:
    for bad in (b"", b"ONRR" + BODY[4:], BODY[:8], BODY[:40]):
        with pytest.raises(MalformedRequest):
            compute_request_hash(bad)


def test_signature_recovers_the_disperser() -> None:
    request_hash = compute_request_hash(BODY)
    signature = sign_store_chunks(ACCOUNT, OPERATOR, NOW, request_hash)
    assert len(signature) == 65 and signature[64] in (27, 28)
    assert sign_store_chunks(KEY, OPERATOR, NOW, request_hash) == signature  # RFC 6979
    assert recover_disperser(signature, OPERATOR, NOW, request_hash) == ACCOUNT.address


def test_eth_keys_recovers_with_coincurve() -> None:
    # The pinned coincurve makes recovery ~50x faster than eth_keys' pure-Python fallback; if
    # it stops being picked up (a missing wheel, a changed backend rule), the node slows down.
    assert isinstance(get_backend(), CoinCurveECCBackend)


def test_signature_binds_operator_timestamp_and_every_head_byte() -> None:
    signature = sign_store_chunks(ACCOUNT, OPERATOR, NOW, compute_request_hash(BODY))
    assert _recovered_or_none(signature, OPERATOR, NOW, BODY) == ACCOUNT.address
    assert _recovered_or_none(signature, keccak(b"other operator"), NOW, BODY) != ACCOUNT.address
    assert _recovered_or_none(signature, OPERATOR, NOW + 1, BODY) != ACCOUNT.address
    # Every head byte past the prefix's magic (the prefix must still parse to hash at all).
    for position in range(4, len(HEAD)):
        altered = bytearray(BODY)
        altered[position] ^= 1
        assert _recovered_or_none(signature, OPERATOR, NOW, bytes(altered)) != ACCOUNT.address
    # Chunk bytes are bound by their proofs, not the hash: see the pipeline's tampering test.


def test_recover_refuses_unparsable_signatures() -> None:
    request_hash = compute_request_hash(BODY)
    signature = sign_store_chunks(ACCOUNT, OPERATOR, NOW, request_hash)
    bad_cases = [
        signature[:64],  # too short
        signature + b"\x00",  # too long
        signature[:64] + b"\x00",  # v not 27/28
        bytes(64) + b"\x1b",  # r = s = 0
        b"\xff" * 64 + b"\x1b",  # r, s above the curve order
    ]
    for bad in bad_cases:
        with pytest.raises(BadSignature):
            recover_disperser(bad, OPERATOR, NOW, request_hash)


def test_auth_headers_round_trip() -> None:
    request_hash = compute_request_hash(BODY)
    headers = compute_auth_headers(ACCOUNT, OPERATOR, NOW, request_hash)
    assert set(headers) == {SIGNATURE_HEADER, TIMESTAMP_HEADER}
    signature, timestamp = parse_auth_headers(headers)
    assert timestamp == NOW
    assert recover_disperser(signature, OPERATOR, timestamp, request_hash) == ACCOUNT.address


@pytest.mark.parametrize(
    ("signature", "timestamp"),
    [
        (None, "1"),
        ("0x" + "11" * 65, None),
        ("11" * 66, "1"),
        ("0x" + "11" * 64, "1"),
        ("0x" + "zz" * 65, "1"),
        ("0x" + "11" * 65, "-1"),
        ("0x" + "11" * 65, "01"),
        ("0x" + "11" * 65, "+1"),
        ("0x" + "11" * 65, "1.5"),
        ("0x" + "11" * 65, ""),
        ("0x" + "11" * 65, "\u0661"),  # ARABIC-INDIC DIGIT ONE: isdigit() but not ASCII
        ("0x" + "11" * 65, str(1 << 64)),
    ],
)
def test_auth_headers_refuse_noncanonical_values(
    signature: str | None, timestamp: str | None
) -> None:
    headers = {SIGNATURE_HEADER: signature, TIMESTAMP_HEADER: timestamp}
    with pytest.raises(BadSignature):
        parse_auth_headers({k: v for k, v in headers.items() if v is not None})


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_replay_guard_refuses_a_digest_seen_inside_the_window() -> None:
    guard = ReplayGuard(300, FakeClock(NOW))
    guard.admit(b"a" * 32, NOW)
    guard.admit(b"b" * 32, NOW - 300)
    with pytest.raises(ReplayRejected, match="already received"):
        guard.admit(b"a" * 32, NOW)
    assert len(guard) == 2


def test_replay_guard_refuses_timestamps_outside_the_window() -> None:
    guard = ReplayGuard(300, FakeClock(NOW))
    for timestamp in (NOW - 301, NOW + 301, 0):
        with pytest.raises(ReplayRejected, match="outside"):
            guard.admit(b"a" * 32, timestamp)
    assert len(guard) == 0
    guard.admit(b"a" * 32, NOW + 300)


def test_replay_guard_forgets_entries_that_left_the_window() -> None:
    clock = FakeClock(NOW)
    guard = ReplayGuard(300, clock)
    guard.admit(b"a" * 32, NOW - 100)
    guard.admit(b"b" * 32, NOW)
    clock.now = NOW + 201  # a's timestamp is now 301 s old
    guard.admit(b"c" * 32, NOW + 201)
    assert len(guard) == 2
    with pytest.raises(ReplayRejected, match="outside"):
        guard.admit(b"a" * 32, NOW - 100)  # still refused: its timestamp is stale


def test_replay_guard_caps_memory_with_a_clear_error() -> None:
    clock = FakeClock(NOW)
    guard = ReplayGuard(300, clock, max_entries=3)
    for i in range(3):
        guard.admit(bytes([i]) * 32, NOW)
    with pytest.raises(ReplayGuardFull, match="3 live requests"):
        guard.admit(b"x" * 32, NOW)
    assert len(guard) == 3
    clock.now = NOW + 301
    guard.admit(b"x" * 32, NOW + 301)
    assert len(guard) == 1


def test_replay_guard_release_forgets_a_digest_and_keeps_its_entries_bounded() -> None:
    clock = FakeClock(NOW)
    guard = ReplayGuard(300, clock, max_entries=4)
    guard.admit(b"a" * 32, NOW)
    guard.admit(b"b" * 32, NOW)
    guard.release(b"a" * 32)
    assert len(guard) == 1
    guard.admit(b"a" * 32, NOW)  # admitted again, as if new
    with pytest.raises(ReplayRejected, match="already received"):
        guard.admit(b"a" * 32, NOW)
    guard.release(b"c" * 32)  # never admitted: nothing to forget, no error
    assert len(guard) == 2
    # A request refused after admission over and over (a disperser retrying into a full
    # store) leaves no growing trail of expiry entries.
    for _ in range(1000):
        guard.admit(b"d" * 32, NOW)
        guard.release(b"d" * 32)
    assert len(guard._expiries) <= 2 * 4 + 1
    # Both re-admitted entries expire when their timestamps leave the window.
    clock.now = NOW + 301
    guard.admit(b"e" * 32, NOW + 301)
    assert len(guard) == 1


def test_replay_guard_refuses_nonsense_configuration() -> None:
    with pytest.raises(ValueError):
        ReplayGuard(0, FakeClock(NOW))
    with pytest.raises(ValueError):
        ReplayGuard(300, FakeClock(NOW), max_entries=0)


def test_replay_guard_check_refuses_like_admit_but_records_nothing() -> None:
    guard = ReplayGuard(300, FakeClock(NOW))
    guard.check(b"a", NOW)
    guard.check(b"a", NOW)  # still unrecorded: checking twice is fine
    assert len(guard) == 0
    with pytest.raises(ReplayRejected, match="replay window"):
        guard.check(b"a", NOW - 301)
    guard.admit(b"a", NOW)
    with pytest.raises(ReplayRejected, match="already received"):
        guard.check(b"a", NOW)


SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@settings(max_examples=50, deadline=None)
@given(
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=32, max_size=32),
    st.integers(0, 2**64 - 1),
)
def test_recover_matches_eth_keys(secret: bytes, request_hash: bytes, timestamp: int) -> None:
    # eth_keys is the reference for recovery and for EIP-55 checksums.
    assume(0 < int.from_bytes(secret, "big") < SECP256K1_ORDER)
    account = Account.from_key(secret)
    signature = sign_store_chunks(account, OPERATOR, timestamp, request_hash)
    assert recover_disperser(signature, OPERATOR, timestamp, request_hash) == account.address
    assert to_checksum_address(bytes.fromhex(account.address[2:])) == account.address
    # The malleated twin (s -> n - s, v flipped) is accepted by both, and recovers the same key.
    s_value = int.from_bytes(signature[32:64], "big")
    twin = signature[:32] + (SECP256K1_ORDER - s_value).to_bytes(32, "big")
    twin += bytes([55 - signature[64]])
    digest = compute_store_chunks_digest(OPERATOR, timestamp, request_hash)
    reference = Signature(twin[:64] + bytes([twin[64] - 27]))
    expected = reference.recover_public_key_from_msg_hash(digest).to_checksum_address()
    assert recover_disperser(twin, OPERATOR, timestamp, request_hash) == expected == account.address
