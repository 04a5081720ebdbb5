"""Blob and batch header hashes against hand-assembled ABI words; header validation."""

from __future__ import annotations

import dataclasses
import random

import pytest
from eth_abi.abi import encode as abi_encode
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from operator_node.protocol import (
    BadProof,
    BatchHeader,
    BlobHeader,
    InvalidBlob,
    InvalidSecurityParams,
    QuorumParams,
    compute_batch_root,
    compute_blob_commitment,
    validate_batch_root,
)
from operator_node.protocol.headers import BATCH_HEADER_ABI_TYPES, BLOB_HEADER_ABI_TYPES

COMMITMENT = bytes(range(32))
ACCOUNT = bytes.fromhex("00112233445566778899aabbccddeeff00112233")


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _header(**changes: object) -> BlobHeader:
    header = BlobHeader(
        commitment=COMMITMENT,
        data_length=1000,
        k=4,
        n=12,
        chunk_length=256,
        quorums=(QuorumParams(0, 33, 55), QuorumParams(3, 40, 60)),
        account=ACCOUNT,
    )
    return dataclasses.replace(header, **changes)  # type: ignore[arg-type]


def test_blob_header_hash_matches_hand_assembled_abi() -> None:
    # abi.encode(bytes32, uint32, uint16, uint16, uint8, uint8, bytes32, uint32,
    # (uint8,uint8,uint8)[], address): ten head words (the array's is an offset to the tail),
    # then length and tuples.
    fp_hash = keccak(b"Z")
    encoded = b"".join(
        [
            COMMITMENT,
            _word(1000),
            _word(4),
            _word(12),
            _word(0),
            _word(1),
            fp_hash,
            _word(256),
            _word(10 * 32),
            bytes(12) + ACCOUNT,
            _word(2),
            _word(0),
            _word(33),
            _word(55),
            _word(3),
            _word(40),
            _word(60),
        ]
    )
    assert _header(fingerprint=1, fingerprint_hash=fp_hash).compute_hash() == keccak(encoded)
    assert _header(fingerprint=1, fingerprint_hash=fp_hash).compute_hash() == keccak(
        abi_encode(
            list(BLOB_HEADER_ABI_TYPES),
            [COMMITMENT, 1000, 4, 12, 0, 1, fp_hash, 256, [(0, 33, 55), (3, 40, 60)], ACCOUNT],
        )
    )


def test_blob_header_hash_changes_with_every_field() -> None:
    base = _header().compute_hash()
    variants = [
        _header(commitment=bytes(32)),
        _header(data_length=999),
        _header(k=5),
        _header(n=13),
        _header(code=1),
        _header(fingerprint=1),
        _header(fingerprint=1, fingerprint_hash=keccak(b"Z")),
        _header(chunk_length=257),
        _header(quorums=(QuorumParams(0, 33, 55),)),
        _header(quorums=(QuorumParams(0, 33, 55), QuorumParams(3, 40, 61))),
        _header(account=bytes(20)),
    ]
    hashes = {v.compute_hash() for v in variants}
    assert base not in hashes and len(hashes) == len(variants)


def test_batch_header_hash_is_reduced_batch_header() -> None:
    root = keccak(b"root")
    expected = keccak(root + _word(0xDEADBEEF))
    assert BatchHeader(root, 0xDEADBEEF).compute_hash() == expected


def test_batch_root_is_merkle_root_of_hashed_blob_header_hashes() -> None:
    headers = [_header(), _header(k=5), _header(n=20)]
    leaves = [keccak(h.compute_hash()) for h in headers]
    expected = keccak(keccak(leaves[0] + leaves[1]) + keccak(leaves[2] + bytes(32)))
    assert compute_batch_root(headers) == expected
    assert compute_batch_root(headers[:1]) == leaves[0]
    validate_batch_root(BatchHeader(expected, 7), headers)
    with pytest.raises(BadProof):
        validate_batch_root(BatchHeader(expected, 7), headers[::-1])
    with pytest.raises(BadProof):
        validate_batch_root(BatchHeader(expected, 7), headers[:2])


def test_blob_commitment_is_root_over_chunk_leaves() -> None:
    rng = random.Random(1)
    chunks = [rng.randbytes(33) for _ in range(3)]
    leaves = [keccak(c) for c in chunks]
    expected = keccak(keccak(leaves[0] + leaves[1]) + keccak(leaves[2] + bytes(32)))
    assert compute_blob_commitment(chunks) == expected
    assert compute_blob_commitment([memoryview(c) for c in chunks]) == expected


