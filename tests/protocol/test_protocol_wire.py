"""StoreChunks and retrieval-reply encodings: round trips, zero copy, and every malformed body."""

from __future__ import annotations

import dataclasses
import random
import struct
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.messages import make_blob, make_request

from operator_node.protocol import (
    BadProof,
    BatchHeader,
    BlobHeader,
    InvalidBlob,
    InvalidSecurityParams,
    MalformedRequest,
    ProtocolError,
    RequestTooLarge,
    RetrievalReply,
    StoreChunksRequest,
    WireLimits,
    compute_batch_tree,
    decode_retrieval_reply,
    decode_store_chunks,
    encode_retrieval_reply,
    encode_store_chunks,
    store_chunks_head,
    validate_retrieval_reply,
    validate_store_chunks,
)
from operator_node.protocol.hashes import keccak256
from operator_node.protocol.headers import QuorumParams, compute_chunk_tree
from operator_node.protocol.messages import select_blob_chunks
from operator_node.protocol.wire import decode_blob_section, encode_blob_section


def make_reply(rng: random.Random, blob_index: int = 1) -> RetrievalReply:
    """Return a valid reply for ``blob_index`` of a three-blob batch."""
    blobs = [make_blob(rng, indices=(0, 3, 5)) for _ in range(3)]
    tree = compute_batch_tree([blob.header for blob in blobs])
    batch = BatchHeader(tree.root, 99)
    return RetrievalReply(batch, blob_index, tree.get_proof(blob_index), blobs[blob_index])


LIMITS = WireLimits()
# Offsets in a StoreChunks body (see the layout in operator_node.protocol.wire).
HEADER_LENGTH = 5
BLOB_COUNT = 9 + 36
BLOB0 = BLOB_COUNT + 2
BLOB0_K, BLOB0_N, BLOB0_CODE, BLOB0_PROFILE = BLOB0 + 36, BLOB0 + 38, BLOB0 + 40, BLOB0 + 41
BLOB0_QUORUMS = BLOB0 + 46 + 33
BLOB0_CHUNK_COUNT = BLOB0_QUORUMS + 2 * 3 + 20 + 1  # after the account and payment kind 0
BLOB0_INDICES = BLOB0_CHUNK_COUNT + 2


def _body(seed: int = 0) -> bytes:
    return b"".join(encode_store_chunks(make_request(random.Random(seed))))


def _patch(body: bytes, offset: int, value: bytes) -> bytes:
    return body[:offset] + value + body[offset + len(value) :]


def _as_bytes(request: StoreChunksRequest) -> list[list[bytes]]:
    return [[bytes(c) for c in blob.chunks] for blob in request.blobs]


def test_store_chunks_round_trip_is_exact_and_zero_copy() -> None:
    request = make_request(random.Random(1))
    parts = encode_store_chunks(request)
    assert parts[1] is request.blobs[0].chunks[0]  # chunk buffers are passed through
    assert parts[0] == store_chunks_head(b"".join(parts))  # then the head, in one buffer
    body = b"".join(parts)
    decoded = decode_store_chunks(body, LIMITS)
    assert decoded.batch_header == request.batch_header
    assert [b.header for b in decoded.blobs] == [b.header for b in request.blobs]
    assert [b.indices for b in decoded.blobs] == [b.indices for b in request.blobs]
    assert [b.proof for b in decoded.blobs] == [b.proof for b in request.blobs]
    assert _as_bytes(decoded) == _as_bytes(request)
    chunk = decoded.blobs[0].chunks[0]
    assert isinstance(chunk, memoryview) and chunk.obj is body
    assert b"".join(encode_store_chunks(decoded)) == body
    validate_store_chunks(decoded)


def test_blob_chunks_refuse_inconsistent_shapes() -> None:
    blob = make_blob(random.Random(6), indices=(0, 2, 5))
    bad_shapes = [
        {"indices": (0, 2)},  # fewer indices than chunks
        {"indices": (0, 2, 2)},  # duplicate
        {"indices": (2, 0, 5)},  # unsorted
        {"indices": (0, 2, 6)},  # past n
        {"proof": blob.proof[:-1]},  # a word short
        {"proof": (*blob.proof, blob.proof[0])},  # a word too many
        {"proof": (blob.proof[0][:-1], *blob.proof[1:])},  # a short word
        {"chunks": (blob.chunks[0][:-1], *blob.chunks[1:])},  # short chunk
    ]
    for changes in bad_shapes:
        with pytest.raises(MalformedRequest):
            dataclasses.replace(blob, **changes)  # type: ignore[arg-type]
    with pytest.raises(MalformedRequest):
        StoreChunksRequest(BatchHeader(bytes(32), 1), ())


