"""Codec behaviour on every backend this machine has: reedsolo's code, round trips, layout."""

from __future__ import annotations

import array
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from erasure.erasure_support import (
    ALL_BACKENDS,
    NATIVE_BACKENDS,
    assert_columns_match_reedsolo,
    padded,
    sample_columns,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from operator_node.erasure import Codec, cached_codec, chunk_length

# reedsolo computes one codeword per byte column in pure Python: keep its shapes small.
SMALL = {"max_k": 8, "max_n": 16, "max_len": 600}
LARGE = {"max_k": 64, "max_n": 255, "max_len": 4096}


@st.composite
def shapes(draw: st.DrawFn, backend: str) -> tuple[int, int, bytes]:
    """Draw (k, n, blob) sized for the backend."""
    limits = SMALL if backend == "reedsolo" else LARGE
    k = draw(st.integers(1, limits["max_k"]))
    n = draw(st.integers(k + 1, limits["max_n"]))
    blob = draw(st.binary(min_size=1, max_size=limits["max_len"]))
    return k, n, blob


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@_settings(20)
@given(data=st.data())
def test_codec_columns_are_reedsolo_codewords(backend: str, data: st.DataObject) -> None:
    k, n, blob = data.draw(shapes(backend))
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    codec = Codec(k, n, backend)
    chunks = codec.encode(blob)
    length = chunk_length(len(blob), k)
    assert len(chunks) == n
    assert all(len(c) == length for c in chunks)
    data_rows = b"".join(chunks[:k])
    assert data_rows == padded(blob, k, length)
    assert_columns_match_reedsolo(codec, chunks, sample_columns(length, rng))


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@_settings(20)
@given(data=st.data())
def test_codec_decode_from_any_k_chunks(backend: str, data: st.DataObject) -> None:
    k, n, blob = data.draw(shapes(backend))
    codec = Codec(k, n, backend)
    chunks = codec.encode(blob)
    subset = data.draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k, unique=True))
    assert codec.decode({i: chunks[i] for i in subset}, len(blob)) == blob
    if n - k >= k:  # the worst case: no data chunk at all
        parity = range(n - k, n)[:k] if data.draw(st.booleans()) else range(k, 2 * k)
        assert codec.decode({i: chunks[i] for i in parity}, len(blob)) == blob


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@_settings(20)
@given(data=st.data())
def test_codec_reconstruct_returns_exact_missing_rows(backend: str, data: st.DataObject) -> None:
    k, n, blob = data.draw(shapes(backend))
    codec = Codec(k, n, backend)
    chunks = codec.encode(blob)
    order = data.draw(st.permutations(range(n)))
    present, missing = order[:k], order[k:]
    want = data.draw(st.lists(st.sampled_from(order), unique=True, max_size=n))
    rebuilt = codec.reconstruct({i: chunks[i] for i in present}, want)
    assert list(rebuilt) == want
    assert all(bytes(rebuilt[w]) == bytes(chunks[w]) for w in want)
    everything = codec.reconstruct({i: chunks[i] for i in present}, missing)
    assert all(bytes(everything[w]) == bytes(chunks[w]) for w in missing)


@_settings(15)
@given(data=st.data())
def test_codec_every_backend_returns_identical_bytes(data: st.DataObject) -> None:
    k, n, blob = data.draw(shapes("reedsolo"))
    subset = data.draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k, unique=True))
    want = [i for i in range(n) if i not in subset]
    results = []
    for backend in ALL_BACKENDS:
        codec = Codec(k, n, backend)
        chunks = codec.encode(blob)
        rebuilt = codec.reconstruct({i: chunks[i] for i in subset}, want)
        decoded = codec.decode({i: chunks[i] for i in subset}, len(blob))
        results.append(([bytes(c) for c in chunks], {w: bytes(c) for w, c in rebuilt.items()}))
        assert decoded == blob
    assert all(r == results[0] for r in results[1:])


@pytest.mark.parametrize("backend", NATIVE_BACKENDS)
def test_codec_large_shape_32_of_96_with_64k_chunks(backend: str) -> None:
    rng = random.Random(32)
    blob = rng.randbytes(32 * 65536 - 1000)
    codec = Codec(32, 96, backend)
    chunks = codec.encode(blob)
    assert len(chunks[0]) == 65536
    assert_columns_match_reedsolo(codec, chunks, sample_columns(65536, rng, 8))
    assert codec.decode({i: chunks[i] for i in range(64, 96)}, len(blob)) == blob
    subset = rng.sample(range(96), 32)
    assert codec.decode({i: chunks[i] for i in subset}, len(blob)) == blob
    missing = [i for i in range(96) if i not in subset][:20]
    rebuilt = codec.reconstruct({i: chunks[i] for i in subset}, missing)
    assert all(rebuilt[i] == chunks[i] for i in missing)


