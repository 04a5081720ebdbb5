"""Coding choice and chunk assignment at 20 to 3,500 operators, against GF(2^8) alone.

For each operator count and stake profile (equal stakes, and heavy-tailed S_i ∝ 1/i^1.1), one
quorum with adversary 33% and confirmation 55% (1/gamma = 100/22 ≈ 4.55), and two blob sizes
(16 MiB and 128 KiB): the code, k, n and chunk length ``choose_coding`` picks, its overhead
n·L/D and that overhead ÷ (1/gamma) (1.0 is the floor; the target is 1.5), and the same for the
best GF(2^8)-only coding, the peer (none at all above 255 operators: every staked operator needs
a chunk). "cost x" is what the choice minimises (``coding_cost``: the chunks, 64 bytes more per
chunk, and each operator's multiproof) over the data length. Times are medians:
``choose_coding``, and the assignment of every operator's chunk indices as
compute_blob_assignment does it (the quorum assignment called directly, its ranges expanded).

The last line printed is a JSON object of the figures.
"""

from __future__ import annotations

import gc
import json
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

from operator_node.protocol import OperatorStakes, QuorumParams, compute_quorum_assignment
from operator_node.protocol.coding import Code, Coding, UncodableBlob, choose_coding

COUNTS = (20, 100, 200, 250, 500, 1000, 2000, 3500)
BLOBS = {"16MiB": 16 << 20, "128KiB": 128 << 10}
QUORUM = QuorumParams(0, 33, 55)
INV_GAMMA = 100 / QUORUM.margin_percent
TARGET = 1.5  # overhead within 1.5 x 1/gamma
REPEATS = 9
WORD = 32


def equal_stakes(count: int) -> OperatorStakes:
    """``count`` operators of 32 tokens each."""
    return [(i.to_bytes(32, "big"), 32 * 10**18) for i in range(1, count + 1)]


def heavy_stakes(count: int) -> OperatorStakes:
    """``count`` operators with S_i ∝ 1/i^1.1 (wei-sized integers)."""
    return [(i.to_bytes(32, "big"), round(1e24 / i**1.1)) for i in range(1, count + 1)]


PROFILES: dict[str, Callable[[int], OperatorStakes]] = {
    "equal": equal_stakes,
    "heavy": heavy_stakes,
}


def median_ms(run: Callable[[], object]) -> float:
    """Median wall time of run() in ms over REPEATS calls, after one warm-up call."""
    run()
    times = []
    gc.disable()
    try:
        for _ in range(REPEATS):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return statistics.median(times) * 1000


def assign_all(operators: OperatorStakes, k: int, n: int) -> dict[bytes, tuple[int, ...]]:
    """Every operator's chunk indices, as compute_blob_assignment builds them for one quorum."""
    ranges = compute_quorum_assignment(operators, k, n, QUORUM)
    return {op: tuple(indices) for op, indices in sorted(ranges.items())}


def gf8_only(data_length: int, states: dict[int, OperatorStakes]) -> Coding | None:
    """The best coding GF(2^8) alone reaches, or None if no k fits it."""
    try:
        return choose_coding(
            data_length, [QUORUM], states, max_overhead=math.inf, codes=(Code.GF8,)
        )
    except UncodableBlob:
        return None


def measure(profile: str, count: int, blob: str) -> dict[str, Any]:
    """One row: our choice, the GF(2^8)-only peer, and the two timings."""
    operators = PROFILES[profile](count)
    states = {0: operators}
    data_length = BLOBS[blob]
    ours = choose_coding(data_length, [QUORUM], states, max_overhead=TARGET)
    peer = gf8_only(data_length, states)
    return {
        "stakes": profile,
        "operators": count,
        "blob": blob,
        "code": ours.code.name,
        "k": ours.k,
        "n": ours.n,
        "chunk_length": ours.chunk_length,
        "overhead": round(ours.overhead, 3),
        "x_inv_gamma": round(ours.relative_overhead, 3),
        "within_target": ours.relative_overhead <= TARGET,
        "cost_overhead": round(ours.cost_bytes / data_length, 3),
        "gf8_only_overhead": round(peer.overhead, 3) if peer else None,
        "gf8_only_x_inv_gamma": round(peer.relative_overhead, 3) if peer else None,
        "ratio_to_peer": round(ours.overhead / peer.overhead, 3) if peer else None,
        "choose_ms": round(
            median_ms(lambda: choose_coding(data_length, [QUORUM], states, max_overhead=TARGET)), 2
        ),
        "assign_ms": round(median_ms(lambda: assign_all(operators, ours.k, ours.n)), 2),
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    """The figures as a table, one row per case."""
    print(f"adversary 33%, confirmation 55%: 1/gamma = {INV_GAMMA:.3f}; target {TARGET} x 1/gamma")
    print(
        f"{'stakes':<7}{'ops':>5}{'blob':>8}{'code':>6}{'k':>7}{'n':>7}{'L':>8}"
        f"{'overhead':>10}{'x 1/g':>7}{'cost x':>10}{'GF8 only':>10}{'x 1/g':>7}"
        f"{'choose ms':>11}{'assign ms':>11}"
    )
    for r in rows:
        peer = f"{r['gf8_only_overhead']:.2f}" if r["gf8_only_overhead"] else "-"
        peer_rel = f"{r['gf8_only_x_inv_gamma']:.2f}" if r["gf8_only_x_inv_gamma"] else "-"
        print(
            f"{r['stakes']:<7}{r['operators']:>5}{r['blob']:>8}{r['code']:>6}{r['k']:>7}{r['n']:>7}"
            f"{r['chunk_length']:>8}{r['overhead']:>10.3f}{r['x_inv_gamma']:>7.3f}"
            f"{r['cost_overhead']:>10.2f}{peer:>10}{peer_rel:>7}{r['choose_ms']:>11.2f}"
            f"{r['assign_ms']:>11.2f}"
        )


def main() -> None:
    """Measure every case, print the table and the JSON line."""
    rows = [
        measure(profile, count, blob) for blob in BLOBS for profile in PROFILES for count in COUNTS
    ]
    print_table(rows)
    print(
        json.dumps(
            {
                "bench": "assignment",
                "thresholds": {"adversary": 33, "confirmation": 55},
                "inv_gamma": round(INV_GAMMA, 4),
                "target_x_inv_gamma": TARGET,
                "peer": "gf8-only",
                "all_within_target": all(r["within_target"] for r in rows),
                "worst_x_inv_gamma": max(r["x_inv_gamma"] for r in rows),
                "rows": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
