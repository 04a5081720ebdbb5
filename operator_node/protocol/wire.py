"""Binary encodings of the StoreChunks request body and the retrieval reply.

Both messages are a fixed prefix, a small canonical header, then raw chunk bytes (no JSON, no
base64). All integers are unsigned big-endian; a "word" is 32 bytes.

Prefix (9 bytes): magic (4: ``ONSC`` for StoreChunks, ``ONRR`` for a retrieval reply), version (u8,
4), header length H (u32: the bytes between the prefix and the first chunk byte). Version 1 had no
erasure code in the blob header, version 2 no encoding-validity profile, version 3 no payment; a
message of any of them is refused with a clear error.

Header pieces:

- batch header: batch root (word), reference block number (u32).
- blob header: commitment (word), data length (u32), k (u16), n (u16), code (u8), fingerprint
  profile (u8), fingerprint hash (word), chunk length (u32), quorum count q (u8), q x (quorum
  number u8, adversary % u8, confirmation % u8), account (20), payment kind (u8: 0 none, 1
  reservation, 2 on demand), and for a kind other than 0: payment timestamp (u64, ns) and
  cumulative payment (word).
- chunk set: count c (u16), c x index (u16, strictly increasing, < n), then the chunks'
  multiproof: the words (32 bytes each) of every tree node the verifier cannot compute from the
  chunks, level by level from the leaves up and left to right, as many as the indices and
  depth(n) = ceil(log2 n) call for (at most 2 per level for a contiguous run of chunks).

StoreChunks header: batch header, blob count b (u16, ≥ 1), then b x (blob header, the account's
payment signature (65 bytes, ``protocol.payment``) if the blob has a payment, chunk set).
Retrieval reply header: batch header, blob index (u32), blob header, batch proof depth d (u8),
d words (proof of leaf keccak256(blob header hash) to the batch root), chunk set.

After the header, blob by blob: in a StoreChunks body, the blob's fingerprint rows Z (64·k bytes)
when its profile is FP-v1; then every chunk of its chunk set in order, each exactly chunk length
bytes; and nothing else. Z is not in the header, which the disperser signs and the node reads
before anything else: it is bound instead by the fingerprint hash in the blob header.

Decoding is zero-copy for chunk data (memoryview slices of the body) and checks
every declared count and length against :class:`WireLimits` and the bytes present before
allocating anything proportional to it; the encoding is canonical, so decode then encode gives
back the same bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from operator_node.protocol._binary import U8, U16, U32, Reader
from operator_node.protocol.errors import MalformedRequest, RequestTooLarge
from operator_node.protocol.hashes import Bytes
from operator_node.protocol.headers import (
    CODE_GF8,
    FINGERPRINT_ROW,
    NO_FINGERPRINT,
    PROFILE_FP1,
    PROFILE_NONE,
    UINT16_MAX,
    BatchHeader,
    BlobHeader,
    Payment,
    QuorumParams,
)
from operator_node.protocol.merkle import multiproof_positions, multiproof_size, tree_depth
from operator_node.protocol.messages import (
    BlobChunks,
    RetrievalReply,
    StoreChunksRequest,
    validate_chunk_index_order,
)

MAGIC_STORE_CHUNKS = b"ONSC"
MAGIC_RETRIEVAL_REPLY = b"ONRR"
WIRE_VERSION = 4
CONTENT_TYPE = "application/octet-stream"

_PREFIX = struct.Struct(">4sBI")
_BATCH = struct.Struct(">32sI")
_BLOB_FIXED = struct.Struct(">32sIHHBB32sIB")
# The blob header as stored records keep it (wire version 1): the code follows the chunk set.
_RECORD_FIXED = struct.Struct(">32sIHHIB")
_QUORUM = struct.Struct(">BBB")
_ADDRESS = 20
_PAYMENT = struct.Struct(">BQ32s")
_TIMESTAMP = struct.Struct(">Q")
_ACCOUNT_SIGNATURE = 65
# Smallest possible blob section: one quorum, no payment and no chunks.
_MIN_BLOB_SECTION = _BLOB_FIXED.size + _QUORUM.size + _ADDRESS + U8.size + U16.size


@dataclass(frozen=True)
class WireLimits:
    """Upper bounds a decoder enforces before trusting any declared size.

    ``max_chunks`` counts chunks over the whole message; ``max_proof_depth`` bounds every Merkle
    proof (chunk trees are at most 16 deep since n ≤ 65,535; batch proofs grow with blob count).
    A chunk costs its 2-byte index in the header and a run of chunks at most 64 bytes a level of
    multiproof: 3,277 chunks of an 8,194-chunk blob take 7 KB.
    """

    max_body_bytes: int = 64 << 20
    max_header_bytes: int = 1 << 20
    max_blobs: int = 256
    max_chunks: int = 65535
    max_proof_depth: int = 16


# --- encoding -----------------------------------------------------------------------------------


def _encode_batch_header(header: BatchHeader) -> bytes:
    return _BATCH.pack(header.batch_root, header.reference_block_number)


def _encode_blob_header(header: BlobHeader, layout: struct.Struct = _BLOB_FIXED) -> bytes:
    shape: tuple[int | bytes, ...] = (header.k, header.n)
    if layout is _BLOB_FIXED:
        shape += (header.code, header.fingerprint, header.fingerprint_hash)
    fixed = layout.pack(
        header.commitment,
        header.data_length,
        *shape,
        header.chunk_length,
        len(header.quorums),
    )
    quorums = b"".join(
        _QUORUM.pack(q.quorum_number, q.adversary_threshold, q.confirmation_threshold)
        for q in header.quorums
    )
    if layout is not _BLOB_FIXED:
        return fixed + quorums + header.account
    return fixed + quorums + header.account + _encode_payment(header.payment)


def _encode_payment(payment: Payment | None) -> bytes:
    if payment is None:
        return U8.pack(0)
    cumulative = payment.cumulative_payment.to_bytes(32, "big")
    return _PAYMENT.pack(payment.kind, payment.timestamp, cumulative)


def _encode_account_signature(blob: BlobChunks) -> bytes:
    if blob.header.payment is None:
        return b""
    if len(blob.account_signature) != _ACCOUNT_SIGNATURE:
        raise MalformedRequest(
            f"a blob with a payment carries the account's {_ACCOUNT_SIGNATURE}-byte signature, "
            f"not {len(blob.account_signature)} bytes"
        )
    return bytes(blob.account_signature)


def _encode_chunk_set(blob: BlobChunks) -> bytes:
    indices = struct.pack(f">{len(blob.indices)}H", *blob.indices)
    return U16.pack(len(blob.indices)) + indices + b"".join(blob.proof)


def _frame(
    magic: bytes, header: bytes, blobs: Sequence[BlobChunks], fingerprints: bool = False
) -> list[Bytes]:
    head = _PREFIX.pack(magic, WIRE_VERSION, len(header)) + header
    parts: list[Bytes] = [head]
    for blob in blobs:
        if fingerprints and blob.header.fingerprint == PROFILE_FP1:
            parts.append(blob.fingerprints)
        parts += blob.chunks
    return parts


def fingerprint_bytes(header: BlobHeader) -> int:
    """Bytes of Z a StoreChunks body carries for a blob: 64·k for FP-v1, else none."""
    return FINGERPRINT_ROW * header.k if header.fingerprint == PROFILE_FP1 else 0


def encode_store_chunks(request: StoreChunksRequest) -> list[Bytes]:
    """Encode a StoreChunks body as a list of buffers whose concatenation is the body.

    The first buffer is the head (prefix and header, what :func:`store_chunks_head` returns); the
    chunk buffers are the request's own (not copied). ``b"".join`` the list for one ``bytes``.
    Raises :class:`MalformedRequest` if the batch has more blobs than the format can count or a
    blob of profile FP-v1 lacks its 64·k bytes of fingerprint rows.
    """
    if len(request.blobs) > UINT16_MAX:
        raise MalformedRequest(f"{len(request.blobs)} blobs do not fit one StoreChunks body")
    for blob in request.blobs:
        if len(blob.fingerprints) != fingerprint_bytes(blob.header):
            raise MalformedRequest(
                f"a blob of profile {blob.header.fingerprint} carries "
                f"{fingerprint_bytes(blob.header)} bytes of fingerprint rows, "
                f"not {len(blob.fingerprints)}"
            )
    parts = [_encode_batch_header(request.batch_header), U16.pack(len(request.blobs))]
    for blob in request.blobs:
        parts += [
            _encode_blob_header(blob.header),
            _encode_account_signature(blob),
            _encode_chunk_set(blob),
        ]
    return _frame(MAGIC_STORE_CHUNKS, b"".join(parts), request.blobs, fingerprints=True)


def encode_retrieval_reply(reply: RetrievalReply) -> list[Bytes]:
    """Encode a retrieval reply as a list of buffers (chunks not copied); see the module doc."""
    header = b"".join(
        [
            _encode_batch_header(reply.batch_header),
            U32.pack(reply.blob_index),
            _encode_blob_header(reply.blob.header),
            U8.pack(len(reply.blob_header_proof)),
            *reply.blob_header_proof,
            _encode_chunk_set(reply.blob),
        ]
    )
    return _frame(MAGIC_RETRIEVAL_REPLY, header, [reply.blob])


# --- decoding -----------------------------------------------------------------------------------


def _check_prefix(fields: tuple[bytes, int, int], magic: bytes, limits: WireLimits | None) -> int:
    """The header length of an unpacked prefix, after checking its magic, version and size."""
    found, version, header_length = fields
    if found != magic:
        raise MalformedRequest(f"bad magic {bytes(found)!r}, expected {magic!r}")
    if version != WIRE_VERSION:
        raise MalformedRequest(f"unsupported version {version}, this node speaks {WIRE_VERSION}")
    if limits is not None and header_length > limits.max_header_bytes:
        raise RequestTooLarge(
            f"header of {header_length} bytes exceeds {limits.max_header_bytes}",
            limit="max_header_bytes",
        )
    return int(header_length)


def _open(body: Bytes, magic: bytes, limits: WireLimits | None) -> tuple[memoryview, Reader]:
    view = memoryview(body)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    if limits is not None and len(view) > limits.max_body_bytes:
        raise RequestTooLarge(
            f"body of {len(view)} bytes exceeds {limits.max_body_bytes}", limit="max_body_bytes"
        )
    header_length = _check_prefix(
        Reader(view, 0, len(view)).unpack(_PREFIX, "prefix"), magic, limits
    )
    if header_length > len(view) - _PREFIX.size:
        raise MalformedRequest(f"header length {header_length} runs past the end of the body")
    return view, Reader(view, _PREFIX.size, _PREFIX.size + header_length)


def _read_batch_header(reader: Reader) -> BatchHeader:
    root, reference_block = reader.unpack(_BATCH, "batch header")
    return BatchHeader(batch_root=bytes(root), reference_block_number=reference_block)


def _read_blob_header(reader: Reader, stored: _Stored | None = None) -> BlobHeader:
    """Read a blob header; with ``stored`` = (code, profile, fingerprint hash, payment) given,
    in the stored layout that lacks them."""
    if stored is None:
        fields = reader.unpack(_BLOB_FIXED, "blob header")
        commitment, data_length, k, n, code, profile, fp_hash, chunk_length, quorum_count = fields
    else:
        fields = reader.unpack(_RECORD_FIXED, "blob header")
        commitment, data_length, k, n, chunk_length, quorum_count = fields
        code, profile, fp_hash, payment = stored
    block = reader.take(_QUORUM.size * quorum_count, "blob quorums")
    quorums = tuple(QuorumParams(*triple) for triple in _QUORUM.iter_unpack(block))
    account = bytes(reader.take(_ADDRESS, "blob account"))
    if stored is None:
        payment = _read_payment(reader)
    return BlobHeader(
        bytes(commitment), data_length, k, n, chunk_length, quorums, account, code, profile,
        bytes(fp_hash), payment,
    )  # fmt: skip


def _read_payment(reader: Reader) -> Payment | None:
    kind = reader.uint(U8, "payment kind")
    if kind == 0:
        return None
    timestamp = reader.uint(_TIMESTAMP, "payment timestamp")
    cumulative = int.from_bytes(reader.take(32, "cumulative payment"), "big")
    return Payment(kind, timestamp, cumulative)


def _read_chunk_set(
    reader: Reader, header: BlobHeader, limits: WireLimits, chunks_left: int
) -> tuple[tuple[int, ...], tuple[bytes, ...]]:
    count = reader.uint(U16, "chunk count")
    if count > chunks_left:
        raise RequestTooLarge(
            f"more than {limits.max_chunks} chunks in one message", limit="max_chunks"
        )
    if count > header.n:
        raise MalformedRequest(f"{count} chunks sent of a blob that has only {header.n}")
    depth = tree_depth(header.n)
    if depth > limits.max_proof_depth:
        raise RequestTooLarge(
            f"proof depth {depth} exceeds {limits.max_proof_depth}", limit="max_proof_depth"
        )
    if count * U16.size > reader.remaining:
        raise MalformedRequest(f"truncated chunk set: {count} indices declared")
    indices = struct.unpack(f">{count}H", reader.take(U16.size * count, "chunk indices"))
    validate_chunk_index_order(indices, header.n)
    words = multiproof_size(indices, depth)
    if 32 * words > reader.remaining:
        raise MalformedRequest(f"truncated chunk set: its multiproof needs {words} words")
    return indices, reader.words(words, "chunk multiproof")


def _read_chunks(
    view: memoryview, start: int, sets: Sequence[tuple[BlobHeader, int]], fingerprints: bool
) -> list[tuple[memoryview, tuple[memoryview, ...]]]:
    """Each blob's (fingerprint rows, chunks) after the header; rows only if ``fingerprints``."""
    rows = [fingerprint_bytes(header) if fingerprints else 0 for header, _ in sets]
    declared = sum(header.chunk_length * count for header, count in sets) + sum(rows)
    present = len(view) - start
    if present != declared:
        what = "truncated chunk data" if present < declared else "trailing bytes after the chunks"
        raise MalformedRequest(
            f"{what}: the header declares {declared} bytes of fingerprint rows and chunks, "
            f"the body has {present}"
        )
    out, position = [], start
    for (header, count), z in zip(sets, rows, strict=True):
        size = header.chunk_length
        z_view = view[position : position + z]
        position += z
        out.append(
            (
                z_view,
                tuple(view[position + i * size : position + (i + 1) * size] for i in range(count)),
            )
        )
        position += size * count
    return out


