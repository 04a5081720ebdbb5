"""Which erasure code a blob uses and its shape (k, n, chunk length): the choice and its check.

Two codes, named on the wire by :class:`Code`:

- ``GF8``: systematic Reed-Solomon over GF(2^8), bit-for-bit reedsolo's; 1 ≤ k < n ≤ 255.
- ``GF16``: Leopard-compatible Reed-Solomon over GF(2^16), as reed-solomon-simd computes it. With
  k originals and r = n - k recovery chunks it takes k, r ≥ 1 and
  min(next_pow2(k), next_pow2(r)) + max(k, r) ≤ 65536; n also fits the header's uint16.

Both split a blob of D bytes into k chunks of L = ceil(D/k) rounded up to a multiple of 64 bytes.

The disperser calls :func:`choose_coding`. For a given k the assignment fixes n: the blob needs
n(k) = max(compute_min_chunk_count(k), k + 1) chunks, so that every quorum's Σ m_i fits and at
least one chunk is parity. The choice minimises :func:`coding_cost`: every chunk, alignment
padding included, plus CHUNK_COST for what each chunk costs beyond its data, plus the operators'
multiproofs. Overhead is
n·L/D, the bytes the operators store; no coding gets under 1/gamma_min, gamma_min being the
smallest (confirmation - adversary)/100 of the blob's quorums, because every quorum needs
n ≥ k/gamma and k·L ≥ D. The AVS bounds it at ``max_overhead``·(1/gamma_min), counting D as at
least COUNTED_FLOOR (a small blob's chunks are few bytes whatever the coding).

The node calls :func:`check_coding` on every blob header, cheapest test first: a code it knows
and runs, (k, n) within that code, the canonical chunk length, the overhead bound. Whether n
covers the assignment is left to compute_blob_assignment, which needs the operator state anyway.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from fractions import Fraction
from functools import reduce
from itertools import accumulate, repeat

from operator_node.protocol.assignment import OperatorStakes, compute_min_chunk_count
from operator_node.protocol.errors import InvalidBlob, UnassignableBlob
from operator_node.protocol.headers import UINT16_MAX, UINT32_MAX, QuorumParams

CHUNK_ALIGN = 64
"""Chunk lengths are multiples of this in both codes (the codec kernels' widest vector)."""

DEFAULT_MAX_OVERHEAD = 2.0
"""The overhead bound in units of 1/gamma_min that nodes and dispersers use unless configured."""

GF16_FIELD_SIZE = 1 << 16
PROOF_WORD = 32
"""Bytes of a Merkle proof word."""
CHUNK_COST = 64
"""What a chunk costs beyond its data, in bytes: its index on the wire, its leaf in the
commitment tree, its entry in a node's store, the per-chunk work of hashing and copying it. One
minimum chunk's worth; it also keeps a blob from being cut into far more chunks than it needs."""
COUNTED_FLOOR = 128 << 10
"""A blob counts as at least this many bytes against the overhead bound. Below it, 64-byte chunks
and one chunk per staked operator dominate whatever the coding, and the bytes are few anyway."""
PREFERENCE_PERCENT = 1
"""How much more (in percent of the best) a preferred coding may send and still be chosen."""


class Code(IntEnum):
    """The erasure code of a blob, as its header names it."""

    GF8 = 0
    """reedsolo-compatible Reed-Solomon over GF(2^8): the older and, per byte, faster code."""
    GF16 = 1
    """Leopard-compatible Reed-Solomon over GF(2^16), as reed-solomon-simd: n up to 65,535."""

    @property
    def max_chunks(self) -> int:
        """The largest n this code takes for some k."""
        return 255 if self is Code.GF8 else UINT16_MAX

    def supports(self, k: int, n: int) -> bool:
        """Whether this code encodes k data chunks into n chunks (the exact limits above)."""
        if not 1 <= k < n <= self.max_chunks:
            return False
        if self is Code.GF8:
            return True
        r = n - k
        return min(_next_pow2(k), _next_pow2(r)) + max(k, r) <= GF16_FIELD_SIZE


class UnsupportedCoding(InvalidBlob):
    """A blob header names a code this node does not run, or a shape that code cannot have (422).

    An unknown code identifier, (k, n) outside the code's limits, or a chunk length other than
    the code's for the blob's data length and k.
    """

    code = "unsupported_coding"


class ExcessiveOverhead(InvalidBlob):
    """A blob sends more than the AVS allows, max_overhead·(1/gamma_min) x its data (422)."""

    code = "excessive_overhead"


class UncodableBlob(UnassignableBlob):
    """No code and k let this blob be assigned within the codes' limits and the overhead bound.

    The message gives the best overhead reachable (or why no k fits at all).
    """

    code = "uncodable"


@dataclass(frozen=True)
class Coding:
    """A blob's code and shape, with the bytes it sends. ``margin_percent`` is 100·gamma_min."""

    code: Code
    k: int
    n: int
    chunk_length: int
    data_length: int
    margin_percent: int
    operators: int = 0
    """Staked operators summed over the blob's quorums (each gets its chunks and a proof)."""

    @property
    def sent_bytes(self) -> int:
        """n·chunk_length: every chunk, padding included (what the operators store)."""
        return self.n * self.chunk_length

    @property
    def cost_bytes(self) -> int:
        """What the choice minimises: :func:`coding_cost` of this shape."""
        return coding_cost(self.n, self.chunk_length, self.operators)

    @property
    def overhead(self) -> float:
        """sent_bytes / data_length."""
        return self.sent_bytes / self.data_length

    @property
    def relative_overhead(self) -> float:
        """overhead ÷ (1/gamma_min): 1.0 is the floor that no assignment gets under."""
        return self.overhead * self.margin_percent / 100


def coding_cost(n: int, chunk_length: int, operators: int) -> int:
    """The bytes a coding costs: every chunk with CHUNK_COST on top, and each operator's
    multiproof, at most two words a level of the chunk tree for its run of chunks."""
    return n * (chunk_length + CHUNK_COST) + operators * 2 * PROOF_WORD * (n - 1).bit_length()


def compute_chunk_length(data_length: int, k: int) -> int:
    """Return L = ceil(data_length / k) rounded up to a multiple of 64 (both codes' rule).

    Assumes data_length ≥ 1 and k ≥ 1.
    """
    return -(-data_length // (CHUNK_ALIGN * k)) * CHUNK_ALIGN


def choose_coding(
    data_length: int,
    quorums: Sequence[QuorumParams],
    states: Mapping[int, OperatorStakes],
    *,
    max_overhead: float,
    codes: Collection[Code] = (Code.GF8, Code.GF16),
) -> Coding:
    """Return the code, k, n and chunk length that send the fewest bytes for this blob.

    Inputs: the blob's length in bytes, its quorums, the operator state of each (as for
    compute_blob_assignment), the AVS's bound (``max_overhead`` times 1/gamma_min; ``math.inf`` for
    none) and the codes the disperser may use.

    The rule. Every k from 1 up is a candidate with n = n(k) (see the module docstring) under every
    code that supports (k, n); its cost is :func:`coding_cost`, and it counts only if n·L meets
    the bound. Let C be the least cost of all. GF8 is chosen
    if some GF8 candidate costs at most 1% more than C: GF8 is the older code and the faster one.
    Otherwise GF16 is, and a power-of-two k costing at most 1% more than C is preferred, since
    Leopard is fastest there. Within a choice, the cheapest wins; ties go to fewer chunks, then to
    the smaller k. So the result never sends more than 1.01·C bytes, and it always meets the bound.

    Why the result is safe: n is max(compute_min_chunk_count(k, quorums, states), k + 1),
    recomputed at the end by the assignment's own function, so every quorum's Σ m_i ≤ n and
    compute_quorum_assignment succeeds; any operators with gamma of a quorum's stake then hold
    ≥ k distinct chunks, and both codes rebuild the blob from any k of the n. The result is also
    passed through :func:`check_coding`, so a node applying the same bound accepts it.

    Why it is fast: Σ m_i(k) for every k up to the largest useful one comes from one sweep of
    ``_chunk_need_table`` whose work is about n at that k plus the distinct stakes, not
    candidates x operators; then only the smallest k per chunk length (a larger k with the same L
    needs no fewer chunks) and the powers of two are scored.

    Raises :class:`InvalidBlob` for data_length outside 1..2^32-1 or no quorums,
    :class:`UnassignableBlob` for a quorum without state or stake, :class:`InvalidOperatorState`
    for bad state, :class:`UncodableBlob` if no candidate fits a code or meets the bound, and
    ValueError for a bound that is not a positive number or an empty ``codes``.
    """
    if not 1 <= data_length <= UINT32_MAX:
        raise InvalidBlob(f"data length {data_length} is not in 1..2^32-1")
    margin = _min_margin(quorums)
    max_sent = _max_sent_bytes(data_length, margin, max_overhead)
    allowed = sorted({Code(c) for c in codes})
    if not allowed:
        raise ValueError("choose_coding needs at least one code")
    compute_min_chunk_count(1, quorums, states)  # validates the state before the sweep trusts it
    k_max = _largest_useful_k(data_length, margin, max(c.max_chunks for c in allowed))
    need = _chunk_need(k_max, quorums, states)
    operators = sum(1 for q in quorums for _, stake in states[q.quorum_number] if stake > 0)
    options = _score_candidates(data_length, need, allowed, operators)
    if not options:
        raise UncodableBlob(
            f"no k fits {'/'.join(c.name for c in allowed)}: k=1 already needs n={need[1]} chunks"
            f" (at least one per staked operator), more than {allowed[-1].max_chunks}"
        )
    within = [o for o in options if o.chunk_bytes <= max_sent]
    if not within:
        raise _out_of_bound(min(options, key=_by_chunk_bytes), data_length, margin, max_overhead)
    chosen = _prefer(min(within), within)
    # The assignment's own count is authoritative; the sweep only ranked the candidates.
    n = max(compute_min_chunk_count(chosen.k, quorums, states), chosen.k + 1)
    length = compute_chunk_length(data_length, chosen.k)
    coding = Coding(chosen.code, chosen.k, n, length, data_length, margin, operators)
    check_coding(
        coding.code, coding.k, n, length, data_length, quorums,
        max_overhead=max_overhead, codes=allowed,
    )  # fmt: skip
    return coding


def check_coding(
    code: int,
    k: int,
    n: int,
    chunk_length: int,
    data_length: int,
    quorums: Sequence[QuorumParams],
    *,
    max_overhead: float,
    codes: Collection[Code] = (Code.GF8, Code.GF16),
) -> Code:
    """Check a blob header's coding on the node side; return its code as a :class:`Code`.

    ``codes`` are the codes this node runs; ``max_overhead`` is the AVS's bound as for
    :func:`choose_coding`, whose every result passes this check. Raises
    :class:`UnsupportedCoding` for a code that is unknown or not in ``codes``, (k, n) outside the
    code's limits or a chunk length other than :func:`compute_chunk_length`'s;
    :class:`ExcessiveOverhead` if n·chunk_length exceeds max_overhead·(1/gamma_min)·data_length;
    :class:`InvalidBlob` for a data length below 1 or no quorums; ValueError for a bad bound.
    Does not check that n covers the assignment: compute_blob_assignment does.
    """
    if code not in {int(c) for c in codes}:
        known = ", ".join(f"{int(c)} ({c.name})" for c in sorted(Code(c) for c in codes))
        raise UnsupportedCoding(f"code {code} is not one this node runs: {known}")
    parsed = Code(code)
    if not parsed.supports(k, n):
        raise UnsupportedCoding(
            f"{parsed.name} cannot encode k={k} into n={n} chunks (it takes 1 <= k < n <="
            f" {parsed.max_chunks}{'' if parsed is Code.GF8 else ' and the Leopard limits'})"
        )
    if data_length < 1:
        raise InvalidBlob(f"data length {data_length} is below 1")
    expected = compute_chunk_length(data_length, k)
    if chunk_length != expected:
        raise UnsupportedCoding(
            f"chunk length {chunk_length} is not {expected}, {parsed.name}'s for"
            f" {data_length} bytes in k={k} chunks"
        )
    margin = _min_margin(quorums)
    if n * chunk_length > _max_sent_bytes(data_length, margin, max_overhead):
        overhead = n * chunk_length / data_length
        raise ExcessiveOverhead(
            f"n={n} chunks of {chunk_length} bytes send {overhead:.2f}x the blob's {data_length}"
            f" bytes, above the bound of {max_overhead} x 1/gamma ="
            f" {max_overhead * 100 / margin:.2f}x"
        )
    return parsed


@dataclass(frozen=True, order=True)
class _Option:
    """One scored candidate; the field order is the order of preference among equals.

    ``cost`` is what the disperser sends: every chunk with its Merkle proof. ``chunk_bytes`` is
    n·L, what the operators store, which the bound applies to.
    """

    cost: int
    n: int
    k: int
    code: Code
    chunk_bytes: int


def _option(n: int, k: int, units: int, code: Code, operators: int) -> _Option:
    length = units * CHUNK_ALIGN
    return _Option(coding_cost(n, length, operators), n, k, code, n * length)


def _by_chunk_bytes(option: _Option) -> tuple[int, int]:
    return option.chunk_bytes, option.cost


def _out_of_bound(
    best: _Option, data_length: int, margin: int, max_overhead: float
) -> UncodableBlob:
    reached = Coding(best.code, best.k, best.n, best.chunk_bytes // best.n, data_length, margin)
    return UncodableBlob(
        f"no coding of a {data_length}-byte blob meets the overhead bound of {max_overhead}"
        f" x 1/gamma ({max_overhead * 100 / margin:.2f}x): the best reachable is"
        f" {reached.overhead:.2f}x ({reached.relative_overhead:.3f} x 1/gamma), {best.code.name}"
        f" k={best.k} n={best.n}"
    )


def _next_pow2(x: int) -> int:
    return 1 << (x - 1).bit_length()


def _min_margin(quorums: Sequence[QuorumParams]) -> int:
    if not quorums:
        raise InvalidBlob("a blob needs at least one quorum")
    return min(q.margin_percent for q in quorums)


def _max_sent_bytes(data_length: int, margin: int, max_overhead: float) -> float:
    """The most chunk bytes a coding may have: floor(max_overhead·(100/margin)·D), where D is the
    data length but at least COUNTED_FLOOR.

    Computed exactly from the float's value (and inf for no bound), so that the disperser's
    choice and the node's check compare the same integers.
    """
    if math.isnan(max_overhead) or max_overhead <= 0:
        raise ValueError(f"max_overhead must be a positive number, got {max_overhead}")
    if math.isinf(max_overhead):
        return math.inf
    counted = max(data_length, COUNTED_FLOOR)
    return math.floor(Fraction(max_overhead) * 100 * counted / margin)


def _largest_useful_k(data_length: int, margin: int, max_chunks: int) -> int:
    """The largest k worth scoring.

    Above ceil(D/64) every k has L = 64 and needs no fewer chunks, so only the power of two at or
    above it is kept (for the power-of-two preference). Above max_chunks·margin/100 even the
    floor n ≥ k/gamma_min exceeds every code.
    """
    by_length = _next_pow2(-(-data_length // CHUNK_ALIGN))
    by_code = min(max_chunks - 1, max_chunks * margin // 100)
    return max(1, min(by_length, by_code))


def _chunk_need(
    k_max: int, quorums: Sequence[QuorumParams], states: Mapping[int, OperatorStakes]
) -> list[int]:
    """need[k] = max(k + 1, Σ m_i of every quorum) for k = 0..k_max."""
    tables = [_chunk_need_table(states[q.quorum_number], q.margin_percent, k_max) for q in quorums]
    return list(map(max, range(1, k_max + 2), *tables))


def _chunk_need_table(operators: OperatorStakes, margin: int, k_max: int) -> list[int]:
    """t[k] = Σ_i ceil(k·100·S_i / (margin·ΣS)) for k = 0..k_max: compute_chunk_counts' sum.

    Operator i's count exceeds j exactly when k > j·den/w (den = margin·ΣS, w = 100·S_i), that
    is from k = floor(j·den/w) + 1 on. Collecting those points for every j and every distinct
    stake and counting how many lie below k gives every t[k] with work Σ_i m_i(k_max) plus the
    number of distinct stakes. Stakes are divided by their gcd first: the ratios are what count,
    and smaller integers divide faster.
    """
    stakes = Counter(stake for _, stake in operators if stake > 0)
    scale = reduce(math.gcd, stakes, 0)
    den = margin * (sum(stake * mult for stake, mult in stakes.items()) // scale)
    points: list[int] = []
    for stake, mult in stakes.items():
        w = 100 * (stake // scale)
        last = (k_max * w - 1) // den  # the largest j with j·den < k_max·w
        owned = [x // w for x in range(0, last * den + 1, den)]
        points.extend(owned * mult if mult > 1 else owned)
    counts = Counter(points)
    return list(accumulate(map(counts.get, range(k_max), repeat(0)), initial=0))


def _score_candidates(
    data_length: int, need: list[int], codes: Sequence[Code], operators: int
) -> list[_Option]:
    """Score, per code, the smallest k of each chunk length that the code supports, and every
    power of two, up to k = len(need) - 1."""
    k_max = len(need) - 1
    options: list[_Option] = []
    k = 1
    while k <= k_max:
        units = -(-data_length // (CHUNK_ALIGN * k))  # L / 64 for this k and the whole run
        run_end = (
            k_max if units == 1 else min(k_max, -(-data_length // (CHUNK_ALIGN * (units - 1))) - 1)
        )
        for code in codes:
            first = _first_supported(code, need, k, run_end)
            if first is not None:
                options.append(_option(need[first], first, units, code, operators))
        power = _next_pow2(k)
        if Code.GF16 in codes and power <= run_end and Code.GF16.supports(power, need[power]):
            options.append(_option(need[power], power, units, Code.GF16, operators))
        k = run_end + 1
    return options


def _first_supported(code: Code, need: list[int], start: int, end: int) -> int | None:
    """The smallest k in start..end with (k, need[k]) supported by ``code``, if any.

    need only grows with k, so the scan stops once it passes the code's largest n. For GF8 that
    means the first k is the only one to try; GF16's limit also depends on k's distance to the
    next power of two, so a later k of the same run can fit where an earlier one does not.
    """
    for k in range(start, end + 1):
        if need[k] > code.max_chunks:
            return None
        if code.supports(k, need[k]):
            return k
    return None


def _prefer(best: _Option, options: Sequence[_Option]) -> _Option:
    """Apply the preferences of :func:`choose_coding` to options that all meet the bound."""
    close = [o for o in options if o.cost * 100 <= best.cost * (100 + PREFERENCE_PERCENT)]
    gf8 = [o for o in close if o.code is Code.GF8]
    if gf8:
        return min(gf8)
    powers = [o for o in close if o.code is Code.GF16 and o.k & (o.k - 1) == 0]
    return min(powers) if powers else best
