"""Payment metadata in blob headers: the hash, the account's signature, wire version 4 and the
stored records that keep both."""

from __future__ import annotations

import dataclasses
import random

import pytest
from eth_abi.abi import encode
from eth_account import Account
from support.messages import make_blob

from operator_node.protocol import (
    BadSignature,
    BatchHeader,
    InvalidBlob,
    MalformedRequest,
    StoreChunksRequest,
    WireLimits,
    compute_batch_root,
    decode_store_chunks,
    encode_store_chunks,
)
from operator_node.protocol.hashes import keccak256
from operator_node.protocol.headers import (
    BLOB_HEADER_ABI_TYPES,
    PAYMENT_ABI_TYPES,
    PAYMENT_ON_DEMAND,
    PAYMENT_RESERVATION,
    Payment,
)
from operator_node.protocol.messages import BlobChunks
from operator_node.protocol.payment import (
    PAYMENT_DOMAIN,
    PAYMENT_TAG,
    compute_payment_digest,
    recover_payer,
    sign_blob_payment,
)
from operator_node.protocol.wire import (
    decode_blob_record,
    decode_blob_section,
    decode_store_chunks_head,
    encode_blob_section,
)

LIMITS = WireLimits()
PAYER = Account.from_key(bytes(31) + b"\x07")
OTHER = Account.from_key(bytes(31) + b"\x08")
VAULT = bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3")
CHAIN = 31337


def paid_blob(rng: random.Random, payment: Payment, signer=PAYER) -> BlobChunks:  # type: ignore[no-untyped-def]
    blob = make_blob(rng)
    header = dataclasses.replace(
        blob.header, account=bytes.fromhex(PAYER.address[2:]), payment=payment
    )
    signature = sign_blob_payment(signer, CHAIN, VAULT, header)
    return dataclasses.replace(blob, header=header, account_signature=signature)


def request_of(*blobs: BlobChunks) -> StoreChunksRequest:
    root = compute_batch_root([blob.header for blob in blobs])
    return StoreChunksRequest(BatchHeader(root, 77), blobs)


def test_tag_is_the_hash_of_the_domain() -> None:
    assert keccak256(PAYMENT_DOMAIN) == PAYMENT_TAG


def test_the_header_hash_covers_the_payment_as_abi_encode_does() -> None:
    blob = paid_blob(
        random.Random(1), Payment(PAYMENT_ON_DEMAND, 1_765_000_000_000_000_000, 10**15)
    )
    h = blob.header
    values = [
        h.commitment, h.data_length, h.k, h.n, h.code, h.fingerprint, h.fingerprint_hash,
        h.chunk_length,
        [(q.quorum_number, q.adversary_threshold, q.confirmation_threshold) for q in h.quorums],
        "0x" + h.account.hex(), PAYMENT_ON_DEMAND, 1_765_000_000_000_000_000, 10**15,
    ]  # fmt: skip
    expected = keccak256(encode([*BLOB_HEADER_ABI_TYPES, *PAYMENT_ABI_TYPES], values))
    assert h.compute_hash() == expected
    # Each payment field changes the hash; the unpaid header hashes as before (ten fields).
    for changed in (
        Payment(PAYMENT_ON_DEMAND, 1_765_000_000_000_000_001, 10**15),
        Payment(PAYMENT_ON_DEMAND, 1_765_000_000_000_000_000, 10**15 + 1),
        Payment(PAYMENT_RESERVATION, 1_765_000_000_000_000_000, 0),
    ):
        assert dataclasses.replace(h, payment=changed).compute_hash() != expected
    unpaid = dataclasses.replace(h, payment=None)
    assert unpaid.compute_hash() == keccak256(encode(list(BLOB_HEADER_ABI_TYPES), values[:10]))


def test_payment_digest_is_abi_encode_of_tag_chain_vault_and_hash() -> None:
    header_hash = bytes(range(32))
    expected = keccak256(
        encode(
            ["bytes32", "uint256", "address", "bytes32"],
            [PAYMENT_TAG, CHAIN, "0x" + VAULT.hex(), header_hash],
        )
    )
    assert compute_payment_digest(CHAIN, VAULT, header_hash) == expected
    with pytest.raises(MalformedRequest):
        compute_payment_digest(CHAIN, VAULT[:19], header_hash)


def test_the_account_signature_recovers_the_account_and_nothing_else() -> None:
    blob = paid_blob(random.Random(2), Payment(PAYMENT_RESERVATION, 5))
    header_hash = blob.header.compute_hash()
    assert recover_payer(blob.account_signature, CHAIN, VAULT, header_hash) == blob.header.account
    # Another chain, another vault, another header: another (wrong) signer.
    assert recover_payer(blob.account_signature, 1, VAULT, header_hash) != blob.header.account
    assert (
        recover_payer(blob.account_signature, CHAIN, bytes(20), header_hash) != blob.header.account
    )
    forged = paid_blob(random.Random(2), Payment(PAYMENT_RESERVATION, 5), signer=OTHER)
    signer = recover_payer(forged.account_signature, CHAIN, VAULT, header_hash)
    assert signer == bytes.fromhex(OTHER.address[2:]) != forged.header.account
    for bad in (blob.account_signature[:64], blob.account_signature[:64] + b"\x01", bytes(65)):
        with pytest.raises(BadSignature):
            recover_payer(bad, CHAIN, VAULT, header_hash)