@dataclass(frozen=True)
class BlobSection:
    """One blob's part of a StoreChunks header: its header, the account's payment signature
    (empty without a payment), its chunk indices and their multiproof."""

    header: BlobHeader
    signature: bytes
    indices: tuple[int, ...]
    proof: tuple[bytes, ...]


@dataclass(frozen=True)
class StoreChunksHead:
    """A parsed StoreChunks head: the batch header, the blobs' sections, and the head's length
    (the offset of the first byte after it)."""

    batch_header: BatchHeader
    sections: tuple[BlobSection, ...]
    length: int


def _read_blob_sections(reader: Reader, limits: WireLimits) -> list[BlobSection]:
    blob_count = reader.uint(U16, "blob count")
    if blob_count == 0:
        raise MalformedRequest("a batch must have at least one blob")
    if blob_count > limits.max_blobs:
        raise RequestTooLarge(
            f"{blob_count} blobs exceed the limit of {limits.max_blobs}", limit="max_blobs"
        )
    if blob_count * _MIN_BLOB_SECTION > reader.remaining:
        raise MalformedRequest(f"truncated header: {blob_count} blobs declared")
    sections = []
    chunks_left = limits.max_chunks
    for _ in range(blob_count):
        header = _read_blob_header(reader)
        signature = b""
        if header.payment is not None:
            signature = bytes(reader.take(_ACCOUNT_SIGNATURE, "account signature"))
        indices, proof = _read_chunk_set(reader, header, limits, chunks_left)
        chunks_left -= len(indices)
        sections.append(BlobSection(header, signature, indices, proof))
    return sections


