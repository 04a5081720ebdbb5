"""FP-v1 encoding validity (operator_node.protocol.encoding): honest blobs pass, others do not.

Everything is real: chunks from the codec, headers and Z from ``EncodedBlob.from_chunks`` (which
commits first and draws the points from the commitment), the node's ``check_blob_encoding``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from functools import cache

import pytest
from eth_abi.abi import encode as abi_encode

from operator_node.client.batch import EncodedBlob, prepare_batch
from operator_node.erasure import cached_codec
from operator_node.erasure._gf import gf_mul
from operator_node.erasure.fingerprint import DEGREE, ROW, fingerprints
from operator_node.protocol.encoding import (
    DOMAIN,
    check_blob_encoding,
    check_fingerprint_rows,
    compute_fingerprint_rows,
    derive_points,
    expected_rows,
)
from operator_node.protocol.errors import BadProof, InvalidEncoding
from operator_node.protocol.hashes import keccak256
from operator_node.protocol.headers import (
    CODE_GF8,
    CODE_GF16,
    PROFILE_FP1,
    PROFILE_NONE,
    BlobHeader,
    QuorumParams,
)
from operator_node.protocol.messages import BlobChunks, select_blob_chunks, validate_blob_chunks

QUORUMS = (QuorumParams(0, 33, 55),)
ACCOUNT = bytes(range(20))


def _commit(chunks: Sequence[bytes | memoryview], data_length: int, k: int) -> EncodedBlob:
    return EncodedBlob.from_chunks(
        chunks, data_length=data_length, k=k, quorums=QUORUMS, account=ACCOUNT
    )


def _encode(k: int, n: int, data: bytes) -> list[bytes]:
    return [bytes(c) for c in cached_codec(k, n).encode(data)]


def _select(blob: EncodedBlob, indices: Sequence[int]) -> BlobChunks:
    selected = select_blob_chunks(blob.header, blob.tree, blob.chunks, indices)
    return replace(selected, fingerprints=blob.fingerprints)


def _failing(blob: EncodedBlob) -> set[int]:
    """The indices whose chunk alone fails the check."""
    failing = set()
    for index in range(blob.header.n):
        try:
            check_blob_encoding(_select(blob, [index]))
        except InvalidEncoding as error:
            assert f"chunk {index} is not on the codeword" in str(error)
            failing.add(index)
    return failing


def _assert_refused_exactly(blob: EncodedBlob, failing: set[int], rng: random.Random) -> None:
    """Chunk by chunk exactly ``failing`` fail; all chunks fail naming the first of them; random
    subsets pass exactly when they miss ``failing``."""
    assert failing
    assert _failing(blob) == failing
    with pytest.raises(InvalidEncoding, match=f"^chunk {min(failing)} is not on the codeword"):
        check_blob_encoding(_select(blob, range(blob.header.n)))
    for _ in range(6):
        subset = sorted(rng.sample(range(blob.header.n), rng.randrange(1, blob.header.n + 1)))
        if failing.isdisjoint(subset):
            check_blob_encoding(_select(blob, subset))
        else:
            with pytest.raises(InvalidEncoding, match=f"^chunk {min(failing & set(subset))} "):
                check_blob_encoding(_select(blob, subset))


def _flip(chunks: Sequence[bytes], index: int, position: int, bit: int) -> list[bytes]:
    out = list(chunks)
    altered = bytearray(out[index])
    altered[position] ^= 1 << bit
    out[index] = bytes(altered)
    return out


# --- 1. honest blobs pass ----------------------------------------------------------------------


def test_honest_blobs_pass() -> None:
    rng = random.Random(1)
    shapes = [(1, 2, 1), (1, 40, 64), (39, 40, 39 * 64), (3, 7, 3 * 64 + 1), (8, 16, 5000)]
    shapes += [
        (k, n, rng.randrange(1, 6000))
        for n in (rng.randrange(2, 41) for _ in range(25))
        for k in [rng.randrange(1, n)]
    ]
    for k, n, size in shapes:
        blob = _commit(_encode(k, n, rng.randbytes(size)), size, k)
        assert blob.header.fingerprint == PROFILE_FP1
        assert len(blob.fingerprints) == ROW * k
        assert blob.header.fingerprint_hash == keccak256(blob.fingerprints)
        check_blob_encoding(_select(blob, range(n)))
        check_blob_encoding(_select(blob, sorted(rng.sample(range(n), rng.randrange(1, n + 1)))))
        check_blob_encoding(_select(blob, []))


def test_every_request_of_a_prepared_batch_passes() -> None:
    operators = [bytes([i + 1]) * 32 for i in range(5)]
    states = {0: [(operator, 10 + i) for i, operator in enumerate(operators)]}
    rng = random.Random(2)
    blobs = [_commit(_encode(4, 24, rng.randbytes(size)), size, 4) for size in (1, 700, 4096)]
    batch = prepare_batch(blobs, states, 100)
    seen: list[set[int]] = [set() for _ in blobs]
    for request in batch.requests.values():
        for position, blob in enumerate(request.blobs):
            assert bytes(blob.fingerprints) == blobs[position].fingerprints
            check_blob_encoding(blob)
            seen[position].update(blob.indices)
    assert all(indices for indices in seen)


# --- 2. detection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "where", "bit"),
    [
        (0, "first", 0),  # a data chunk
        (2, "last", 7),  # the last data chunk: its tail is the blob's zero padding
        (1, "middle", 3),
        (5, "first", 1),  # the first parity chunk
        (11, "last", 7),  # the last byte of the last parity chunk
        (8, "middle", 4),
    ],
)
def test_one_flipped_bit_is_caught(index: int, where: str, bit: int) -> None:
    k, n, size = 5, 12, 1001  # 1001 is a multiple of neither k nor 64: the last chunk is padded
    rng = random.Random(index * 8 + bit)
    honest = _encode(k, n, rng.randbytes(size))
    length = len(honest[0])
    position = {"first": 0, "last": length - 1, "middle": rng.randrange(length)}[where]
    blob = _commit(_flip(honest, index, position, bit), size, k)
    # A parity chunk altered: Z is the honest data's, so only that chunk is off the codeword of
    # Z. A data chunk altered: Z is the altered data's, so the altered chunk agrees with Z, and
    # the codeword of Z has different parity: every parity element of a Reed-Solomon (MDS) code
    # depends on every data element, so every parity chunk sent (the honest one) fails instead.
    expected = {index} if index >= k else set(range(k, n))
    _assert_refused_exactly(blob, expected, rng)


def test_every_single_bit_position_of_a_small_blob_is_caught() -> None:
    """Each flip of one bit, in every chunk and at every one of several positions."""
    k, n = 2, 5
    rng = random.Random(3)
    honest = _encode(k, n, rng.randbytes(200))
    assert len(honest[0]) == 128
    for index in range(n):
        for position in (0, 31, 62, 63, 64, 127):
            blob = _commit(_flip(honest, index, position, position % 8), 200, k)
            assert _failing(blob) == ({index} if index >= k else set(range(k, n)))


def test_chunks_swapped_between_two_blobs_are_caught() -> None:
    k, n, size = 4, 10, 900
    rng = random.Random(4)
    first, second = (_encode(k, n, rng.randbytes(size)) for _ in range(2))
    for index in (1, 6):
        a, b = list(first), list(second)
        a[index], b[index] = second[index], first[index]
        for chunks in (a, b):
            blob = _commit(chunks, size, k)
            _assert_refused_exactly(blob, {index} if index >= k else set(range(k, n)), rng)


def test_random_chunks_fail_at_every_parity_index() -> None:
    rng = random.Random(5)
    for k, n in ((1, 2), (3, 9), (10, 40)):
        length = 64 * rng.randrange(1, 4)
        chunks = [rng.randbytes(length) for _ in range(n)]
        blob = _commit(chunks, k * length - 5, k)
        _assert_refused_exactly(blob, set(range(k, n)), rng)


def test_bad_fingerprint_rows_are_refused_with_a_clear_message() -> None:
    k, n, size = 3, 8, 500
    rng = random.Random(6)
    blob = _commit(_encode(k, n, rng.randbytes(size)), size, k)
    selected = _select(blob, range(n))
    z = blob.fingerprints

    def refused(chunks: BlobChunks, message: str) -> None:
        with pytest.raises(InvalidEncoding, match=message):
            check_fingerprint_rows(chunks.header, chunks.fingerprints)
        with pytest.raises(InvalidEncoding, match=message):
            check_blob_encoding(chunks)

    for wrong in (b"", z[:-1], z[:-ROW], z + bytes(ROW), z + b"\x00"):
        length = f"fingerprint rows are {len(wrong)} bytes, not 64·k = {ROW * k}"
        refused(replace(selected, fingerprints=wrong), length)

    for row in range(k):
        for offset in (2 * DEGREE, ROW - 1):
            padded = bytearray(z)
            padded[row * ROW + offset] = 1
            # Even with a header that commits to exactly these rows, the padding is refused.
            header = replace(blob.header, fingerprint_hash=keccak256(padded))
            forged = replace(selected, header=header, fingerprints=bytes(padded))
            refused(forged, "fingerprint rows must end in two zero bytes each")

    mismatch = "the fingerprint rows do not hash to the blob header's fingerprint hash"
    altered = bytearray(z)
    altered[ROW + 5] ^= 0x40
    refused(replace(selected, fingerprints=bytes(altered)), mismatch)
    other = _commit(_encode(k, n, rng.randbytes(size)), size, k)
    refused(replace(selected, fingerprints=other.fingerprints), mismatch)

    # Rows that hash right (a header committing to them) but are not the chunks' fingerprints:
    # data row 1 and, through the code, every parity row are wrong.
    header = replace(blob.header, fingerprint_hash=keccak256(altered))
    blob_with_wrong_z = EncodedBlob(header, blob.chunks, blob.tree, bytes(altered))
    assert _failing(blob_with_wrong_z) == {1} | set(range(k, n))

    profile_none = replace(blob.header, fingerprint=PROFILE_NONE, fingerprint_hash=bytes(32))
    refused(replace(selected, header=profile_none), "profile 0 has no fingerprint rows")


# --- 3. the points must come after the commitment ----------------------------------------------


@cache
def _inverses() -> tuple[int, ...]:
    table = [0] * 256
    for a in range(1, 256):
        table[a] = next(b for b in range(1, 256) if gf_mul(a, b) == 1)
    return tuple(table)


@cache
def _times(c: int) -> bytes:
    return bytes(gf_mul(c, x) for x in range(256))


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ z for x, z in zip(a, b, strict=True))


def _kernel_vector(length: int, points: bytes) -> bytes:
    """A non-zero e of ``length`` bytes with FP(e) = 0 at both points: Gaussian elimination over
    GF(2^8) on the 62 x length matrix of e -> (FP_r1(e), FP_r2(e)), which is GF(2^8)-linear."""
    units = [bytes(c) + b"\x01" + bytes(length - c - 1) for c in range(length)]
    rows_of_units = fingerprints(units, length, points)
    columns = [rows_of_units[c * ROW : c * ROW + 2 * DEGREE] for c in range(length)]
    matrix = [bytes(column[r] for column in columns) for r in range(2 * DEGREE)]
    pivots: list[int] = []  # pivot column of each reduced row, in order
    reduced: list[bytes] = []
    for original in matrix:
        row = original
        for pivot, done in zip(pivots, reduced, strict=True):
            if row[pivot]:
                row = _xor(row, done.translate(_times(row[pivot])))
        lead = next((c for c, x in enumerate(row) if x), None)
        if lead is None:
            continue
        row = row.translate(_times(_inverses()[row[lead]]))
        reduced = [
            _xor(done, row.translate(_times(done[lead]))) if done[lead] else done
            for done in reduced
        ]
        pivots.append(lead)
        reduced.append(row)
    free = next(c for c in range(length) if c not in pivots)
    e = bytearray(length)
    e[free] = 1
    for pivot, row in zip(pivots, reduced, strict=True):
        e[pivot] = row[free]  # x_pivot + row[free] * x_free = 0, and -1 = 1 here
    return bytes(e)


def test_points_known_before_the_commitment_let_a_forgery_pass() -> None:
    k, n, size = 3, 8, 300
    codec = cached_codec(k, n)
    rng = random.Random(7)
    data = rng.randbytes(size)
    honest = _encode(k, n, data)
    length = len(honest[0])
    assert length == 128  # 128 unknowns, 62 equations: a kernel of dimension at least 66
    shape = _commit(honest, size, k).header
    # Points a disperser could compute before committing: no commitment in them.
    early = replace(shape, commitment=bytes(32))
    points = derive_points(early)
    e = _kernel_vector(length, points)
    assert any(e)
    assert fingerprints([e], length, points) == bytes(ROW)

    target = k + 1
    tampered = list(honest)
    tampered[target] = _xor(honest[target], e)
    # Not a codeword: the data chunks rebuild a different parity chunk, and two sets of k chunks
    # decode to two different blobs.
    rebuilt = codec.reconstruct({i: tampered[i] for i in range(k)}, [target])[target]
    assert bytes(rebuilt) == honest[target] != tampered[target]
    other_k = {i: tampered[i] for i in (target, *range(1, k))}
    assert codec.decode(other_k, size) != codec.decode({i: tampered[i] for i in range(k)}, size)

    # (i) At the early points the forgery passes: its fingerprint is the honest one, which is Z
    # encoded; the encoding check itself accepts it under a header with those points (only the
    # Merkle check, not the fingerprints, then notices that commitment is not the chunks' root).
    z = fingerprints(tampered[:k], length, points)
    row = fingerprints([tampered[target]], length, points)
    assert row == codec.encode(z)[target] == fingerprints([honest[target]], length, points)
    real = _commit(tampered, size, k)
    early_header = replace(early, fingerprint_hash=keccak256(z))
    every = range(n)
    forged = BlobChunks(
        early_header, tuple(every), real.tree.get_multiproof(every), tuple(tampered), z
    )
    check_blob_encoding(forged)
    with pytest.raises(BadProof):
        validate_blob_chunks(forged)

    # (ii) With the points drawn from the tampered set's own commitment, e is no longer in the
    # kernel and the check refuses the tampered chunk, and only it.
    assert fingerprints([e], length, derive_points(real.header)) != bytes(ROW)
    validate_blob_chunks(_select(real, every))
    assert _failing(real) == {target}
    with pytest.raises(InvalidEncoding, match=f"^chunk {target} is not on the codeword"):
        check_blob_encoding(_select(real, every))


def _header(**changes: object) -> BlobHeader:
    base = BlobHeader(
        commitment=bytes(range(32)),
        data_length=1000,
        k=4,
        n=12,
        chunk_length=256,
        quorums=QUORUMS,
        account=ACCOUNT,
        code=CODE_GF8,
        fingerprint=PROFILE_FP1,
        fingerprint_hash=bytes([7]) * 32,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_every_field_that_defines_the_codeword_moves_the_points() -> None:
    base = derive_points(_header())
    assert len(base) == 2 * DEGREE
    changes: list[dict[str, object]] = [
        {"commitment": bytes(31) + b"\x01"},
        {"data_length": 999},
        {"data_length": 1024},
        {"k": 5},
        {"n": 13},
        {"chunk_length": 320},
        {"fingerprint": PROFILE_NONE, "fingerprint_hash": bytes(32)},
    ]
    assert base[:DEGREE] != base[DEGREE:] and any(base[:DEGREE]) and any(base[DEGREE:])
    seen = {base}
    for change in changes:
        points = derive_points(_header(**change))
        assert points not in seen, change
        # Each point moves on its own: one point known in advance would halve the work of a
        # forgery (a kernel vector of 31 equations instead of 62).
        assert points[:DEGREE] != base[:DEGREE] and points[DEGREE:] != base[DEGREE:], change
        seen.add(points)
    # The code: compared between two headers of profile 0 (FP-v1 is defined for GF(2^8) only).
    gf8 = _header(fingerprint=PROFILE_NONE, fingerprint_hash=bytes(32))
    gf16 = replace(gf8, code=CODE_GF16)
    assert derive_points(gf8) != derive_points(gf16)
    # What does not define the codeword does not move them (and Z comes after the points).
    unchanged: list[dict[str, object]] = [
        {"quorums": (QuorumParams(1, 10, 90), QuorumParams(2, 20, 80))},
        {"account": bytes(19) + b"\x01"},
        {"fingerprint_hash": bytes([9]) * 32},
    ]
    for change in unchanged:
        assert derive_points(_header(**change)) == base, change


def test_points_follow_the_documented_seed() -> None:
    """The seed is abi.encode of the documented words; the stream two keccak blocks."""
    header = _header()
    assert keccak256(b"operator-node/fingerprint/v1") == DOMAIN
    types = ["bytes32", "bytes32", "uint32", "uint16", "uint16", "uint8", "uint32", "uint8"]
    values = [DOMAIN, header.commitment, 1000, 4, 12, CODE_GF8, 256, PROFILE_FP1]
    seed = keccak256(abi_encode(types, values))
    stream = keccak256(seed + bytes(4)) + keccak256(seed + b"\x00\x00\x00\x01")
    assert derive_points(header) == stream[:62]
    # Committed: computed once from the construction above.
    assert derive_points(header) == bytes.fromhex(
        "7941ab715f598484ac1649a4cdfbce774f5d4d67a3c9c85d8de96ff36bbea1"
        "11f26f2512969ccb28a776e806221b715db9a77a1a282a3974ff8c4e9cca59"
    )


# --- 4. the expected rows are the chunks' fingerprints ----------------------------------------


def test_expected_rows_are_the_fingerprints_of_the_codeword() -> None:
    rng = random.Random(8)
    for k, n, size in ((1, 3, 10), (5, 12, 1001), (16, 40, 20000)):
        chunks = _encode(k, n, rng.randbytes(size))
        blob = _commit(chunks, size, k)
        points = derive_points(blob.header)
        assert compute_fingerprint_rows(blob.header, chunks[:k]) == blob.fingerprints
        rows = expected_rows(blob.header, blob.fingerprints)
        assert len(rows) == n
        for index, chunk in enumerate(chunks):
            assert bytes(rows[index]) == fingerprints([chunk], len(chunk), points), index
        for index in range(k):
            assert bytes(rows[index]) == blob.fingerprints[index * ROW : (index + 1) * ROW]
        with pytest.raises(ValueError, match=f"k={k} data chunks"):
            compute_fingerprint_rows(blob.header, chunks[: k + 1])
