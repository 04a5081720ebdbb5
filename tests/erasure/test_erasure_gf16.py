"""The GF(2^16) code against its oracle, the `reed-solomon-leopard` package (reed-solomon-simd 3).

Every kernel this machine has must give the oracle's recovery chunks bit for bit, decode the
oracle's chunks, and have its own chunks decoded by the oracle, at both of reed-solomon-simd's
layouts (high rate, low rate) and at the edges of the field (65,535 chunks).
"""

from __future__ import annotations

import random

import pytest
import reed_solomon_leopard as oracle
from erasure.erasure_support import padded
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from operator_node.erasure import (
    MAX_CHUNKS,
    ChunkLengthError,
    Codec,
    CodecParameterError,
    DuplicateIndexError,
    NotEnoughChunksError,
    _gf16,
    chunk_length,
)

# Backend names whose kernels this machine has; "reedsolo" means the scalar kernel for GF(2^16).
KERNELS = _gf16.kernels()
BACKENDS = tuple(
    name
    for name, impls in (
        ("gfni", ("gfni512", "gfni256")),
        ("avx2", ("avx2",)),
        ("ssse3", ("ssse3",)),
        ("scalar", ("scalar",)),
    )
    if any(i in KERNELS for i in impls)
)

# (k, n): low rate, high rate, equal chunk sizes both ways, non-powers of two, one original.
SHAPES = [
    (1, 2),
    (1, 9),
    (3, 8),
    (5, 8),
    (32, 96),
    (33, 97),
    (64, 97),
    (100, 150),
    (7, 307),
    (300, 307),
    (255, 510),
]


def _blob(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size)


def _rows(chunks: list[memoryview], k: int) -> list[bytes]:
    return [bytes(c) for c in chunks[:k]]


def test_kernels_include_scalar_and_name_the_best_first() -> None:
    assert KERNELS[-1] == "scalar"
    assert len(set(KERNELS)) == len(KERNELS)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("k", "n"), SHAPES)
def test_parity_is_the_oracles_bit_for_bit(backend: str, k: int, n: int) -> None:
    rng = random.Random(k * 1000 + n)
    blob = _blob(rng, k * 128 - 5)  # a padded last row
    codec = Codec(k, n, backend, field=16)
    chunks = codec.encode(blob)
    length = chunk_length(len(blob), k, 16)
    assert len(chunks) == n and all(len(c) == length for c in chunks)
    assert b"".join(chunks[:k]) == padded(blob, k, length)
    expected = oracle.encode(_rows(chunks, k), n - k)
    assert [bytes(c) for c in chunks[k:]] == list(expected)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("k", "n"), SHAPES)
def test_each_decodes_the_others_chunks(backend: str, k: int, n: int) -> None:
    rng = random.Random(n * 7 + k)
    blob = _blob(rng, k * 64 * 3)
    codec = Codec(k, n, backend, field=16)
    ours = codec.encode(blob)
    theirs = list(oracle.encode(_rows(ours, k), n - k))
    # Keep k chunks with as few originals as the shape allows.
    keep = sorted(rng.sample(range(k, n), min(k, n - k)))
    keep += sorted(rng.sample(range(k), k - len(keep)))
    # Ours decodes the oracle's parity ...
    given = {i: (theirs[i - k] if i >= k else ours[i]) for i in keep}
    assert codec.decode(given, len(blob)) == blob
    # ... and the oracle decodes ours.
    originals = {i: bytes(ours[i]) for i in keep if i < k}
    recovery = {i - k: bytes(ours[i]) for i in keep if i >= k}
    restored = oracle.decode(k, n - k, originals, recovery)
    rebuilt = [originals[i] if i in originals else restored[i] for i in range(k)]
    assert b"".join(rebuilt)[: len(blob)] == blob


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_erasure_pattern_decodes_on_every_kernel(data: st.DataObject) -> None:
    k = data.draw(st.integers(1, 80), label="k")
    n = data.draw(st.integers(k + 1, 200), label="n")
    size = data.draw(st.integers(1, k * 192), label="size")
    seed = data.draw(st.integers(0, 2**32), label="seed")
    rng = random.Random(seed)
    blob = _blob(rng, size)
    keep = rng.sample(range(n), data.draw(st.integers(k, n), label="kept"))
    results = set()
    for backend in BACKENDS:
        codec = Codec(k, n, backend, field=16)
        chunks = codec.encode(blob)
        assert codec.decode({i: chunks[i] for i in keep}, size) == blob
        results.add(b"".join(chunks))
    assert len(results) == 1  # every kernel gives the same chunks