@pytest.mark.parametrize(
    ("kind", "timestamp", "cumulative", "message"),
    [
        (0, 1, 0, "unknown payment kind"),
        (3, 1, 0, "unknown payment kind"),
        (PAYMENT_RESERVATION, 0, 0, "positive uint64"),
        (PAYMENT_RESERVATION, 1 << 64, 0, "positive uint64"),
        (PAYMENT_RESERVATION, 1, 5, "cumulative payment"),
        (PAYMENT_ON_DEMAND, 1, 0, "cumulative payment"),
        (PAYMENT_ON_DEMAND, 1, 1 << 256, "uint256"),
    ],
)
def test_payments_that_do_not_fit_are_refused(
    kind: int, timestamp: int, cumulative: int, message: str
) -> None:
    with pytest.raises(InvalidBlob, match=message):
        Payment(kind, timestamp, cumulative)


def test_wire_carries_payments_and_signatures_and_the_head_alone_gives_them() -> None:
    rng = random.Random(3)
    blobs = (
        paid_blob(rng, Payment(PAYMENT_RESERVATION, 1_700_000_000_123_456_789)),
        make_blob(rng),  # unpaid
        paid_blob(rng, Payment(PAYMENT_ON_DEMAND, 1_700_000_000_000_000_001, (1 << 256) - 1)),
    )
    request = request_of(*blobs)
    parts = encode_store_chunks(request)
    body = b"".join(parts)
    decoded = decode_store_chunks(memoryview(body), LIMITS)
    assert [b.header for b in decoded.blobs] == [b.header for b in blobs]
    assert [b.account_signature for b in decoded.blobs] == [b.account_signature for b in blobs]
    assert b"".join(encode_store_chunks(decoded)) == body
    head = decode_store_chunks_head(parts[0], LIMITS)
    assert head.batch_header == request.batch_header and head.length == len(parts[0])
    assert [(s.header, s.signature) for s in head.sections] == [
        (b.header, b.account_signature) for b in blobs
    ]
    # The body decoded with its head parsed already is the body decoded whole.
    again = decode_store_chunks(memoryview(body), LIMITS, head)
    assert b"".join(encode_store_chunks(again)) == body
    other = decode_store_chunks_head(encode_store_chunks(request_of(blobs[1]))[0], LIMITS)
    with pytest.raises(MalformedRequest, match="not this body's"):
        decode_store_chunks(memoryview(body), LIMITS, other)
    # Every cut of the head fails cleanly, never a partial read.
    for cut in range(9, len(parts[0])):
        with pytest.raises(MalformedRequest):
            decode_store_chunks_head(parts[0][:cut], LIMITS)


def test_a_paid_blob_without_its_signature_cannot_be_encoded_and_a_bad_kind_is_refused() -> None:
    blob = paid_blob(random.Random(4), Payment(PAYMENT_RESERVATION, 9))
    with pytest.raises(MalformedRequest, match="signature"):
        encode_store_chunks(request_of(dataclasses.replace(blob, account_signature=b"")))
    body = bytearray(b"".join(encode_store_chunks(request_of(blob))))
    kind_at = body.index(blob.header.account) + 20
    assert body[kind_at] == PAYMENT_RESERVATION
    body[kind_at] = 9
    with pytest.raises(InvalidBlob, match="unknown payment kind 9"):
        decode_store_chunks(memoryview(bytes(body)), LIMITS)


def test_stored_records_keep_the_payment_and_signature() -> None:
    rng = random.Random(5)
    for payment in (
        Payment(PAYMENT_RESERVATION, 11),
        Payment(PAYMENT_ON_DEMAND, 12, 3 * 10**18),
    ):
        blob = paid_blob(rng, payment)
        record = encode_blob_section(blob)
        assert record[-1] == 4
        header, indices, proof, signature = decode_blob_record(record)
        assert (header, indices, proof) == (blob.header, blob.indices, blob.proof)
        assert signature == blob.account_signature
        assert decode_blob_section(record)[0].compute_hash() == blob.header.compute_hash()
        for bad in (record[:-1], record + b"\x04", record[:-2] + b"\x03"):
            with pytest.raises(MalformedRequest):
                decode_blob_section(bad)
    unpaid = make_blob(rng)
    assert decode_blob_record(encode_blob_section(unpaid))[3] == b""