def test_store_chunks_allows_a_blob_with_no_chunks() -> None:
    request = make_request(random.Random(2), (), (0, 1, 2, 3, 4, 5))
    body = b"".join(encode_store_chunks(request))
    decoded = decode_store_chunks(memoryview(body), LIMITS)
    assert decoded.blobs[0].indices == () and len(decoded.blobs[1].chunks) == 6
    validate_store_chunks(decoded)


def test_store_chunks_carries_the_erasure_code_and_refuses_an_unknown_one() -> None:
    body = _body()
    assert body[BLOB0_CODE] == 0
    with pytest.raises(InvalidBlob, match="unknown erasure code 2"):
        decode_store_chunks(_patch(body, BLOB0_CODE, b"\x02"), LIMITS)


def test_stored_sections_round_trip_and_older_records_still_read() -> None:
    """A record of an earlier release (wire version 1 header, a sibling path per chunk, no code)
    reads as GF(2^8) with its paths turned into the multiproof."""
    rng = random.Random(9)
    chunks = [rng.randbytes(16) for _ in range(13)]
    tree = compute_chunk_tree(chunks)
    indices = (0, 3, 4, 5, 12)
    header = BlobHeader(tree.root, 40, 3, 13, 16, (QuorumParams(0, 33, 55),), bytes(20))
    blob = select_blob_chunks(header, tree, chunks, indices)
    fp_hash = rng.randbytes(32)
    for code, profile in ((0, 0), (1, 0), (0, 1)):
        coded = dataclasses.replace(
            blob,
            header=dataclasses.replace(
                header, code=code, fingerprint=profile,
                fingerprint_hash=fp_hash if profile else bytes(32),
            ),
        )  # fmt: skip
        record = encode_blob_section(coded)
        trailer = bytes([code, profile]) + coded.header.fingerprint_hash + b"\x00\x04"
        assert record[-36:] == trailer  # payment kind 0 (none), mark 4
        assert decode_blob_section(record) == (coded.header, indices, blob.proof)
        # A record of mark 3 (no payment) reads the same.
        assert decode_blob_section(record[:-2] + b"\x03") == (coded.header, indices, blob.proof)
        # The record of mark 2 (code, then the mark) reads as profile 0.
        if profile == 0:
            last = record[:-36] + bytes([code, 2])
            assert decode_blob_section(last) == (coded.header, indices, blob.proof)
    older = (
        record[: 32 + 4 + 2 + 2 + 4 + 1 + 3 + 20]  # the version 1 blob header
        + struct.pack(">H5H", len(indices), *indices)
        + b"".join(word for i in indices for word in tree.get_proof(i))
    )
    assert decode_blob_section(older) == (header, indices, tree.get_multiproof(indices))
    for bad in (record + b"\x00", record[:-1], older + bytes(31), older[:-32], record[:-36]):
        with pytest.raises(MalformedRequest):
            decode_blob_section(bad)


def test_store_chunks_truncated_at_every_offset_is_malformed() -> None:
    body = _body()
    for cut in range(len(body)):
        with pytest.raises(MalformedRequest):
            decode_store_chunks(body[:cut], LIMITS)


def test_store_chunks_refuses_trailing_bytes() -> None:
    with pytest.raises(MalformedRequest, match="trailing"):
        decode_store_chunks(_body() + b"\x00", LIMITS)


@pytest.mark.parametrize(
    ("offset", "value", "message"),
    [
        (0, b"XXXX", "bad magic"),
        (4, b"\x01", "unsupported version"),  # version 1 had no erasure code
        (4, b"\x02", "unsupported version"),  # version 2 had no fingerprint profile
        (4, b"\x03", "unsupported version"),  # version 3 had no payment
        (4, b"\x05", "unsupported version"),
        (HEADER_LENGTH, struct.pack(">I", 10**6), "runs past the end"),
        (BLOB_COUNT, b"\x00\x00", "at least one blob"),
        (BLOB_COUNT, b"\x00\x03", "truncated"),
        (BLOB0_CHUNK_COUNT, b"\x00\x07", "only 6"),
        # Six indices are present, read from what follows: they are not in order.
        (BLOB0_CHUNK_COUNT, b"\x00\x06", "strictly increasing"),
        (BLOB0_INDICES, b"\x00\x04", "strictly increasing"),  # indices (4, 4)
        (BLOB0_INDICES, b"\x00\x05", "strictly increasing"),  # indices (5, 4)
        (BLOB0_INDICES + 2, b"\x00\x06", "out of range"),  # indices (1, 6), n = 6
    ],
)
def test_store_chunks_refuses_lying_or_noncanonical_fields(
    offset: int, value: bytes, message: str
) -> None:
    with pytest.raises(MalformedRequest, match=message):
        decode_store_chunks(_patch(_body(), offset, value), LIMITS)


