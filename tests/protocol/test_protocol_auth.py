"""Disperser signatures: the exact digest, what it binds, header transport, and the replay guard."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_hash.auto import keccak

from operator_node.protocol import (
    SIGNATURE_HEADER,
    STORE_CHUNKS_TAG,
    TIMESTAMP_HEADER,
    BadSignature,
    ReplayGuard,
    ReplayGuardFull,
    ReplayRejected,
    compute_auth_headers,
    compute_body_hash,
    compute_store_chunks_digest,
    parse_auth_headers,
    recover_disperser,
    sign_store_chunks,
)

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
ACCOUNT = Account.from_key(KEY)
OPERATOR = keccak(b"operator")
BODY = bytes(range(256)) * 4
NOW = 1_700_000_000


def _recovered_or_none(signature: bytes, operator_id: bytes, timestamp: int, body: bytes) -> object:
    try:
        return recover_disperser(signature, operator_id, timestamp, compute_body_hash(body))
    except BadSignature:
        return None


def test_store_chunks_digest_matches_hand_computation() -> None:
    tag = keccak(b"operator-node.StoreChunks.v1")
    assert tag == STORE_CHUNKS_TAG
    body_hash = keccak(BODY)
    expected = keccak(tag + OPERATOR + NOW.to_bytes(32, "big") + body_hash)
    assert compute_store_chunks_digest(OPERATOR, NOW, body_hash) == expected
    assert compute_body_hash([BODY[:100], memoryview(BODY)[100:]]) == body_hash


def test_signature_recovers_the_disperser() -> None:
    body_hash = compute_body_hash(BODY)
    signature = sign_store_chunks(ACCOUNT, OPERATOR, NOW, body_hash)
    assert len(signature) == 65 and signature[64] in (27, 28)
    assert sign_store_chunks(KEY, OPERATOR, NOW, body_hash) == signature  # RFC 6979: deterministic
    assert recover_disperser(signature, OPERATOR, NOW, body_hash) == ACCOUNT.address


def test_signature_binds_operator_timestamp_and_every_body_byte() -> None:
    signature = sign_store_chunks(ACCOUNT, OPERATOR, NOW, compute_body_hash(BODY))
    assert _recovered_or_none(signature, OPERATOR, NOW, BODY) == ACCOUNT.address
    assert _recovered_or_none(signature, keccak(b"other operator"), NOW, BODY) != ACCOUNT.address
    assert _recovered_or_none(signature, OPERATOR, NOW + 1, BODY) != ACCOUNT.address
    for position in (0, 517, len(BODY) - 1):
        altered = bytearray(BODY)
        altered[position] ^= 1
        assert _recovered_or_none(signature, OPERATOR, NOW, bytes(altered)) != ACCOUNT.address


def test_recover_refuses_unparsable_signatures() -> None:
    body_hash = compute_body_hash(BODY)
    signature = sign_store_chunks(ACCOUNT, OPERATOR, NOW, body_hash)
    bad_cases = [
        signature[:64],  # too short
        signature + b"\x00",  # too long
        signature[:64] + b"\x00",  # v not 27/28
        bytes(64) + b"\x1b",  # r = s = 0
        b"\xff" * 64 + b"\x1b",  # r, s above the curve order
    ]
    for bad in bad_cases:
        with pytest.raises(BadSignature):
            recover_disperser(bad, OPERATOR, NOW, body_hash)


def test_auth_headers_round_trip() -> None:
    body_hash = compute_body_hash(BODY)
    headers = compute_auth_headers(ACCOUNT, OPERATOR, NOW, body_hash)
    assert set(headers) == {SIGNATURE_HEADER, TIMESTAMP_HEADER}
    signature, timestamp = parse_auth_headers(headers)
    assert timestamp == NOW
    assert recover_disperser(signature, OPERATOR, timestamp, body_hash) == ACCOUNT.address


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


def test_replay_guard_refuses_nonsense_configuration() -> None:
    with pytest.raises(ValueError):
        ReplayGuard(0, FakeClock(NOW))
    with pytest.raises(ValueError):
        ReplayGuard(300, FakeClock(NOW), max_entries=0)