PREFIX_BYTES = _PREFIX.size


def store_chunks_head_length(prefix: Bytes, limits: WireLimits) -> int:
    """Return the length of a StoreChunks head (prefix and header) from its first
    :data:`PREFIX_BYTES` bytes, so a server can read the head alone before anything else.

    Raises :class:`MalformedRequest` for a bad prefix and :class:`RequestTooLarge` for a header
    over ``limits``.
    """
    view = memoryview(prefix).cast("B")
    if len(view) != PREFIX_BYTES:
        raise MalformedRequest(f"a StoreChunks prefix is {PREFIX_BYTES} bytes, not {len(view)}")
    return PREFIX_BYTES + _check_prefix(_PREFIX.unpack(view), MAGIC_STORE_CHUNKS, limits)


def store_chunks_head(body: Bytes, limits: WireLimits | None = None) -> memoryview:
    """Return the head of a StoreChunks body: its prefix and header, all before the first chunk.

    The head is what the disperser's signature covers (see :mod:`~operator_node.protocol.auth`).
    Only the prefix is parsed; ``body`` may be the whole body or the head alone. Raises
    :class:`MalformedRequest` for a bad prefix and, given ``limits``, :class:`RequestTooLarge`
    for a body or header over them.
    """
    view, reader = _open(body, MAGIC_STORE_CHUNKS, limits)
    return view[: reader.position + reader.remaining]


