"""Bad input: each case raises its own error with a clear message and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from erasure.erasure_support import ALL_BACKENDS

from operator_node.erasure import (
    BlobLengthError,
    ChunkIndexError,
    ChunkLengthError,
    ChunkTypeError,
    Codec,
    CodecParameterError,
    DuplicateIndexError,
    ErasureError,
    NotEnoughChunksError,
    chunk_length,
)
from operator_node.errors import OperatorNodeError

BLOB = bytes(range(256)) + b"tail"  # 260 bytes: with k=3, n=6 the chunks are 128 bytes


class SameIndex:
    """An integer-like key equal to an index but distinct from it as a dict key."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


class Pairs(Mapping[Any, Any]):
    """A Mapping over explicit pairs, so two keys can name the same chunk index."""

    def __init__(self, pairs: list[tuple[Any, Any]]) -> None:
        self._pairs = pairs

    def __getitem__(self, key: Any) -> Any:
        return next(v for k, v in self._pairs if k is key)

    def __iter__(self) -> Iterator[Any]:
        return iter(k for k, _ in self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)


@pytest.fixture(params=ALL_BACKENDS)
def codec(request: pytest.FixtureRequest) -> Codec:
    return Codec(3, 6, request.param)


@pytest.fixture
def chunks(codec: Codec) -> dict[int, bytearray]:
    return {i: bytearray(c) for i, c in enumerate(codec.encode(BLOB))}


def assert_unchanged_and_usable(codec: Codec, chunks: dict[int, bytearray]) -> None:
    """The failed call left the inputs as they were, and the codec still works."""
    assert [bytes(c) for c in chunks.values()] == [bytes(c) for c in codec.encode(BLOB)]
    assert codec.decode({i: chunks[i] for i in (0, 4, 5)}, len(BLOB)) == BLOB


@pytest.mark.parametrize(
    ("k", "n"),
    [
        (0, 1),
        (-1, 3),
        (3, 3),
        (4, 3),
        (1, 256),
        (200, 300),
        (1.0, 2),
        ("3", 6),
        (True, 3),
        (2, None),
    ],
)
def test_codec_rejects_bad_parameters(k: Any, n: Any) -> None:
    with pytest.raises(CodecParameterError) as info:
        Codec(k, n)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, ErasureError)
    assert isinstance(info.value, OperatorNodeError)