def test_store_chunks_refuses_header_length_off_by_one() -> None:
    body = _body()
    (length,) = struct.unpack_from(">I", body, HEADER_LENGTH)
    for wrong in (length - 1, length + 1):
        with pytest.raises(MalformedRequest):
            decode_store_chunks(_patch(body, HEADER_LENGTH, struct.pack(">I", wrong)), LIMITS)


def test_store_chunks_refuses_invalid_blob_headers() -> None:
    body = _body()
    with pytest.raises(InvalidBlob, match="k <= n"):
        decode_store_chunks(_patch(body, BLOB0_K, b"\x00\x07"), LIMITS)
    with pytest.raises(InvalidSecurityParams):
        decode_store_chunks(_patch(body, BLOB0_QUORUMS + 1, b"\x00"), LIMITS)
    with pytest.raises(InvalidBlob, match="strictly increasing"):
        decode_store_chunks(_patch(body, BLOB0_QUORUMS + 3, b"\x00"), LIMITS)


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (WireLimits(max_body_bytes=100), "body of"),
        (WireLimits(max_header_bytes=100), "header of"),
        (WireLimits(max_blobs=1), "2 blobs"),
        (WireLimits(max_chunks=4), "more than 4 chunks"),
        (WireLimits(max_proof_depth=2), "proof depth 3"),
    ],
)
def test_store_chunks_enforces_limits(limits: WireLimits, message: str) -> None:
    body = _body()
    decode_store_chunks(body, WireLimits(max_chunks=5))  # exactly at the chunk limit
    with pytest.raises(RequestTooLarge, match=message):
        decode_store_chunks(body, limits)


def test_store_chunks_huge_declared_counts_fail_without_allocating() -> None:
    body = _body()
    generous = WireLimits(max_blobs=1 << 16, max_chunks=1 << 20, max_header_bytes=1 << 32)
    lying = [
        _patch(body, BLOB_COUNT, b"\xff\xff"),
        _patch(body, BLOB0_CHUNK_COUNT, b"\xff\xff"),
        _patch(body, HEADER_LENGTH, b"\xff\xff\xff\xff"),
        _patch(body, BLOB0 + 32, b"\xff\xff\xff\xff"),  # data length
        _patch(body, BLOB0 + 40, b"\xff\xff\xff\xff"),  # chunk length
    ]
    tracemalloc.start()
    try:
        for candidate in lying:
            tracemalloc.reset_peak()
            with pytest.raises(ProtocolError):
                decode_store_chunks(candidate, generous)
            assert tracemalloc.get_traced_memory()[1] < 64 * 1024
    finally:
        tracemalloc.stop()


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_store_chunks_mutated_bodies_decode_or_raise_protocol_errors(data: st.DataObject) -> None:
    body = bytearray(_body())
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(body) - 1))
        body[position] = data.draw(st.integers(0, 255))
    try:
        decoded = decode_store_chunks(bytes(body), LIMITS)
    except ProtocolError:
        return
    assert b"".join(encode_store_chunks(decoded)) == bytes(body)  # canonical: nothing else parses


def test_store_chunks_validation_refuses_altered_chunk_or_header() -> None:
    body = _body()
    chunk_start = len(body) - 5 * 16
    flipped = _patch(body, chunk_start + 3, bytes([body[chunk_start + 3] ^ 1]))
    with pytest.raises(BadProof, match=r"blob 0: the chunk set 1\.\.4"):
        validate_store_chunks(decode_store_chunks(flipped, LIMITS))
    moved = _patch(body, BLOB0 + 32, struct.pack(">I", 1))  # data length: another blob header
    with pytest.raises(BadProof, match="batch root"):
        validate_store_chunks(decode_store_chunks(moved, LIMITS))


