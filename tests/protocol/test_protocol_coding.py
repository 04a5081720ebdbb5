"""Choosing a blob's code and shape: the codes' limits, the choice against a brute-force search
that applies the documented rule to every k, assignability and the overhead bound at 4 to 3,500
operators, and the node-side check (which every choice passes)."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from operator_node.protocol import (
    InvalidBlob,
    OperatorStakes,
    QuorumParams,
    UnassignableBlob,
    compute_min_chunk_count,
    compute_quorum_assignment,
)
from operator_node.protocol.coding import (
    COUNTED_FLOOR,
    Code,
    Coding,
    ExcessiveOverhead,
    UncodableBlob,
    UnsupportedCoding,
    check_coding,
    choose_coding,
    coding_cost,
    compute_chunk_length,
)

Q = QuorumParams(0, 33, 55)  # 1/gamma = 100/22 ≈ 4.55
DEVNET_Q = QuorumParams(0, 25, 50)  # the disperser's defaults: 1/gamma = 4
BOTH = (Code.GF8, Code.GF16)
MIB = 1 << 20
TOKEN = 10**18


def _operators(stakes: Sequence[int]) -> list[tuple[bytes, int]]:
    return [(i.to_bytes(32, "big"), stake) for i, stake in enumerate(stakes, 1)]


def _equal(count: int) -> list[tuple[bytes, int]]:
    return _operators([32 * TOKEN] * count)


def _heavy(count: int) -> list[tuple[bytes, int]]:
    """S_i ∝ 1/i^1.1, in wei-sized integers."""
    return _operators([round(1e24 / i**1.1) for i in range(1, count + 1)])


def _reference_choice(
    data_length: int,
    quorums: Sequence[QuorumParams],
    states: Mapping[int, OperatorStakes],
    max_overhead: float,
    codes: Collection[Code] = BOTH,
) -> tuple[int, int, int, Code] | None:
    """The documented rule applied to every k in turn, n from the assignment itself.

    Returns (cost, n, k, code), or None when nothing meets the bound or fits a code. Scans k up
    to 4·ceil(D/64): past ceil(D/64) chunks stay 64 bytes and n only grows, so that covers the
    power-of-two preference too.
    """
    margin = min(q.margin_percent for q in quorums)
    top = max(c.max_chunks for c in codes)
    options: list[tuple[int, int, int, Code]] = []
    for k in range(1, 4 * -(-data_length // 64) + 1):
        n = max(compute_min_chunk_count(k, quorums, states), k + 1)
        if n > top:
            break
        length = compute_chunk_length(data_length, k)
        if max_overhead < math.inf:
            counted = max(data_length, COUNTED_FLOOR)
            if n * length > Fraction(max_overhead) * 100 * counted / margin:
                continue
        operators = sum(1 for q in quorums for _, stake in states[q.quorum_number] if stake > 0)
        cost = n * (length + 64) + operators * 64 * (n - 1).bit_length()
        options += [(cost, n, k, code) for code in sorted(codes) if code.supports(k, n)]
    if not options:
        return None
    best = min(options)
    close = [o for o in options if o[0] * 100 <= best[0] * 101]
    gf8 = [o for o in close if o[3] is Code.GF8]
    powers = [o for o in close if o[3] is Code.GF16 and o[2] & (o[2] - 1) == 0]
    return min(gf8) if gf8 else min(powers) if powers else best


def _assert_sound(
    coding: Coding,
    quorums: Sequence[QuorumParams],
    states: Mapping[int, OperatorStakes],
    max_overhead: float,
) -> None:
    """The coding fits its code, is exactly as large as the assignment needs, passes the node's
    check, and every quorum assigns within it, every staked operator getting a chunk."""
    assert coding.code.supports(coding.k, coding.n)
    assert coding.chunk_length == compute_chunk_length(coding.data_length, coding.k)
    assert coding.chunk_length * coding.k >= coding.data_length
    assert coding.n == max(compute_min_chunk_count(coding.k, quorums, states), coding.k + 1)
    assert coding.relative_overhead >= 1 - 1e-12
    assert check_coding(
        int(coding.code), coding.k, coding.n, coding.chunk_length, coding.data_length, quorums,
        max_overhead=max_overhead,
    ) is coding.code  # fmt: skip
    for quorum in quorums:
        operators = states[quorum.quorum_number]
        ranges = compute_quorum_assignment(operators, coding.k, coding.n, quorum)
        assert set(ranges) == {op for op, stake in operators if stake > 0}
        assert max(r.stop for r in ranges.values()) <= coding.n
    if coding.n > coding.k + 1:  # n is the least that works, not merely enough
        with pytest.raises(UnassignableBlob):
            for quorum in quorums:
                operators = states[quorum.quorum_number]
                compute_quorum_assignment(operators, coding.k, coding.n - 1, quorum)


def _as_tuple(coding: Coding) -> tuple[int, int, int, Code]:
    return coding.cost_bytes, coding.n, coding.k, coding.code


def test_code_limits_gf8() -> None:
    assert int(Code.GF8) == 0 and Code.GF8.max_chunks == 255
    assert Code.GF8.supports(1, 2) and Code.GF8.supports(254, 255) and Code.GF8.supports(1, 255)
    for k, n in [(0, 1), (5, 5), (6, 5), (255, 256), (1, 256)]:
        assert not Code.GF8.supports(k, n), (k, n)


def test_code_limits_gf16_are_leopards() -> None:
    assert int(Code.GF16) == 1 and Code.GF16.max_chunks == 65535
    # min(next_pow2(k), next_pow2(r)) + max(k, r) <= 65536, and n within the header's uint16.
    fits = [(1, 2), (1, 65535), (32768, 65535), (32767, 65535), (4096, 65535), (61439, 65535)]
    fits += [(61440, 65535), (255, 300), (30000, 34000), (2**15, 2**16 - 1), (3, 65535)]
    for k, n in fits:
        assert Code.GF16.supports(k, n), (k, n)
    too_big = [(0, 1), (7, 7), (32769, 65535), (4097, 65535), (1, 65536), (32768, 65536)]
    too_big += [(61441, 65535), (20000, 65535), (16385, 49154)]  # 32768 + 32769 > 65536
    for k, n in too_big:
        assert not Code.GF16.supports(k, n), (k, n)
    assert Code.GF16.supports(16385, 49153)  # r = 32768: 32768 + 32768 = 65536


def test_chunk_length_rounds_up_to_64() -> None:
    assert compute_chunk_length(100, 1) == 128
    assert compute_chunk_length(100, 2) == 64
    assert compute_chunk_length(64, 1) == 64
    assert compute_chunk_length(65, 1) == 128
    assert compute_chunk_length(16 * MIB, 8192) == 2048
    assert compute_chunk_length(16 * MIB, 10923) == 1536  # 1536.0..., a whole number of 64s


@pytest.mark.parametrize("count", [4, 20, 200, 1000, 3500])
@pytest.mark.parametrize("profile", [_equal, _heavy], ids=["equal", "heavy"])
def test_choose_coding_meets_bound_at_scale(
    count: int, profile: Callable[[int], OperatorStakes]
) -> None:
    states = {0: profile(count)}
    coding = choose_coding(16 * MIB, [Q], states, max_overhead=1.5)
    _assert_sound(coding, [Q], states, 1.5)
    assert coding.relative_overhead <= 1.5
    assert coding.margin_percent == 22
    if count > 255:  # GF8 cannot give every operator a chunk
        assert coding.code is Code.GF16


def test_choose_coding_devnet_picks_gf8() -> None:
    states = {0: _operators([10 * TOKEN, 20 * TOKEN, 30 * TOKEN, 40 * TOKEN])}
    coding = choose_coding(2 * MIB, [DEVNET_Q], states, max_overhead=1.5)
    # Stakes 1:2:3:4 at gamma 1/4 make k=5 exact: m = 2, 4, 6, 8, n = 20 = 4k.
    assert (coding.code, coding.k, coding.n) == (Code.GF8, 5, 20)
    assert coding.relative_overhead == pytest.approx(1.0, abs=1e-4)
    _assert_sound(coding, [DEVNET_Q], states, 1.5)


def test_choose_coding_200_heavy_tailed_picks_gf16_within_bound() -> None:
    states = {0: _heavy(200)}
    coding = choose_coding(16 * MIB, [Q], states, max_overhead=1.5)
    assert coding.code is Code.GF16
    assert coding.relative_overhead <= 1.5
    gf8_only = choose_coding(16 * MIB, [Q], states, max_overhead=math.inf, codes=(Code.GF8,))
    assert gf8_only.overhead > 2.5 * coding.overhead  # what GF(2^8) alone costs here


def test_choose_coding_prefers_gf8_within_one_percent() -> None:
    # The cheapest coding here is GF16 (k=128, n=582); GF8 k=42 n=194 costs 0.27% more.
    states = {0: _operators([33, 47, 6, 16, 7, 7, 2, 12, 49, 15])}
    coding = choose_coding(902685, [Q], states, max_overhead=math.inf)
    gf16 = choose_coding(902685, [Q], states, max_overhead=math.inf, codes=(Code.GF16,))
    assert (coding.code, coding.k, coding.n) == (Code.GF8, 42, 194)
    assert (gf16.k, gf16.n) == (128, 582)
    assert gf16.cost_bytes < coding.cost_bytes <= gf16.cost_bytes * 1.01


def test_choose_coding_prefers_power_of_two_k_within_one_percent() -> None:
    states = {0: _heavy(200)}
    coding = choose_coding(16 * MIB, [Q], states, max_overhead=1.5)
    k = 2260  # the cheapest k of all here, with n = 10,368
    n = compute_min_chunk_count(k, [Q], states)
    cheapest = coding_cost(n, compute_chunk_length(16 * MIB, k), 200)
    assert (coding.code, coding.k, coding.n) == (Code.GF16, 2048, 9409)
    assert cheapest < coding.cost_bytes <= cheapest * 1.01
    best = _reference_choice(16 * MIB, [Q], states, 1.5)
    assert best is not None and _as_tuple(coding) == best


def test_choose_coding_matches_brute_force_near_the_gf16_limit() -> None:
    # k reaches ~14,400 and n ~65,000 here, where Leopard's limit depends on k's distance to the
    # next power of two: every k is scored by the reference, only a few by choose_coding.
    states = {0: _heavy(20)}
    for data_length in (16 * MIB, 5 * MIB + 12345):
        coding = choose_coding(data_length, [Q], states, max_overhead=math.inf, codes=(Code.GF16,))
        expected = _reference_choice(data_length, [Q], states, math.inf, codes=(Code.GF16,))
        assert _as_tuple(coding) == expected


def test_choose_coding_finds_a_later_k_of_a_chunk_length_that_leopard_takes() -> None:
    # 13 equal stakes at margin 40: n = 13·ceil(k/5.2) stays flat while k grows, so r = n - k
    # shrinks. With 64-byte chunks from k=21841 on, k=21841 needs r=32772 (over Leopard's limit
    # at next_pow2(k) = 32768) but k=21845 gets r=32768: the search must see past the first k of
    # a chunk length. Every k is scored by the reference.
    states = {0: _operators([1] * 13)}
    quorum = QuorumParams(0, 20, 60)
    data_length = 64 * 21841
    first_n = compute_min_chunk_count(21841, [quorum], states)
    assert not Code.GF16.supports(21841, first_n)
    assert Code.GF16.supports(21845, compute_min_chunk_count(21845, [quorum], states))
    coding = choose_coding(data_length, [quorum], states, max_overhead=math.inf, codes=(Code.GF16,))
    expected = _reference_choice(data_length, [quorum], states, math.inf, codes=(Code.GF16,))
    assert _as_tuple(coding) == expected


@pytest.mark.parametrize("data_length", [100, 1024])
def test_choose_coding_small_blobs(data_length: int) -> None:
    # Devnet: a handful of chunks, GF8; each proof costs a few words, so few large chunks win.
    states = {0: _operators([10 * TOKEN, 20 * TOKEN, 30 * TOKEN, 40 * TOKEN])}
    coding = choose_coding(data_length, [DEVNET_Q], states, max_overhead=2)
    assert coding.code is Code.GF8 and coding.n <= 12
    assert _as_tuple(coding) == _reference_choice(data_length, [DEVNET_Q], states, 2)
    _assert_sound(coding, [DEVNET_Q], states, 2)
    # 200 operators: every one needs a chunk of at least 64 bytes, so n >= 200 whatever k is;
    # the blob counts as 128 KiB against the bound, so it is not refused.
    states = {0: _heavy(200)}
    coding = choose_coding(data_length, [Q], states, max_overhead=1.5)
    assert coding.chunk_length == 64 and 200 <= coding.n <= 255 and coding.code is Code.GF8
    assert _as_tuple(coding) == _reference_choice(data_length, [Q], states, 1.5)
    _assert_sound(coding, [Q], states, 1.5)


def test_choose_coding_uses_the_smallest_margin_of_its_quorums() -> None:
    q1 = QuorumParams(1, 40, 60)  # margin 20
    states = {0: _heavy(50), 1: _operators([5, 1, 1, 1, 9, 3])}
    coding = choose_coding(3 * MIB, [Q, q1], states, max_overhead=1.5)
    assert coding.margin_percent == 20
    assert _as_tuple(coding) == _reference_choice(3 * MIB, [Q, q1], states, 1.5)
    _assert_sound(coding, [Q, q1], states, 1.5)


def test_choose_coding_refuses_beyond_the_bound_naming_the_best() -> None:
    states = {0: _heavy(200)}
    with pytest.raises(UncodableBlob, match=r"best reachable is 4\.5\dx \(1\.00\d x 1/gamma\)"):
        choose_coding(16 * MIB, [Q], states, max_overhead=1.0)
    assert issubclass(UncodableBlob, UnassignableBlob) and UncodableBlob.code == "uncodable"


def test_choose_coding_refuses_when_no_k_fits_any_code() -> None:
    states = {0: _equal(300)}
    with pytest.raises(UncodableBlob, match="k=1 already needs n=300 chunks"):
        choose_coding(MIB, [Q], states, max_overhead=math.inf, codes=(Code.GF8,))
    assert choose_coding(MIB, [Q], states, max_overhead=1.5).code is Code.GF16


def test_choose_coding_refuses_bad_input() -> None:
    states = {0: _equal(4)}
    with pytest.raises(InvalidBlob, match="data length 0"):
        choose_coding(0, [Q], states, max_overhead=1.5)
    with pytest.raises(InvalidBlob, match="at least one quorum"):
        choose_coding(100, [], states, max_overhead=1.5)
    with pytest.raises(UnassignableBlob, match="no operator state for quorum 1"):
        choose_coding(100, [QuorumParams(1, 33, 55)], states, max_overhead=1.5)
    with pytest.raises(UnassignableBlob, match="no stake"):
        choose_coding(100, [Q], {0: _operators([0, 0])}, max_overhead=1.5)
    for bad in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError, match="max_overhead"):
            choose_coding(100, [Q], states, max_overhead=bad)
    with pytest.raises(ValueError, match="at least one code"):
        choose_coding(100, [Q], states, max_overhead=1.5, codes=())


def test_check_coding_refuses_unknown_or_unrun_codes() -> None:
    with pytest.raises(UnsupportedCoding, match="code 2 is not one this node runs"):
        check_coding(2, 10, 20, 64, 640, [Q], max_overhead=1.5)
    with pytest.raises(UnsupportedCoding, match=r"code 1 is not one this node runs: 0 \(GF8\)"):
        check_coding(1, 10, 20, 64, 640, [Q], max_overhead=1.5, codes=(Code.GF8,))
    assert check_coding(1, 10, 20, 64, 640, [Q], max_overhead=math.inf) is Code.GF16
    assert UnsupportedCoding.code == "unsupported_coding"
    assert issubclass(UnsupportedCoding, InvalidBlob) and issubclass(ExcessiveOverhead, InvalidBlob)


def test_check_coding_refuses_shapes_outside_the_code() -> None:
    with pytest.raises(UnsupportedCoding, match="GF8 cannot encode k=10 into n=256 chunks"):
        check_coding(0, 10, 256, 64, 640, [Q], max_overhead=math.inf)
    with pytest.raises(UnsupportedCoding, match="GF8 cannot encode k=10 into n=10 chunks"):
        check_coding(0, 10, 10, 64, 640, [Q], max_overhead=math.inf)
    with pytest.raises(UnsupportedCoding, match="GF16 cannot encode k=32769 into n=65535"):
        check_coding(1, 32769, 65535, 64, 32769 * 64, [Q], max_overhead=math.inf)
    check_coding(1, 32768, 65535, 64, 32768 * 64, [Q], max_overhead=math.inf)
    with pytest.raises(UnsupportedCoding, match="chunk length 128 is not 64"):
        check_coding(0, 10, 20, 128, 640, [Q], max_overhead=math.inf)
    with pytest.raises(InvalidBlob, match="at least one quorum"):
        check_coding(0, 10, 20, 64, 640, [], max_overhead=math.inf)


def test_check_coding_bound_is_exact() -> None:
    # margin 25: 1.5 x 1/gamma = 6x, so 1 MiB may have 6 MiB = 96 chunks of 64 KiB, not 97.
    check_coding(0, 16, 96, 65536, MIB, [DEVNET_Q], max_overhead=1.5)
    with pytest.raises(
        ExcessiveOverhead, match=r"n=97 chunks of 65536 bytes send 6\.06x .* 6\.00x"
    ):
        check_coding(0, 16, 97, 65536, MIB, [DEVNET_Q], max_overhead=1.5)
    # The smallest margin of the blob's quorums sets the bound: Q's 22% allows 6.82x.
    check_coding(0, 16, 97, 65536, MIB, [DEVNET_Q, Q], max_overhead=1.5)
    with pytest.raises(ExcessiveOverhead, match=r"= 6\.82x"):
        check_coding(0, 16, 110, 65536, MIB, [DEVNET_Q, Q], max_overhead=1.5)
    # A small blob counts as COUNTED_FLOOR: 640 bytes in 61 chunks of 64 passes a 1.5 bound.
    check_coding(0, 10, 61, 64, 640, [DEVNET_Q], max_overhead=1.5)


@st.composite
def _blobs(
    draw: st.DrawFn,
) -> tuple[int, list[QuorumParams], dict[int, OperatorStakes], float, tuple[Code, ...]]:
    quorums: list[QuorumParams] = []
    states: dict[int, OperatorStakes] = {}
    for number in range(draw(st.integers(1, 2))):
        adversary = draw(st.integers(1, 80))
        quorums.append(QuorumParams(number, adversary, draw(st.integers(adversary + 10, 100))))
        big = draw(st.booleans())
        stakes = draw(st.lists(st.integers(0, 10**24 if big else 40), min_size=1, max_size=12))
        states[number] = _operators([*stakes, 1])
    data_length = draw(st.integers(1, 20_000))
    max_overhead = draw(st.sampled_from([1.0, 1.2, 1.5, 3.0, math.inf]))
    codes = draw(st.sampled_from([BOTH, (Code.GF8,), (Code.GF16,)]))
    return data_length, quorums, states, max_overhead, codes


@settings(max_examples=120, deadline=None)
@given(_blobs())
def test_choose_coding_is_the_rule_applied_to_every_k(
    blob: tuple[int, list[QuorumParams], dict[int, OperatorStakes], float, tuple[Code, ...]],
) -> None:
    data_length, quorums, states, max_overhead, codes = blob
    expected = _reference_choice(data_length, quorums, states, max_overhead, codes)
    if expected is None:
        with pytest.raises(UncodableBlob):
            choose_coding(data_length, quorums, states, max_overhead=max_overhead, codes=codes)
        return
    coding = choose_coding(data_length, quorums, states, max_overhead=max_overhead, codes=codes)
    assert _as_tuple(coding) == expected
    _assert_sound(coding, quorums, states, max_overhead)