def decode_store_chunks(
    body: Bytes, limits: WireLimits, head: StoreChunksHead | None = None
) -> StoreChunksRequest:
    """Parse a StoreChunks body; chunks are memoryview slices of ``body`` (keep it alive).

    ``head``, if given, is :func:`decode_store_chunks_head` of this body's head, which is then
    not parsed again. Raises :class:`RequestTooLarge` for anything over ``limits``,
    :class:`MalformedRequest` for any non-canonical or inconsistent encoding (truncation,
    trailing bytes, lying lengths, bad magic or version, duplicate or unsorted indices), and
    :class:`InvalidBlob` (or :class:`InvalidSecurityParams`) for a header that parses but
    describes no valid blob.
    """
    view, reader = _open(body, MAGIC_STORE_CHUNKS, limits)
    if head is None:
        head = decode_store_chunks_head(body, limits)
    elif head.length != reader.position + reader.remaining:
        raise MalformedRequest("the parsed head given is not this body's")
    sections = head.sections
    chunk_lists = _read_chunks(
        view, head.length, [(s.header, len(s.indices)) for s in sections], fingerprints=True
    )
    blobs = tuple(
        BlobChunks(
            header=s.header,
            indices=s.indices,
            proof=s.proof,
            chunks=chunks,
            fingerprints=z,
            account_signature=s.signature,
        )
        for s, (z, chunks) in zip(sections, chunk_lists, strict=True)
    )
    return StoreChunksRequest(batch_header=head.batch_header, blobs=blobs)


