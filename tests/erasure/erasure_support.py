"""Shared helpers of the erasure tests: the backends to run and reedsolo as the oracle."""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import cache

import reedsolo

from operator_node.erasure import Codec, available_backends

ALL_BACKENDS = available_backends()
NATIVE_BACKENDS = tuple(b for b in ALL_BACKENDS if b != "reedsolo")


@cache
def oracle(nsym: int) -> reedsolo.RSCodec:
    """Return reedsolo's codec for nsym parity symbols (its constructor is not free)."""
    return reedsolo.RSCodec(nsym=nsym)


def assert_columns_match_reedsolo(
    codec: Codec, chunks: Sequence[memoryview], columns: Sequence[int]
) -> None:
    """Assert each listed byte column of the chunks is the reedsolo codeword of its data part."""
    rs = oracle(codec.n - codec.k)
    for c in columns:
        column = bytes(chunk[c] for chunk in chunks)
        assert bytes(rs.encode(column[: codec.k])) == column, f"column {c}"


def sample_columns(length: int, rng: random.Random, count: int = 16) -> list[int]:
    """Return up to count column positions, always including the first and the last."""
    picks = {0, length - 1, *rng.sample(range(length), min(count, length))}
    return sorted(picks)


def padded(blob: bytes, k: int, length: int) -> bytes:
    """Return blob zero-padded to k * length bytes."""
    return blob + bytes(k * length - len(blob))