@pytest.mark.parametrize(("k", "n"), [(1024, 8192), (2048, 16384), (1, 65535), (32768, 65535)])
def test_largest_shapes_match_the_oracle(k: int, n: int) -> None:
    """Thousands of chunks, and the field's edges: 65,535 chunks at both rates."""
    rng = random.Random(n - k)
    blob = _blob(rng, k * 64)
    codec = Codec(k, n, field=16)
    chunks = codec.encode(blob)
    assert [bytes(c) for c in chunks[k:]] == list(oracle.encode(_rows(chunks, k), n - k))
    keep = rng.sample(range(n), k)
    assert codec.decode({i: chunks[i] for i in keep}, len(blob)) == blob


@pytest.mark.parametrize("backend", BACKENDS)
def test_reconstruct_rebuilds_data_and_parity_chunks(backend: str) -> None:
    rng = random.Random(5)
    k, n = 40, 130
    codec = Codec(k, n, backend, field=16)
    chunks = codec.encode(_blob(rng, k * 256))
    present = {i: chunks[i] for i in rng.sample(range(n), k)}
    want = [i for i in (0, 3, 39, 40, 77, 129) if i not in present]
    rebuilt = codec.reconstruct(present, want)
    assert {i: bytes(v) for i, v in rebuilt.items()} == {i: bytes(chunks[i]) for i in want}


def test_shapes_the_field_cannot_hold_are_refused() -> None:
    assert MAX_CHUNKS[16] == 65535
    with pytest.raises(CodecParameterError, match="65535"):
        Codec(10, 65536, field=16)
    with pytest.raises(CodecParameterError, match="no code with k=40000"):
        Codec(40000, 65535, field=16)  # 32768 + 40000 > 65536: reed-solomon-simd has no such code
    with pytest.raises(CodecParameterError, match="field must be 8 or 16"):
        Codec(2, 4, field=12)
    with pytest.raises(CodecParameterError, match="n <= 255"):
        Codec(2, 256)  # GF(2^8) keeps its limit


def test_bad_chunk_sets_are_refused_before_any_arithmetic() -> None:
    codec = Codec(4, 12, field=16)
    chunks = codec.encode(bytes(range(200)))
    with pytest.raises(NotEnoughChunksError):
        codec.decode({i: chunks[i] for i in range(3)}, 200)
    with pytest.raises(ChunkLengthError):
        codec.decode({0: chunks[0], 1: chunks[1], 5: chunks[5], 6: bytes(63)}, 200)
    with pytest.raises(DuplicateIndexError):
        codec.reconstruct({i: chunks[i] for i in range(4)}, [5, 5])


def test_the_extension_refuses_what_the_codec_would_have_caught() -> None:
    """The C entry points check their own inputs: a caller that skips the codec gets errors."""
    shard = bytes(64)
    with pytest.raises(ValueError, match="unknown kernel"):
        _gf16.encode("nope", [shard], 1)
    with pytest.raises(ValueError, match="multiple of 64"):
        _gf16.encode("scalar", [bytes(63)], 1)
    with pytest.raises(ValueError, match="one length"):
        _gf16.encode("scalar", [shard, bytes(128)], 1)
    with pytest.raises(ValueError, match="unsupported shard counts"):
        _gf16.encode("scalar", [shard] * 3, 0)
    with pytest.raises(ValueError, match="out of range or repeated"):
        _gf16.decode("scalar", 2, 2, [1, 1], [shard, shard])
    with pytest.raises(ValueError, match="out of range or repeated"):
        _gf16.decode("scalar", 2, 2, [0, 4], [shard, shard])
    with pytest.raises(ValueError, match="need 2 shards"):
        _gf16.decode("scalar", 2, 2, [3], [shard])
    with pytest.raises(TypeError):
        _gf16.decode("scalar", 2, 2, [0, "1"], [shard, shard])  # type: ignore[list-item]