def decode_store_chunks_head(head: Bytes, limits: WireLimits) -> StoreChunksHead:
    """Parse a StoreChunks head alone (or the head of a whole body): the batch header and
    every blob's section, what payments are metered on before the chunks are read.

    Raises like :func:`decode_store_chunks` for anything in the head.
    """
    _, reader = _open(head, MAGIC_STORE_CHUNKS, limits)
    batch_header = _read_batch_header(reader)
    sections = _read_blob_sections(reader, limits)
    reader.expect_end("StoreChunks header")
    return StoreChunksHead(batch_header, tuple(sections), reader.position)


def decode_retrieval_reply(body: Bytes, limits: WireLimits) -> RetrievalReply:
    """Parse a retrieval reply; chunks are memoryview slices of ``body``.

    Raises like :func:`decode_store_chunks`. The proofs are not checked here: call
    :func:`~operator_node.protocol.messages.validate_retrieval_reply`.
    """
    view, reader = _open(body, MAGIC_RETRIEVAL_REPLY, limits)
    batch_header = _read_batch_header(reader)
    blob_index = reader.uint(U32, "blob index")
    header = _read_blob_header(reader)
    depth = reader.uint(U8, "batch proof depth")
    if depth > limits.max_proof_depth:
        raise RequestTooLarge(
            f"batch proof depth {depth} exceeds {limits.max_proof_depth}", limit="max_proof_depth"
        )
    batch_proof = reader.words(depth, "batch proof")
    indices, proof = _read_chunk_set(reader, header, limits, limits.max_chunks)
    reader.expect_end("retrieval reply header")
    ((_, chunks),) = _read_chunks(
        view, reader.position, [(header, len(indices))], fingerprints=False
    )
    blob = BlobChunks(header=header, indices=indices, proof=proof, chunks=chunks)
    return RetrievalReply(batch_header, blob_index, batch_proof, blob)


