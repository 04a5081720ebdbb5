"""Erasure codec throughput against its peers, in one process on the same data.

Shapes: k=32 -> n=96 with a 2 MiB blob (the headline), k=16 -> n=48 and k=64 -> n=192 with the
same blob. For each implementation: encode MB/s and decode MB/s, decoding from a random k of the
n chunks (a fresh pattern each run, the same patterns for every implementation) and from the
worst case, parity chunks only. MB/s counts blob bytes (10^6 bytes per second); figures are medians
of repeated runs.

Peers: pyeclib's isa_l_rs_vand (its wheel bundles ISA-L), zfec, reedsolo's Cython build
creedsolo and pure-Python reedsolo. The last two are far too slow for a whole blob: they are timed
on a slice of the byte columns and extrapolated to the blob (marked "~"). A peer that is not
installed is reported as missing. The last line printed is a JSON object of the figures.
"""

from __future__ import annotations

import gc
import json
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import reedsolo

from operator_node.erasure import Codec, available_backends

BLOB_SIZE = 2 * 1024 * 1024
SHAPES = [(32, 96), (16, 48), (64, 192)]
HEADLINE = (32, 96)
RUNS = 21
# Columns timed for the column-at-a-time peers: (encode, decode), per implementation.
SLICE_COLUMNS = {"creedsolo": (2048, 48), "reedsolo": (256, 8)}

Figures = dict[str, float | None]


@dataclass
class Case:
    """One shape's data: the blob and the chunk patterns every implementation decodes from."""

    k: int
    n: int
    blob: bytes
    random_subsets: list[list[int]] = field(default_factory=list)

    @property
    def parity_subset(self) -> list[int]:
        """The worst case: k parity chunks, no data chunk."""
        return list(range(self.k, 2 * self.k))

    def pick(self, run: int) -> list[int]:
        """The random pattern of one run."""
        return self.random_subsets[run % len(self.random_subsets)]

    def check(
        self, encode: Callable[[int], object], decode: Callable[[Sequence[int]], bytes]
    ) -> Ops:
        """Check decode returns the blob on both patterns; return the three timed operations."""
        assert decode(self.pick(0)) == self.blob
        assert decode(self.parity_subset) == self.blob
        return encode, lambda r: decode(self.pick(r)), lambda _: decode(self.parity_subset)


# Timed operations of one implementation: encode, decode random, decode parity. Each takes the
# run number (decode random uses it to pick that run's pattern).
Ops = tuple[Callable[[int], object], Callable[[int], object], Callable[[int], object]]


def mbps(size: int, seconds: float) -> float:
    """Return throughput in MB/s."""
    return size / seconds / 1e6


def interleaved_medians(jobs: dict[str, Ops], runs: int) -> dict[str, tuple[float, ...]]:
    """Return each job's median seconds per operation.

    Runs are interleaved (run r of every job, then run r + 1) so that a neighbour's load on the
    machine falls on every implementation alike rather than on whichever ran at the time.
    """
    for ops in jobs.values():
        for op in ops:
            op(0)  # warm-up: first-touch allocations, lazily built tables
    times: dict[str, list[list[float]]] = {name: [[], [], []] for name in jobs}
    gc.disable()
    try:
        for r in range(runs):
            for name, ops in jobs.items():
                for slot, op in enumerate(ops):
                    start = time.perf_counter()
                    op(r)
                    times[name][slot].append(time.perf_counter() - start)
    finally:
        gc.enable()
    return {name: tuple(statistics.median(t) for t in slots) for name, slots in times.items()}


def ours(case: Case, backend: str) -> Ops:
    """Our codec on one backend."""
    codec = Codec(case.k, case.n, backend)
    chunks = [bytes(c) for c in codec.encode(case.blob)]
    size = len(case.blob)

    def decode(subset: Sequence[int]) -> bytes:
        return codec.decode({i: chunks[i] for i in subset}, size)

    return case.check(lambda _: codec.encode(case.blob), decode)