@pytest.mark.parametrize(
    "changes",
    [
        {"k": 0},
        {"k": 13},
        {"n": 256, "k": 4},
        {"n": 65536, "k": 4, "code": 1},
        {"code": 2},
        {"code": -1},
        {"chunk_length": 0},
        {"chunk_length": 1 << 32},
        {"data_length": 0},
        {"data_length": 4 * 256 + 1},
        {"quorums": ()},
        {"quorums": (QuorumParams(3, 40, 60), QuorumParams(0, 33, 55))},
        {"quorums": (QuorumParams(0, 40, 60), QuorumParams(0, 33, 55))},
        {"commitment": bytes(31)},
        {"account": bytes(21)},
    ],
)
def test_blob_header_refuses_invalid_fields(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidBlob):
        _header(**changes)


def test_gf16_blob_headers_hold_up_to_65535_chunks() -> None:
    header = _header(k=1024, n=65535, code=1)
    assert header.n == 65535
    assert header.compute_hash() != _header(k=1024, n=65535, code=1, data_length=999).compute_hash()


def test_quorum_params_enforce_security_parameters() -> None:
    for adversary, confirmation in [(0, 50), (50, 101), (41, 50), (-5, 50), (60, 55)]:
        with pytest.raises(InvalidSecurityParams):
            QuorumParams(0, adversary, confirmation)
    with pytest.raises(InvalidBlob):
        QuorumParams(256, 33, 55)
    assert QuorumParams(0, 90, 100).margin_percent == 10
    assert QuorumParams(255, 1, 11).margin_percent == 10


def test_batch_header_refuses_invalid_fields() -> None:
    with pytest.raises(InvalidBlob):
        BatchHeader(bytes(31), 1)
    with pytest.raises(InvalidBlob):
        BatchHeader(bytes(32), 1 << 32)


@st.composite
def _any_header(draw: st.DrawFn) -> BlobHeader:
    code = draw(st.sampled_from([0, 1]))
    fingerprint = draw(st.sampled_from([0, 1])) if code == 0 else 0
    n = draw(st.integers(1, 255 if code == 0 else 65535))
    k = draw(st.integers(1, n))
    chunk_length = draw(st.integers(1, 2**32 - 1))
    numbers = draw(st.lists(st.integers(0, 255), min_size=1, max_size=5, unique=True))
    quorums = []
    for number in sorted(numbers):
        adversary = draw(st.integers(1, 90))
        confirmation = adversary + draw(st.integers(10, 100 - adversary))
        quorums.append(QuorumParams(number, adversary, confirmation))
    return BlobHeader(
        commitment=draw(st.binary(min_size=32, max_size=32)),
        data_length=draw(st.integers(1, min(2**32 - 1, k * chunk_length))),
        k=k,
        n=n,
        chunk_length=chunk_length,
        quorums=tuple(quorums),
        account=draw(st.binary(min_size=20, max_size=20)),
        code=code,
        fingerprint=fingerprint,
        fingerprint_hash=draw(st.binary(min_size=32, max_size=32)) if fingerprint else bytes(32),
    )


@settings(max_examples=200, deadline=None)
@given(header=_any_header(), block=st.integers(0, 2**32 - 1))
def test_header_hashes_equal_eth_abi_encoding(header: BlobHeader, block: int) -> None:
    # The node writes the ABI words itself; eth_abi's general encoder is the reference.
    quorums = [
        (q.quorum_number, q.adversary_threshold, q.confirmation_threshold) for q in header.quorums
    ]
    values = (
        header.commitment,
        header.data_length,
        header.k,
        header.n,
        header.code,
        header.fingerprint,
        header.fingerprint_hash,
        header.chunk_length,
        quorums,
        header.account,
    )
    assert header.compute_hash() == keccak(abi_encode(BLOB_HEADER_ABI_TYPES, values))
    batch = BatchHeader(header.commitment, block)
    assert batch.compute_hash() == keccak(
        abi_encode(BATCH_HEADER_ABI_TYPES, (header.commitment, block))
    )


def test_blob_header_refuses_a_profile_that_does_not_fit() -> None:
    with pytest.raises(InvalidBlob, match="unknown encoding-validity profile 2"):
        _header(fingerprint=2)
    with pytest.raises(InvalidBlob, match="code 0"):
        _header(code=1, fingerprint=1)
    with pytest.raises(InvalidBlob, match="all zero for profile 0"):
        _header(fingerprint_hash=keccak(b"Z"))
    with pytest.raises(InvalidBlob, match="32 bytes"):
        _header(fingerprint=1, fingerprint_hash=bytes(31))
