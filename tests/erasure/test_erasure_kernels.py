"""The C kernels directly: every kernel the CPU has, including ones no backend name selects."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from operator_node.erasure._gf import generator_matrix, gf_mul, parity_matrix

_rs = pytest.importorskip("operator_node.erasure._rs")

KERNELS = _rs.kernels()


def _cpu_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def _reference_product(matrix: bytes, rows: int, inputs: list[bytes]) -> bytes:
    """out[r] = sum_j matrix[r][j] * inputs[j], byte by byte, with the Python field."""
    cols = len(inputs)
    out = bytearray()
    for r in range(rows):
        coefs = matrix[r * cols : (r + 1) * cols]
        out += bytes(
            _xor(gf_mul(c, x[i]) for c, x in zip(coefs, inputs, strict=True))
            for i in range(len(inputs[0]))
        )
    return bytes(out)


def _xor(values: object) -> int:
    acc = 0
    for v in values:  # type: ignore[attr-defined]
        acc ^= v
    return acc


def test_kernels_match_the_cpu() -> None:
    flags = _cpu_flags()
    assert KERNELS[-1] == "scalar"
    if {"gfni", "avx512f", "avx512bw"} <= flags:
        assert KERNELS[0] == "gfni512"
    if {"gfni", "avx2"} <= flags:
        assert "gfni256" in KERNELS
    for name in ("avx2", "ssse3"):
        assert (name in KERNELS) == (name in flags)


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernels_scalar_matches_python_field(kernel: str) -> None:
    rng = random.Random(5)
    rows, cols = 3, 5
    matrix = bytes([0, 1, 255, 2, 0x8E]) + rng.randbytes(rows * cols - 5)
    inputs = [rng.randbytes(64) for _ in range(cols)]
    plan = _rs.Plan(kernel, matrix, rows, cols)
    assert plan.apply(inputs, 64) == _reference_product(matrix, rows, inputs)


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernels_agree_on_every_group_size(kernel: str) -> None:
    # Row counts 1..20 cover every register-group size and remainder; odd column counts cover
    # the kernels' odd-input tails; 3 KiB spans several cache blocks for 33 inputs.
    rng = random.Random(9)
    for rows, cols, length in [
        (r, 33 if r % 2 else 8, 3072 if r % 3 else 128) for r in range(1, 21)
    ]:
        matrix = rng.randbytes(rows * cols)
        inputs = [rng.randbytes(length) for _ in range(cols)]
        expected = _rs.Plan("scalar", matrix, rows, cols).apply(inputs, length)
        assert _rs.Plan(kernel, matrix, rows, cols).apply(inputs, length) == expected


def test_kernels_invert_gives_the_inverse() -> None:
    rng = random.Random(11)
    k = 17
    while True:
        matrix = rng.randbytes(k * k)
        try:
            inverse = _rs.invert(matrix, k)
            break
        except ValueError:
            continue
    identity = bytes(1 if i == j else 0 for i in range(k) for j in range(k))
    assert _rs.multiply(matrix, inverse, k, k, k) == identity
    assert _rs.multiply(inverse, matrix, k, k, k) == identity


def test_kernels_invert_rows_equals_inverting_the_sub_matrix() -> None:
    rng = random.Random(12)
    for k, n in [(1, 2), (3, 5), (32, 96), (64, 255), (254, 255)]:
        generator, parity = generator_matrix(k, n), parity_matrix(k, n)
        for rows in (rng.sample(range(n), k), list(range(n - k, n)), list(range(k))):
            sub = b"".join(generator[r * k : (r + 1) * k] for r in rows)
            assert _rs.invert_rows(parity, k, rows) == _rs.invert(sub, k)
    with pytest.raises(ValueError, match="repeated"):
        _rs.invert_rows(parity_matrix(2, 4), 2, [3, 3])
    with pytest.raises(ValueError, match="out of range"):
        _rs.invert_rows(parity_matrix(2, 4), 2, [0, 4])


def test_kernels_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="singular"):
        _rs.invert(bytes([1, 2, 2, 4]), 2)
    with pytest.raises(ValueError, match="unknown kernel"):
        _rs.Plan("avx9000", b"\x01", 1, 1)
    with pytest.raises(ValueError, match="rows \\* cols"):
        _rs.Plan("scalar", b"\x01\x02", 1, 1)
    with pytest.raises(ValueError, match=r"1\.\.255"):
        _rs.Plan("scalar", b"", 0, 1)
    plan = _rs.Plan(KERNELS[0], bytes(range(1, 7)), 2, 3)
    with pytest.raises(ValueError, match="multiple of 64"):
        plan.apply([bytes(10)] * 3, 10)
    with pytest.raises(ValueError, match="expected 3 inputs"):
        plan.apply([bytes(64)] * 2, 64)
    with pytest.raises(ValueError, match="input 1 has 128 bytes"):
        plan.apply([bytes(64), bytes(128), bytes(64)], 64)
    with pytest.raises(TypeError):
        plan.apply([bytes(64), "x" * 64, bytes(64)], 64)
    with pytest.raises(ValueError, match="blob must hold"):
        plan.encode(bytes(3 * 64 + 1), 64)
    with pytest.raises(ValueError, match="row 2 out of range"):
        plan.decode([bytes(64)] * 3, 64, [0, 2], [], 100)
