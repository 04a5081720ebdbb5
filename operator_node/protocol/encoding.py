"""Encoding validity without KZG: a node signs only chunks that lie on one codeword (FP-v1).

The disperser commits to the n chunks (the Merkle root), and only then are the fingerprint points
fixed, by keccak over the commitment and the values that define "codeword" (data length, k, n,
code, chunk length, profile): nothing the disperser chooses afterwards. It sends Z, the
fingerprint rows of the k data chunks (64·k bytes), with every StoreChunks request, and
keccak256(Z) in the blob header, which the batch root and so the operators' signatures cover.

Because the fingerprint is GF(2^8)-linear, the fingerprints of a codeword's n chunks are the
codeword of Z: a node encodes Z with the blob's own code and compares the rows at its indices
with its chunks' fingerprints. Any set of chunks that pass is consistent with one codeword except
with probability at most q·2^-191 for a disperser making q keccak queries (q·2^-207 for chunks up
to 16 MiB; the argument, its assumptions and its limits: docs/encoding-validity.md).

Seed (all keccak256, ABI words as in ``headers``):

- seed = keccak256(abi.encode(bytes32 keccak256("operator-node/fingerprint/v1"), bytes32
  commitment, uint32 dataLength, uint16 k, uint16 n, uint8 code, uint32 chunkLength, uint8
  fingerprint));
- stream = keccak256(seed ‖ uint32_be(0)) ‖ keccak256(seed ‖ uint32_be(1));
- r1 = stream[0:31], r2 = stream[31:62], each the coefficients of y^0 .. y^30 of a K element.

Quorums, account and Z are left out on purpose: none defines the codeword, and Z is chosen after
the points.
"""

from __future__ import annotations

from collections.abc import Sequence

from operator_node.erasure import ErasureError, cached_codec
from operator_node.erasure.fingerprint import DEGREE, ROW, fingerprints
from operator_node.protocol.errors import InvalidEncoding
from operator_node.protocol.hashes import WORD_BYTES, Bytes, keccak256
from operator_node.protocol.headers import CODE_FIELD_BITS, PROFILE_FP1, BlobHeader
from operator_node.protocol.messages import BlobChunks

FINGERPRINT_POLICIES = ("required", "accepted")
"""A node's policy: must a GF(2^8) blob carry FP-v1 fingerprints ("required"), or may it not."""

DOMAIN = keccak256(b"operator-node/fingerprint/v1")
POINTS = 2
PADDING = ROW - POINTS * DEGREE


def _word(value: int) -> bytes:
    return value.to_bytes(WORD_BYTES, "big")


def derive_points(header: BlobHeader) -> bytes:
    """The fingerprint points of a blob (62 bytes: r1 then r2), from its commitment and shape."""
    shape = (header.data_length, header.k, header.n, header.code, header.chunk_length)
    words = b"".join(_word(v) for v in (*shape, header.fingerprint))
    seed = keccak256(DOMAIN + header.commitment + words)
    stream = keccak256(seed + (0).to_bytes(4, "big")) + keccak256(seed + (1).to_bytes(4, "big"))
    return stream[: POINTS * DEGREE]


def compute_fingerprint_rows(header: BlobHeader, data_chunks: Sequence[Bytes]) -> bytes:
    """Z for a blob: the fingerprint rows of its k data chunks (the first k of the codeword).

    ``header`` needs the commitment and shape only; its fingerprint hash is not read (it is the
    hash of what this returns).
    """
    if len(data_chunks) != header.k:
        raise ValueError(f"Z is over the k={header.k} data chunks, not {len(data_chunks)}")
    return fingerprints(data_chunks, header.chunk_length, derive_points(header))


def expected_rows(header: BlobHeader, z: Bytes) -> list[memoryview]:
    """The n fingerprint rows a codeword with data fingerprints ``z`` has: Z encoded."""
    field = CODE_FIELD_BITS[header.code]
    return cached_codec(header.k, header.n, field=field).encode(z)


def check_fingerprint_rows(header: BlobHeader, z: Bytes) -> None:
    """Check Z itself: 64·k bytes, zero padding in every row, and the header's hash."""
    if header.fingerprint != PROFILE_FP1:
        raise InvalidEncoding(f"profile {header.fingerprint} has no fingerprint rows to check")
    if len(z) != ROW * header.k:
        raise InvalidEncoding(f"fingerprint rows are {len(z)} bytes, not 64·k = {ROW * header.k}")
    view = memoryview(z).cast("B")
    if any(
        view[i * ROW + POINTS * DEGREE : (i + 1) * ROW] != bytes(PADDING) for i in range(header.k)
    ):
        raise InvalidEncoding("fingerprint rows must end in two zero bytes each")
    if keccak256(view) != header.fingerprint_hash:
        raise InvalidEncoding(
            "the fingerprint rows do not hash to the blob header's fingerprint hash"
        )


def check_blob_encoding(blob: BlobChunks) -> None:
    """Refuse (:class:`InvalidEncoding`) chunks of an FP-v1 blob that are off its codeword.

    Checks Z against the header, then the fingerprint of every chunk against Z encoded at its
    index, naming the first chunk that fails. Runs the fingerprints in C with the GIL released;
    call it off the event loop for large blobs.
    """
    header = blob.header
    check_fingerprint_rows(header, blob.fingerprints)
    if not blob.indices:
        return
    try:
        expected = expected_rows(header, blob.fingerprints)
    except ErasureError as exc:  # a shape the code cannot make (check_coding refuses it first)
        raise InvalidEncoding(f"cannot encode the fingerprint rows: {exc}") from None
    got = fingerprints(blob.chunks, header.chunk_length, derive_points(header))
    for position, index in enumerate(blob.indices):
        if got[position * ROW : (position + 1) * ROW] != expected[index]:
            raise InvalidEncoding(
                f"chunk {index} is not on the codeword its blob's fingerprints commit to"
            )