def test_retrieval_reply_round_trip_and_validation() -> None:
    reply = make_reply(random.Random(3), blob_index=2)
    body = b"".join(encode_retrieval_reply(reply))
    decoded = decode_retrieval_reply(body, LIMITS)
    assert decoded.batch_header == reply.batch_header and decoded.blob_index == 2
    assert decoded.blob_header_proof == reply.blob_header_proof
    assert decoded.blob.header == reply.blob.header and decoded.blob.indices == (0, 3, 5)
    assert [bytes(c) for c in decoded.blob.chunks] == [bytes(c) for c in reply.blob.chunks]
    assert b"".join(encode_retrieval_reply(decoded)) == body
    validate_retrieval_reply(decoded, reply.batch_header.compute_hash(), 2)


def test_retrieval_reply_validation_refuses_mismatches() -> None:
    reply = make_reply(random.Random(4), blob_index=1)
    asked = reply.batch_header.compute_hash()
    other_batch = BatchHeader(reply.batch_header.batch_root, 100)
    proof = reply.blob_header_proof
    cases = [
        (reply, other_batch.compute_hash(), 1, "does not hash"),
        (reply, asked, 0, "asked for blob 0"),
        (RetrievalReply(reply.batch_header, 0, proof, reply.blob), asked, 0, "not proven"),
        (RetrievalReply(reply.batch_header, 1, proof[:1], reply.blob), asked, 1, "not proven"),
    ]
    for candidate, batch_hash, index, message in cases:
        with pytest.raises(BadProof, match=message):
            validate_retrieval_reply(candidate, batch_hash, index)


def test_retrieval_reply_refuses_malformed_bodies() -> None:
    reply = make_reply(random.Random(5))
    body = b"".join(encode_retrieval_reply(reply))
    for cut in range(len(body)):
        with pytest.raises(MalformedRequest):
            decode_retrieval_reply(body[:cut], LIMITS)
    with pytest.raises(MalformedRequest, match="trailing"):
        decode_retrieval_reply(body + b"\x00", LIMITS)
    with pytest.raises(MalformedRequest, match="bad magic"):
        decode_retrieval_reply(_body(), LIMITS)
    with pytest.raises(RequestTooLarge, match="batch proof depth 2"):
        decode_retrieval_reply(body, WireLimits(max_proof_depth=1))


def _fingerprinted_request(rng: random.Random) -> StoreChunksRequest:
    """Two blobs: the first of profile FP-v1 carrying Z (3 rows), the second of profile 0."""
    plain = make_request(rng)
    first = plain.blobs[0]
    z = rng.randbytes(64 * first.header.k)
    header = dataclasses.replace(first.header, fingerprint=1, fingerprint_hash=keccak256(z))
    blobs = (dataclasses.replace(first, header=header, fingerprints=z), plain.blobs[1])
    return StoreChunksRequest(
        BatchHeader(compute_batch_tree([b.header for b in blobs]).root, 7), blobs
    )


def test_store_chunks_carries_fingerprint_rows_before_the_blob_chunks() -> None:
    request = _fingerprinted_request(random.Random(3))
    parts = encode_store_chunks(request)
    z = request.blobs[0].fingerprints
    assert parts[1] is z  # Z goes after the head, before the first blob's chunks, uncopied
    body = b"".join(parts)
    decoded = decode_store_chunks(body, LIMITS)
    assert bytes(decoded.blobs[0].fingerprints) == z and decoded.blobs[1].fingerprints == b""
    assert decoded.blobs[0].header.fingerprint == 1
    assert _as_bytes(decoded) == _as_bytes(request)
    assert b"".join(encode_store_chunks(decoded)) == body
    head = len(parts[0])
    # Z is not part of the head the disperser signs: it is bound by the header's hash.
    assert store_chunks_head(body) == parts[0] and body[head : head + len(z)] == z
    for cut in (len(body) - 1, head + len(z) - 1, head):
        with pytest.raises(MalformedRequest):
            decode_store_chunks(body[:cut], LIMITS)


def test_an_fp_blob_without_its_rows_cannot_be_encoded() -> None:
    request = _fingerprinted_request(random.Random(4))
    first = request.blobs[0]
    rows = bytes(first.fingerprints)
    for z in (b"", rows[:-1], rows + b"\x00"):
        broken = dataclasses.replace(first, fingerprints=z)
        with pytest.raises(MalformedRequest, match="fingerprint rows"):
            encode_store_chunks(StoreChunksRequest(request.batch_header, (broken,)))