def isal(case: Case) -> Ops | None:
    """pyeclib with ISA-L's Vandermonde Reed-Solomon, or None if pyeclib is not installed."""
    try:
        from pyeclib.ec_iface import ECDriver  # noqa: PLC0415 - a peer may be missing
    except ImportError:
        return None
    driver = ECDriver(k=case.k, m=case.n - case.k, ec_type="isa_l_rs_vand")
    fragments = driver.encode(case.blob)

    def decode(subset: Sequence[int]) -> bytes:
        result: bytes = driver.decode([fragments[i] for i in subset])
        return result

    return case.check(lambda _: driver.encode(case.blob), decode)


def zfec_ops(case: Case) -> Ops | None:
    """zfec on the blob split into k blocks, or None if zfec is not installed."""
    try:
        import zfec  # noqa: PLC0415 - a peer may be missing
    except ImportError:
        return None
    k, n, size = case.k, case.n, len(case.blob)
    block = -(-size // k)
    padded = case.blob + bytes(k * block - size)
    encoder, decoder = zfec.Encoder(k, n), zfec.Decoder(k, n)

    def encode(_: int) -> list[bytes]:
        view = memoryview(padded)
        blocks = tuple(view[i * block : (i + 1) * block] for i in range(k))
        encoded: list[bytes] = encoder.encode(blocks)
        return encoded

    blocks = encode(0)

    def decode(subset: Sequence[int]) -> bytes:
        parts = decoder.decode(tuple(blocks[i] for i in subset), tuple(subset))
        return b"".join(parts)[:size]

    return case.check(encode, decode)


def column_peer(case: Case, module: Any, name: str) -> tuple[Ops, int, int]:
    """A column-at-a-time reedsolo build on a slice of the columns: (ops, enc cols, dec cols)."""
    k, n = case.k, case.n
    rs = module.RSCodec(nsym=n - k)
    length = -(-len(case.blob) // k)
    padded = case.blob + bytes(k * length - len(case.blob))
    enc_cols, dec_cols = SLICE_COLUMNS[name]
    codewords = [rs.encode(bytearray(padded[c::length])) for c in range(dec_cols)]

    def encode(_: int) -> None:
        for c in range(enc_cols):
            rs.encode(bytearray(padded[c::length]))

    def decode(subset: Sequence[int]) -> list[bytearray]:
        kept = set(subset)
        erased = [p for p in range(n) if p not in kept]
        columns = []
        for word in codewords:
            damaged = bytearray(word)
            for p in erased:
                damaged[p] = 0
            columns.append(rs.decode(damaged, erase_pos=erased, only_erasures=True)[0])
        return columns

    expected = [padded[c::length] for c in range(dec_cols)]
    assert decode(case.random_subsets[0]) == expected
    assert decode(case.parity_subset) == expected
    ops = (encode, lambda r: decode(case.pick(r)), lambda _: decode(case.parity_subset))
    return ops, enc_cols, dec_cols


def bench_case(case: Case) -> dict[str, tuple[float, float, float] | None]:
    """Return every implementation's (encode, decode random, decode parity) MB/s for one shape."""
    size = len(case.blob)
    jobs: dict[str, Ops] = {}
    missing: list[str] = []
    for backend in available_backends():
        if backend != "reedsolo":
            jobs[f"ours-{backend}"] = ours(case, backend)
    for name, make in (("isal", isal), ("zfec", zfec_ops)):
        ops = make(case)
        if ops is None:
            missing.append(name)
        else:
            jobs[name] = ops
    results: dict[str, tuple[float, float, float] | None] = {}
    for name, (enc, rnd, par) in interleaved_medians(jobs, RUNS).items():
        results[name] = (mbps(size, enc), mbps(size, rnd), mbps(size, par))
    results.update(dict.fromkeys(missing))
    results.update(column_peers(case))
    return results


def column_peers(case: Case) -> dict[str, tuple[float, float, float] | None]:
    """creedsolo (if built) and pure reedsolo, extrapolated from a slice of the columns."""
    peers: list[tuple[str, Any]] = []
    try:
        import creedsolo  # noqa: PLC0415 - built only by the bench setup
    except ImportError:
        creedsolo = None
    if creedsolo is not None:
        peers.append(("creedsolo", creedsolo))
    peers.append(("reedsolo", reedsolo))
    results: dict[str, tuple[float, float, float] | None] = {"creedsolo~": None}
    for name, module in peers:
        ops, enc_cols, dec_cols = column_peer(case, module, name)
        enc, rnd, par = interleaved_medians({name: ops}, 5)[name]
        k = case.k
        results[f"{name}~"] = (
            mbps(enc_cols * k, enc),
            mbps(dec_cols * k, rnd),
            mbps(dec_cols * k, par),
        )
    return results


def make_case(k: int, n: int, blob: bytes, rng: random.Random) -> Case:
    """Return the shape's case with RUNS + 1 random k-subsets of the n chunks."""
    subsets = [sorted(rng.sample(range(n), k)) for _ in range(RUNS + 1)]
    return Case(k, n, blob, subsets)


def print_table(
    shape: tuple[int, int], results: dict[str, tuple[float, float, float] | None]
) -> None:
    """Print one shape's rows."""
    k, n = shape
    print(
        f"\nk={k} -> n={n}, {BLOB_SIZE // 1024} KiB blob (MB/s, median of {RUNS}; ~ extrapolated)"
    )
    print(f"{'implementation':<16}{'encode':>12}{'decode random':>16}{'decode parity':>16}")
    for name, figures in results.items():
        if figures is None:
            print(f"{name:<16}{'missing':>12}{'missing':>16}{'missing':>16}")
        else:
            enc, rnd, par = figures
            print(f"{name:<16}{enc:>12.2f}{rnd:>16.2f}{par:>16.2f}")


def ratio(ours: float, theirs: float | None) -> float | None:
    """Return ours / theirs rounded, or None when the peer is missing."""
    return round(ours / theirs, 2) if theirs else None


def summary(
    all_results: dict[tuple[int, int], dict[str, tuple[float, float, float] | None]],
) -> dict[str, Any]:
    """Build the final JSON object: flat figures per shape, and ratios at the headline shape."""
    encode: Figures = {}
    decode: Figures = {}
    for (k, n), results in all_results.items():
        for name, figures in results.items():
            key = f"{name} k{k}n{n}"
            encode[key] = round(figures[0], 2) if figures else None
            decode[f"{key} random"] = round(figures[1], 2) if figures else None
            decode[f"{key} parity"] = round(figures[2], 2) if figures else None
    headline = all_results[HEADLINE]
    ours = (
        headline[f"ours-{available_backends()[0]}"]
        if available_backends()[0] != "reedsolo"
        else None
    )
    out: dict[str, Any] = {
        "encode_MBps": encode,
        "decode_MBps": decode,
        "backend": available_backends()[0],
    }
    for peer, key in (
        ("isal", "ratio_vs_isal"),
        ("zfec", "ratio_vs_zfec"),
        ("creedsolo~", "ratio_vs_creedsolo"),
    ):
        theirs = headline.get(peer)
        if ours is None or theirs is None:
            out[key] = {"encode": None, "decode": None}
            continue
        out[key] = {
            "encode": ratio(ours[0], theirs[0]),
            # The weaker of the two decode cases, so the figure is never flattering.
            "decode": min(ratio(ours[1], theirs[1]) or 0.0, ratio(ours[2], theirs[2]) or 0.0),
        }
    return out


def main() -> None:
    """Run every shape, print the tables, then the JSON line."""
    rng = random.Random(2024)
    blob = rng.randbytes(BLOB_SIZE)
    all_results = {}
    for k, n in SHAPES:
        all_results[(k, n)] = bench_case(make_case(k, n, blob, rng))
        print_table((k, n), all_results[(k, n)])
    result = summary(all_results)
    print(f"\nours ({result['backend']}) vs ISA-L at k=32 -> n=96: {result['ratio_vs_isal']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