@pytest.mark.parametrize("backend", NATIVE_BACKENDS)
def test_codec_large_shape_64_of_255(backend: str) -> None:
    rng = random.Random(64)
    blob = rng.randbytes(64 * 4096 + 77)
    codec = Codec(64, 255, backend)
    chunks = codec.encode(blob)
    assert_columns_match_reedsolo(codec, chunks, sample_columns(len(chunks[0]), rng, 4))
    for subset in (range(191, 255), rng.sample(range(255), 64)):
        assert codec.decode({i: chunks[i] for i in subset}, len(blob)) == blob


def test_codec_large_shapes_agree_across_native_backends() -> None:
    blob = random.Random(7).randbytes(16 * 8192)
    outputs = {b: [bytes(c) for c in Codec(16, 48, b).encode(blob)] for b in NATIVE_BACKENDS}
    first = outputs[NATIVE_BACKENDS[0]]
    assert all(o == first for o in outputs.values())


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_codec_encode_accepts_any_buffer_without_copying(backend: str) -> None:
    codec = Codec(4, 6, backend)
    blob = bytearray(random.Random(1).randbytes(1000))
    chunks = codec.encode(blob)
    expected = [bytes(c) for c in chunks]
    words = array.array("I", bytes(blob))  # a non-byte format, 4-byte items
    assert [bytes(c) for c in codec.encode(words)] == expected
    assert [bytes(c) for c in codec.encode(memoryview(bytes(blob)))] == expected
    assert all(c.readonly for c in chunks)
    if backend != "reedsolo":
        # Data chunks that lie wholly inside the blob are views of it.
        assert chunks[0].obj is blob
        assert chunks[2].obj is blob


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_codec_decode_uses_lowest_indices_and_ignores_extra_chunks(backend: str) -> None:
    codec = Codec(3, 7, backend)
    blob = b"reedsolo-compatible" * 11
    chunks = codec.encode(blob)
    given_chunks = {i: bytes(chunks[i]) for i in range(7)}
    given_chunks[6] = bytes(len(chunks[6]))  # beyond the first k: never read
    assert codec.decode(given_chunks, len(blob)) == blob
    assert isinstance(codec.decode(given_chunks, len(blob)), bytes)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_codec_decode_with_a_shorter_length_returns_a_prefix(backend: str) -> None:
    codec = Codec(4, 8, backend)
    blob = bytes(range(256)) * 2
    chunks = codec.encode(blob)
    present = {i: chunks[i] for i in (1, 4, 6, 7)}
    assert codec.decode(present, 100) == blob[:100]
    assert codec.decode(present, 4 * 128) == blob


@pytest.mark.parametrize("backend", NATIVE_BACKENDS)
def test_codec_is_safe_to_share_between_threads(backend: str) -> None:
    codec = Codec(8, 24, backend)
    rng = random.Random(3)
    blobs = [rng.randbytes(8 * 4096 - i) for i in range(16)]
    subsets = [rng.sample(range(24), 8) for _ in blobs]

    def roundtrip(i: int) -> bool:
        chunks = codec.encode(blobs[i])
        return codec.decode({j: chunks[j] for j in subsets[i]}, len(blobs[i])) == blobs[i]

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(roundtrip, range(len(blobs))))


def test_codec_decode_matrix_cache_is_bounded() -> None:
    codec = Codec(2, 40, NATIVE_BACKENDS[0])
    chunks = codec.encode(b"x" * 200)
    pairs = [(a, b) for a in range(2, 40) for b in range(a + 1, 40)][:100]
    for a, b in pairs:
        assert codec.decode({a: chunks[a], b: chunks[b]}, 200) == b"x" * 200
    assert 0 < len(codec._impl._plans) <= 64  # type: ignore[attr-defined]


def test_chunk_length_rounds_up_to_64() -> None:
    assert chunk_length(1, 1) == 64
    assert chunk_length(64, 1) == 64
    assert chunk_length(65, 1) == 128
    assert chunk_length(2 * 1024 * 1024, 32) == 65536
    assert chunk_length(2 * 1024 * 1024 + 1, 32) == 65536 + 64
    assert chunk_length(100, 3) == 64
    assert Codec(10, 20, "scalar" if "scalar" in ALL_BACKENDS else "reedsolo").chunk_length(
        641
    ) == chunk_length(641, 10)


def test_cached_codec_is_built_once_per_shape() -> None:
    first = cached_codec(10, 30)
    assert cached_codec(10, 30) is first
    assert cached_codec(10, 31) is not first
    assert (first.k, first.n) == (10, 30)
    reference = cached_codec(10, 30, "reedsolo")
    assert reference is not first
    assert reference is cached_codec(10, 30, "reedsolo")
    assert reference.backend == "reedsolo"