def test_codec_rejects_unknown_backend() -> None:
    with pytest.raises(CodecParameterError, match="unknown erasure backend 'avx9000'"):
        Codec(3, 6, "avx9000")
    with pytest.raises(CodecParameterError, match="backend must be a str"):
        Codec(3, 6, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("blob", ["text", 42, None, [1, 2, 3], 3.5])
def test_codec_encode_rejects_non_bytes(codec: Codec, blob: Any) -> None:
    with pytest.raises(ChunkTypeError, match="blob must be bytes-like") as info:
        codec.encode(blob)
    assert isinstance(info.value, TypeError)


def test_codec_encode_rejects_empty_and_strided_blobs(codec: Codec) -> None:
    with pytest.raises(BlobLengthError, match="at least 1 byte"):
        codec.encode(b"")
    with pytest.raises(ChunkTypeError, match="contiguous"):
        codec.encode(memoryview(BLOB)[::2])


def test_codec_decode_rejects_fewer_than_k(codec: Codec, chunks: dict[int, bytearray]) -> None:
    with pytest.raises(NotEnoughChunksError, match="need at least k=3 chunks, got 2"):
        codec.decode({0: chunks[0], 5: chunks[5]}, len(BLOB))
    with pytest.raises(NotEnoughChunksError):
        codec.decode({}, len(BLOB))
    assert_unchanged_and_usable(codec, chunks)


@pytest.mark.parametrize("index", [6, 7, 255, -1, -6])
def test_codec_decode_rejects_index_out_of_range(
    codec: Codec, chunks: dict[int, bytearray], index: int
) -> None:
    given = {0: chunks[0], 1: chunks[1], index: chunks[2]}
    with pytest.raises(ChunkIndexError, match=rf"chunk index must be in 0\.\.5, got {index}"):
        codec.decode(given, len(BLOB))
    assert_unchanged_and_usable(codec, chunks)


@pytest.mark.parametrize("key", ["2", 2.0, None, b"\x02"])
def test_codec_decode_rejects_non_integer_index(
    codec: Codec, chunks: dict[int, bytearray], key: Any
) -> None:
    with pytest.raises(ChunkTypeError, match="chunk index must be an int"):
        codec.decode({0: chunks[0], 1: chunks[1], key: chunks[2]}, len(BLOB))


def test_codec_decode_rejects_duplicate_indices(codec: Codec, chunks: dict[int, bytearray]) -> None:
    given = Pairs([(0, chunks[0]), (4, chunks[4]), (SameIndex(4), chunks[4]), (5, chunks[5])])
    with pytest.raises(DuplicateIndexError, match="same chunk index"):
        codec.decode(given, len(BLOB))
    assert_unchanged_and_usable(codec, chunks)


def test_codec_decode_rejects_unequal_lengths(codec: Codec, chunks: dict[int, bytearray]) -> None:
    given: dict[int, bytes] = {0: bytes(chunks[0]), 1: bytes(chunks[1]), 2: bytes(chunks[2])}
    given[1] = given[1] + bytes(64)
    with pytest.raises(ChunkLengthError, match=r"differ in length: \[128, 192\]"):
        codec.decode(given, len(BLOB))
    assert_unchanged_and_usable(codec, chunks)


@pytest.mark.parametrize("length", [0, 1, 63, 100, 129])
def test_codec_decode_rejects_wrong_chunk_length(codec: Codec, length: int) -> None:
    given = {i: bytes(length) for i in range(3)}
    with pytest.raises(ChunkLengthError, match="positive multiple of 64"):
        codec.decode(given, 1)


@pytest.mark.parametrize("length", [3 * 128 + 1, 10**9, 0, -5])
def test_codec_decode_rejects_bad_length(
    codec: Codec, chunks: dict[int, bytearray], length: int
) -> None:
    with pytest.raises(BlobLengthError, match=r"length must be in 1\.\.384"):
        codec.decode({i: chunks[i] for i in (1, 2, 3)}, length)
    assert_unchanged_and_usable(codec, chunks)


@pytest.mark.parametrize("length", ["260", 260.0, None])
def test_codec_decode_rejects_non_integer_length(
    codec: Codec, chunks: dict[int, bytearray], length: Any
) -> None:
    with pytest.raises(ChunkTypeError, match="length must be an int"):
        codec.decode({i: chunks[i] for i in (1, 2, 3)}, length)


@pytest.mark.parametrize("bad", ["x" * 128, 7, None, [0] * 128])
def test_codec_decode_rejects_non_bytes_chunk(
    codec: Codec, chunks: dict[int, bytearray], bad: Any
) -> None:
    with pytest.raises(ChunkTypeError, match="chunk 2 must be bytes-like"):
        codec.decode({0: chunks[0], 1: chunks[1], 2: bad}, len(BLOB))
    assert_unchanged_and_usable(codec, chunks)


@pytest.mark.parametrize("given", [[b"a" * 64] * 3, None, "chunks", ((0, b"a" * 64),)])
def test_codec_decode_rejects_non_mapping(codec: Codec, given: Any) -> None:
    with pytest.raises(ChunkTypeError, match="chunks must be a Mapping"):
        codec.decode(given, 10)


def test_codec_reconstruct_rejects_bad_want(codec: Codec, chunks: dict[int, bytearray]) -> None:
    present = {i: chunks[i] for i in (0, 2, 4)}
    with pytest.raises(DuplicateIndexError, match="want repeats an index"):
        codec.reconstruct(present, [1, 3, 1])
    with pytest.raises(ChunkIndexError, match="got 6"):
        codec.reconstruct(present, [1, 6])
    with pytest.raises(ChunkIndexError, match="got -1"):
        codec.reconstruct(present, [-1])
    with pytest.raises(ChunkTypeError, match="want must be an iterable"):
        codec.reconstruct(present, 5)  # type: ignore[arg-type]
    with pytest.raises(ChunkTypeError, match="chunk index must be an int"):
        codec.reconstruct(present, ["1"])  # type: ignore[list-item]
    with pytest.raises(NotEnoughChunksError):
        codec.reconstruct({0: chunks[0]}, [1])
    assert_unchanged_and_usable(codec, chunks)


def test_chunk_length_rejects_bad_input() -> None:
    with pytest.raises(BlobLengthError):
        chunk_length(0, 4)
    with pytest.raises(CodecParameterError):
        chunk_length(10, 0)
    with pytest.raises(CodecParameterError):
        chunk_length(10, 255)
    with pytest.raises(ChunkTypeError):
        chunk_length(10.5, 4)  # type: ignore[arg-type]
