"""The AVS's dispersal limits: the blob checks, and the largest request they can make a node get."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from operator_node.client.batch import EncodedBlob, prepare_batch
from operator_node.config import load_config
from operator_node.errors import ConfigError
from operator_node.protocol.assignment import compute_min_chunk_count
from operator_node.protocol.coding import (
    DEFAULT_MAX_OVERHEAD,
    ExcessiveOverhead,
    UnsupportedCoding,
    check_coding,
    compute_chunk_length,
)
from operator_node.protocol.headers import CODE_GF8, CODE_GF16, QuorumParams
from operator_node.protocol.limits import (
    BlobTooLarge,
    MarginTooSmall,
    QuorumShare,
    check_blob_limits,
    largest_share,
    smallest_request_limit,
)
from operator_node.protocol.wire import encode_store_chunks

QUORUM = QuorumParams(0, 30, 50)  # a 20% margin, the default smallest
STAKES = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89]  # the largest holds 38% of the stake
BLOB = 48 * 1024


def _states() -> dict[int, list[tuple[bytes, int]]]:
    return {0: sorted((bytes([i + 1]) * 32, stake) for i, stake in enumerate(STAKES))}


def _real_requests(k: int) -> dict[bytes, int] | None:
    """Each operator's StoreChunks body length for a max-size blob at this k, or None where the
    node would refuse the shape (unassignable within 65,535 chunks, a shape the code lacks, or
    over the overhead bound)."""
    n = compute_min_chunk_count(k, [QUORUM], _states())
    length = compute_chunk_length(BLOB, k)
    code = CODE_GF8 if n <= 255 else CODE_GF16
    if n > 65535:
        return None
    try:
        check_coding(code, k, n, length, BLOB, [QUORUM], max_overhead=DEFAULT_MAX_OVERHEAD)
    except (ExcessiveOverhead, UnsupportedCoding):
        return None
    rng = random.Random(k)
    chunks = [rng.randbytes(length) for _ in range(n)]
    blob = EncodedBlob.from_chunks(
        chunks, data_length=BLOB, k=k, quorums=[QUORUM], account=b"\xaa" * 20, code=code
    )
    batch = prepare_batch([blob], _states(), 100)
    return {
        op: sum(len(part) for part in encode_store_chunks(request))
        for op, request in batch.requests.items()
    }


def test_largest_share_bounds_every_real_request_and_is_reached() -> None:
    total = sum(STAKES)
    shares = {
        op: largest_share(
            [QuorumShare(0, stake, total)],
            max_blob_size=BLOB,
            min_margin=QUORUM.margin_percent,
            max_overhead=DEFAULT_MAX_OVERHEAD,
        )
        for op, stake in _states()[0]
    }
    ks = sorted({*range(1, 33), 48, 64, 100, 256, 700, 1000, *(s.k for s in shares.values())})
    largest: dict[bytes, int] = {}
    for k in ks:
        requests = _real_requests(k)
        if requests is None:
            continue
        for op, size in requests.items():
            assert size <= shares[op].request_bytes, (k, op.hex()[:4])
            largest[op] = max(largest.get(op, 0), size)
    heaviest_id = bytes([len(STAKES)]) * 32
    heaviest = shares[heaviest_id]
    # For the heaviest operator the worst shape is real: its chunk bytes are sent.
    assert largest[heaviest_id] >= heaviest.chunks * heaviest.chunk_length
    for op, share in shares.items():
        # For every operator the bound is close to the largest real request (a shape it counts
        # may be one the codes cannot make).
        assert share.request_bytes <= 1.25 * largest[op], op.hex()[:4]


def test_a_smaller_margin_or_a_larger_blob_makes_a_larger_share() -> None:
    share = [QuorumShare(0, 40, 100)]
    at_20 = largest_share(share, max_blob_size=16 << 20, min_margin=20)
    at_10 = largest_share(share, max_blob_size=16 << 20, min_margin=10)
    larger = largest_share(share, max_blob_size=32 << 20, min_margin=20)
    # 40% of the stake at a 20% margin: about twice the blob (a small operator: the blob itself).
    assert 2.0 < at_20.request_bytes / (16 << 20) < 2.2
    small = largest_share([QuorumShare(0, 1, 100)], max_blob_size=16 << 20, min_margin=20)
    assert (small.k, small.chunks, small.chunk_length) == (1, 1, 16 << 20)
    assert at_20.request_bytes < at_10.request_bytes
    assert at_20.request_bytes < larger.request_bytes
    # Two quorums: the union of two ranges.
    both = largest_share([*share, QuorumShare(1, 40, 100)], max_blob_size=16 << 20, min_margin=20)
    assert both.request_bytes > at_20.request_bytes


def test_blob_limits_refuse_size_and_margin_with_the_figures() -> None:
    check_blob_limits(1000, [QUORUM], max_blob_size=1000, min_margin=20)
    with pytest.raises(BlobTooLarge, match=r"holds 1001 bytes.*\(1000 bytes"):
        check_blob_limits(1001, [QUORUM], max_blob_size=1000, min_margin=20)
    with pytest.raises(MarginTooSmall, match=r"quorum 0: .* = 20% is below .* \(21%"):
        check_blob_limits(1000, [QUORUM], max_blob_size=1000, min_margin=21)


@pytest.mark.parametrize("quorums", [[0], [0, 1, 2]])
def test_config_requires_a_request_limit_that_holds_a_whole_max_size_blob(
    tmp_path: Path, quorums: list[int]
) -> None:
    need = smallest_request_limit(4 << 20, len(quorums))

    def write(limit: int) -> Path:
        path = tmp_path / f"node-{limit}.toml"
        path.write_text(
            f"[limits]\nmax_request_bytes = {limit}\n"
            f"[dispersal]\nmax_blob_size = {4 << 20}\n"
            f"[chain]\nquorums = {quorums}\n"
        )
        return path

    assert load_config(write(need)).limits.max_request_bytes == need
    with pytest.raises(ConfigError, match=rf"needs at least {need}; raise the first"):
        load_config(write(need - 1))