# --- pieces the node stores ----------------------------------------------------------------------


def encode_batch_header(header: BatchHeader) -> bytes:
    """The wire encoding of a batch header alone (36 bytes)."""
    return _encode_batch_header(header)


def decode_batch_header(data: Bytes) -> BatchHeader:
    """Inverse of :func:`encode_batch_header`; raises :class:`MalformedRequest` on bad input."""
    view = memoryview(data).cast("B")
    reader = Reader(view, 0, len(view))
    header = _read_batch_header(reader)
    reader.expect_end("batch header")
    return header


# The last byte of a stored section: its chunk set holds a multiproof; (3) the trailer holds the
# encoding-validity profile and fingerprint hash after the code; (4) and then the payment.
_RECORD_MULTIPROOF = 2
_RECORD_PROFILE = 3
_RECORD_PAYMENT = 4
_PROFILE_TRAILER = 1 + 1 + 32 + 1
_PAYMENT_TRAILER = _PROFILE_TRAILER + 1
_PAID_TRAILER = _PAYMENT_TRAILER + _PAYMENT.size - 1 + _ACCOUNT_SIGNATURE
# What a stored record's trailer gives back: code, profile, fingerprint hash, payment.
_Stored = tuple[int, int, bytes, Payment | None]


def encode_blob_section(blob: BlobChunks) -> bytes:
    """The stored form of a blob's section: blob header, chunk set, then a trailer.

    The header is laid out as in wire version 1 (no code after n, no payment); the chunk set
    (indices and multiproof) as on the wire; the trailer is the code (u8), the profile (u8), the
    fingerprint hash (32), the payment kind (u8) and, for a paid blob, the payment timestamp
    (u64), the cumulative payment (32) and the account's signature (65), then the mark 4 (u8).
    Records stored by earlier releases still read, as unpaid: mark 3 ends after the fingerprint
    hash; mark 2 after the code (profile 0); the oldest right after a chunk set of one sibling
    path per chunk (depth(n) words each, GF(2^8), profile 0). They are told apart by the bytes
    left after the multiproof the indices call for: 0, 2, 35, 36 (unpaid) or 141 (paid).
    """
    header = _encode_blob_header(blob.header, _RECORD_FIXED)
    payment = _encode_payment(blob.header.payment)
    if blob.header.payment is not None:
        payment += _encode_account_signature(blob)
    trailer = (
        U8.pack(blob.header.code)
        + U8.pack(blob.header.fingerprint)
        + blob.header.fingerprint_hash
        + payment
        + U8.pack(_RECORD_PAYMENT)
    )
    return header + _encode_chunk_set(blob) + trailer


def decode_blob_section(
    data: Bytes, limits: WireLimits | None = None
) -> tuple[BlobHeader, tuple[int, ...], tuple[bytes, ...]]:
    """Inverse of :func:`encode_blob_section`: (blob header, indices, multiproof).

    A record of an earlier release (a sibling path per chunk) comes back with its paths turned
    into the multiproof. Raises :class:`MalformedRequest` (or a subclass) on anything but one
    exact section of any of the forms.
    """
    header, indices, proof, _ = decode_blob_record(data, limits)
    return header, indices, proof


