"""The AVS's dispersal limits, and the largest request they can make a node receive.

Two parameters of the AVS bound what a disperser may send: the largest blob (``max_blob_size``,
data bytes) and the smallest margin (``min_margin``, confirmation - adversary in percent, i.e.
100·gamma). Nodes refuse blobs outside them (422) and the disperser refuses to send them, so the
largest StoreChunks request a node can be sent for one blob is known in advance from its stake:

    operator i holds m_q(k) = ceil(k·100·S_i / (margin·S_q)) chunks in quorum q, each
    L(k, D) = compute_chunk_length(D, k) bytes long; its share of a blob is the union of its
    ranges, at most min(Σ_q m_q(k), n) chunks.

L grows with D and m does not depend on D, so for every k the share of a max-size blob bounds the
share of any smaller one; the largest share is the maximum over k of that, which
:func:`largest_share` computes exactly (a smaller margin only gives more chunks, so min_margin is
the worst case). It is also capped by the node's own overhead bound, n·L ≤ max_overhead·(100 /
margin)·max(D, 128 KiB). Even the smallest operator can be sent a whole blob: with k = 1 its one
chunk is the blob, so every node must hold at least ``max_blob_size`` plus its header.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from operator_node.protocol.coding import COUNTED_FLOOR, compute_chunk_length
from operator_node.protocol.errors import InvalidBlob
from operator_node.protocol.headers import (
    CODE_GF8,
    FINGERPRINT_ROW,
    MAX_CHUNKS_BY_CODE,
    QuorumParams,
)

MiB = 1 << 20
DEFAULT_MAX_BLOB_SIZE = 16 * MiB  # EigenDA's largest blob
# The protocol accepts margins down to 10%; EigenDA's quorums run at adversary 33%, confirmation
# 55% (22%). A smaller margin makes every operator hold more: the AVS sets how small it goes.
DEFAULT_MIN_MARGIN = 20
PROTOCOL_MIN_MARGIN = 10
# Every chunk index the wire can carry (GF(2^16)); k < n, so k is at most this minus one.
_MAX_CHUNKS = max(MAX_CHUNKS_BY_CODE.values())
# The parts of one blob's request that are not chunk data, beyond the indices and the proof:
# prefix, batch header, blob header with its quorums and account, disperser signature.
_FIXED_HEADER_BYTES = 512


class BlobTooLarge(InvalidBlob):
    """A blob holds more data than the AVS's largest blob, ``max_blob_size`` (422)."""

    code = "blob_too_large"


class MarginTooSmall(InvalidBlob):
    """A blob's quorum has confirmation - adversary below the AVS's ``min_margin`` (422): it would
    make every operator hold more of the blob than the AVS's parameters allow for."""

    code = "margin_too_small"


def check_blob_limits(
    data_length: int, quorums: Sequence[QuorumParams], *, max_blob_size: int, min_margin: int
) -> None:
    """Raise :class:`BlobTooLarge` or :class:`MarginTooSmall` for a blob outside the limits."""
    if data_length > max_blob_size:
        raise BlobTooLarge(
            f"the blob holds {data_length} bytes, more than this AVS's largest blob "
            f"({max_blob_size} bytes, dispersal.max_blob_size)"
        )
    for quorum in quorums:
        if quorum.margin_percent < min_margin:
            raise MarginTooSmall(
                f"quorum {quorum.quorum_number}: confirmation {quorum.confirmation_threshold}% - "
                f"adversary {quorum.adversary_threshold}% = {quorum.margin_percent}% is below "
                f"this AVS's smallest margin ({min_margin}%, dispersal.min_margin)"
            )


@dataclass(frozen=True)
class QuorumShare:
    """An operator's stake in one quorum and that quorum's total stake."""

    quorum: int
    stake: int
    total: int


@dataclass(frozen=True)
class Share:
    """The largest request one max-size blob can make an operator receive, and its shape."""

    request_bytes: int
    chunks: int
    chunk_length: int
    k: int


def request_header_bytes(chunks: int, quorums: int, k: int = 1) -> int:
    """An upper bound on the non-chunk bytes of a one-blob request carrying ``chunks`` chunks of
    a blob with ``k`` data chunks.

    Two bytes per chunk index, and for each quorum's contiguous range a multiproof of at most two
    words per tree level (16 levels for 65,536 leaves), the fingerprint rows of a GF(2^8) blob
    (64·k bytes), plus the fixed parts.
    """
    depth = math.ceil(math.log2(_MAX_CHUNKS))
    rows = FINGERPRINT_ROW * k if k < MAX_CHUNKS_BY_CODE[CODE_GF8] else 0
    return _FIXED_HEADER_BYTES + 2 * chunks + rows + quorums * 2 * depth * 32


def largest_share(
    shares: Sequence[QuorumShare],
    *,
    max_blob_size: int,
    min_margin: int,
    max_overhead: float = math.inf,
) -> Share:
    """The largest one-blob StoreChunks request an operator with ``shares`` can be sent.

    ``shares`` are the operator's quorums (a blob may name any of them; the worst case names all).
    Every k the wire allows is tried, each with the smallest margin that lets that k be assigned
    (the smaller the margin, the more chunks): an upper bound, with the header allowance of
    :func:`request_header_bytes`. For a heavy operator the worst shape is a real one (k = 1, or
    a k where its ceiling rounds up most); for a light one it may be a shape the codes cannot
    make, so the bound can exceed its real largest request by a few percent.
    """
    data = max_blob_size
    counted = max(data, COUNTED_FLOOR)
    best = Share(request_header_bytes(1, len(shares)) + data, 1, data, 1)
    for k in range(1, _MAX_CHUNKS):
        # All operators together hold at least k·100/margin chunks, which must fit in n: a k this
        # large needs at least this margin, and with a larger margin each operator holds fewer.
        margin = max(min_margin, -(-100 * k // _MAX_CHUNKS))
        length = compute_chunk_length(data, k)
        # The node refuses n·L over its overhead bound, and n is at least k·100/margin.
        cap = max_overhead * 100 * counted / margin
        if -(-100 * k // margin) * length > cap:
            continue
        chunks = sum(-(-(k * 100 * s.stake) // (margin * s.total)) for s in shares if s.total > 0)
        chunks = max(1, min(chunks, _MAX_CHUNKS))
        size = int(min(chunks * length, cap)) + request_header_bytes(chunks, len(shares), k)
        if size > best.request_bytes:
            best = Share(size, chunks, length, k)
    return best


def smallest_request_limit(max_blob_size: int, quorums: int = 1) -> int:
    """The least ``max_request_bytes`` any node needs: one chunk of a k = 1 blob is the blob."""
    return max_blob_size + request_header_bytes(1, quorums)