def decode_blob_record(
    data: Bytes, limits: WireLimits | None = None
) -> tuple[BlobHeader, tuple[int, ...], tuple[bytes, ...], bytes]:
    """:func:`decode_blob_section` with the account's signature (empty for an unpaid blob)."""
    limits = limits or WireLimits()
    view = memoryview(data).cast("B")
    n, after_indices, indices = _stored_section_prefix(view, limits)
    depth = tree_depth(n)
    left = len(view) - after_indices
    words = multiproof_size(indices, depth)
    trailer_bytes = left - 32 * words
    signature = b""
    stored: _Stored
    if trailer_bytes in (_PAYMENT_TRAILER, _PAID_TRAILER) and view[-1] == _RECORD_PAYMENT:
        trailer = view[-trailer_bytes:]
        payment = Reader(trailer, 34, trailer_bytes - 1)
        paid = _read_payment(payment)
        if (paid is None) != (trailer_bytes == _PAYMENT_TRAILER):
            raise MalformedRequest("a stored blob section's payment does not fit its length")
        if paid is not None:
            signature = bytes(payment.take(_ACCOUNT_SIGNATURE, "account signature"))
        stored = (trailer[0], trailer[1], bytes(trailer[2:34]), paid)
    elif trailer_bytes == _PROFILE_TRAILER and view[-1] == _RECORD_PROFILE:
        trailer = view[-_PROFILE_TRAILER:]
        stored = (trailer[0], trailer[1], bytes(trailer[2:34]), None)
    elif trailer_bytes == 2 and view[-1] == _RECORD_MULTIPROOF:
        stored = (view[-2], PROFILE_NONE, NO_FINGERPRINT, None)
    elif left == 32 * depth * len(indices):
        stored = (CODE_GF8, PROFILE_NONE, NO_FINGERPRINT, None)
    else:
        raise MalformedRequest(f"a stored blob section has {left} bytes after its indices")
    code = stored[0]
    reader = Reader(view, 0, len(view))
    header = _read_blob_header(reader, stored)
    reader.take(U16.size * (len(indices) + 1), "chunk count and indices")
    # Every trailer is a length that is not a multiple of 32, so only the oldest form gets here.
    if code == CODE_GF8 and left == 32 * depth * len(indices):
        paths = [reader.words(depth, "chunk proof") for _ in indices]
        return header, indices, _multiproof_from_paths(indices, paths, depth), signature
    return header, indices, reader.words(words, "chunk multiproof"), signature


def _stored_section_prefix(
    view: memoryview, limits: WireLimits
) -> tuple[int, int, tuple[int, ...]]:
    """(n, the offset after the chunk indices, the indices) of a stored section."""
    reader = Reader(view, 0, len(view))
    fields = reader.unpack(_RECORD_FIXED, "blob header")
    n, quorum_count = fields[3], fields[5]
    if n < 1:
        raise MalformedRequest("a stored blob section has n = 0")
    if tree_depth(n) > limits.max_proof_depth:
        raise RequestTooLarge(
            f"proof depth {tree_depth(n)} exceeds {limits.max_proof_depth}",
            limit="max_proof_depth",
        )
    reader.take(_QUORUM.size * quorum_count + _ADDRESS, "blob quorums and account")
    count = reader.uint(U16, "chunk count")
    indices = struct.unpack(f">{count}H", reader.take(U16.size * count, "chunk indices"))
    validate_chunk_index_order(indices, n)
    return n, reader.position, indices


def _multiproof_from_paths(
    indices: Sequence[int], paths: Sequence[Sequence[bytes]], depth: int
) -> tuple[bytes, ...]:
    """The multiproof of chunks whose sibling paths are ``paths``: every word it needs lies on
    some chunk's path."""
    nodes = {
        (level, (index >> level) ^ 1): path[level]
        for index, path in zip(indices, paths, strict=True)
        for level in range(depth)
    }
    return tuple(nodes[position] for position in multiproof_positions(indices, depth))
