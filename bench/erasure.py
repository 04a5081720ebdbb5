"""Erasure codec throughput against its peers, in one process on the same data.

Shapes: k=32 -> n=96 with a 2 MiB blob (the headline), k=16 -> n=48 and k=64 -> n=192 with the
same blob. For each implementation: encode MB/s and decode MB/s, decoding from a random k of the
n chunks (a fresh pattern each run, the same patterns for every implementation) and from the
worst case, parity chunks only. MB/s counts blob bytes (10^6 bytes per second); figures are medians
of repeated runs.

Peers: ISA-L 2.32 (the reference), called through ctypes on a library that `make bench` builds
from source; pyeclib's isa_l_rs_vand (liberasurecode over the ISA-L 2.32.0 its wheel bundles, so
the same kernels behind a fragment format and its copies); zfec; reedsolo's Cython build creedsolo
and pure-Python reedsolo. The last two are far too slow for a whole blob: they are timed on a
slice of the byte columns and extrapolated to the blob (marked "~"). A peer that is not installed
is reported as missing. The last line printed is a JSON object of the figures, with our ratio to
each peer at every shape.

GF(2^16): our Leopard-compatible code against reed-solomon-leopard (reed-solomon-simd 3's Python
bindings, the same code bit for bit) at k=32 -> n=96 (2 MiB), k=1024 -> n=8192 and k=2048 ->
n=16384 (16 MiB): encode, and decode with half the data chunks lost (the other half and the first
parity chunks given). Both sides are checked to decode each other's round trip first.

ISA-L's code is its own (a Cauchy matrix, so its parity differs from ours): only speed is
compared, and its round trip is checked like every peer's so that a broken binding cannot post a
fast figure. Both sides allocate their output the same way (an uninitialised bytes object) and
both cache decode matrices per erasure pattern, so a decode from a fresh random pattern includes
the matrix inversion on both sides and the repeated parity-only pattern includes it on neither.

The disperser's encoding-validity cost (``fingerprint_z``): at each GF(2^8) shape, Z, the FP-v1
fingerprint rows of the k data chunks at two points (``erasure.fingerprint.fingerprints``, what
``EncodedBlob.from_chunks`` adds to a blob), against encoding the same blob with our codec (the
fastest backend), interleaved, medians of the same number of runs: ``z_over_encode`` is the
ratio of their times. GF(2^16) has no fingerprint profile (its blobs are profile 0): no Z to time.
"""

from __future__ import annotations

import ctypes
import gc
import json
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import reedsolo

from operator_node.erasure import Codec, available_backends
from operator_node.erasure.fingerprint import DEGREE, fingerprints

try:
    import reed_solomon_leopard as leopard
except ImportError:  # a dev dependency; without it the GF(2^16) rows have no peer
    leopard = None

BLOB_SIZE = 2 * 1024 * 1024
SHAPES = [(32, 96), (16, 48), (64, 192)]
HEADLINE = (32, 96)
RUNS = 21
# Columns timed for the column-at-a-time peers: (encode, decode), per implementation.
SLICE_COLUMNS = {"creedsolo": (2048, 48), "reedsolo": (256, 8)}

Figures = dict[str, float | None]

ISAL_LIBRARY = Path("build", "isal", "libisal.so")
"""ISA-L as the Makefile's isal stamp builds it, relative to the repository root."""
ISAL_SERIES = (2, 32)
ISAL_PEER = "isal-2.32"
# Peer row -> the key of our ratio to it in the JSON.
PEERS = (
    (ISAL_PEER, "ratio_vs_isal_2_32"),
    ("pyeclib", "ratio_vs_pyeclib"),
    ("zfec", "ratio_vs_zfec"),
    ("creedsolo~", "ratio_vs_creedsolo"),
)


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


def load_isal(root: Path) -> tuple[ctypes.CDLL | None, str]:
    """Return (ISA-L, its version) from root/ISAL_LIBRARY, or (None, why it cannot be used)."""
    path = root / ISAL_LIBRARY
    if not path.exists():
        return None, f"{ISAL_LIBRARY} is not built (make bench builds it; it needs nasm)"
    lib = ctypes.CDLL(str(path))
    lib.isal_get_version.restype = ctypes.c_uint
    number = int(lib.isal_get_version())
    version = (number >> 16, (number >> 8) & 0xFF, number & 0xFF)
    if version[:2] != ISAL_SERIES:
        return None, f"{ISAL_LIBRARY} is ISA-L {version}, not 2.32.x"
    ptr, num = ctypes.c_void_p, ctypes.c_int
    for name, args in (
        ("gf_gen_cauchy1_matrix", (ptr, num, num)),
        ("gf_invert_matrix", (ptr, ptr, num)),
        ("ec_init_tables", (num, num, ptr, ptr)),
        ("ec_init_tables_base", (num, num, ptr, ptr)),
        ("ec_encode_data", (num, num, num, ptr, ptr, ptr)),
    ):
        getattr(lib, name).argtypes = args
        getattr(lib, name).restype = num if name == "gf_invert_matrix" else None
    return lib, ".".join(map(str, version))


def isal_uses_gfni(lib: ctypes.CDLL) -> bool:
    """Return whether ISA-L dispatched to its GFNI kernels on this CPU.

    ec_init_tables and ec_encode_data dispatch on the same CPU features, and only the GFNI
    kernels take tables that differ from the portable ones.
    """
    matrix = bytes([1, 2, 3, 4])
    dispatched, portable = ctypes.create_string_buffer(128), ctypes.create_string_buffer(128)
    lib.ec_init_tables(2, 2, matrix, dispatched)
    lib.ec_init_tables_base(2, 2, matrix, portable)
    return dispatched.raw != portable.raw


class PyBytes:
    """Uninitialised bytes objects and their addresses, as a C extension makes and fills them.

    Our codec returns its output in such an object; giving ISA-L a zero-filled bytearray instead
    would charge it for a memset ours does not do.
    """

    def __init__(self) -> None:
        api = ctypes.pythonapi
        self._new = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.c_ssize_t)(
            ("PyBytes_FromStringAndSize", api)
        )
        self._address = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object)(
            ("PyBytes_AsString", api)
        )

    def new(self, size: int) -> bytes:
        """Return a new bytes object of `size` bytes, not yet written: fill it before sharing."""
        made: bytes = self._new(None, size)
        return made

    def address(self, data: bytes) -> int:
        """Return the address of the bytes inside `data`."""
        return int(self._address(data))


def pointers(addresses: Sequence[int]) -> ctypes.Array[ctypes.c_void_p]:
    """Return a C array of the addresses (an unsigned char ** for ISA-L)."""
    return (ctypes.c_void_p * len(addresses))(*addresses)


class IsalCode:
    """ISA-L's Reed-Solomon code for one shape: a Cauchy matrix, identity on top, via ctypes."""

    def __init__(self, lib: ctypes.CDLL, k: int, n: int) -> None:
        self._lib, self._k, self._n = lib, k, n
        self._bytes = PyBytes()
        matrix = ctypes.create_string_buffer(n * k)
        lib.gf_gen_cauchy1_matrix(matrix, n, k)
        self._matrix = matrix.raw
        self._encoder = self._tables(self._matrix[k * k :], n - k)
        self._decoders: dict[tuple[int, ...], tuple[list[int], ctypes.Array[ctypes.c_char]]] = {}

    def encode(self, blob: bytes, length: int) -> bytes:
        """Return the n - k parity chunks of blob (k rows of `length` bytes) back to back."""
        k, m = self._k, self._n - self._k
        parity = self._bytes.new(m * length)
        data, out = self._bytes.address(blob), self._bytes.address(parity)
        sources = pointers([data + i * length for i in range(k)])
        targets = pointers([out + i * length for i in range(m)])
        self._lib.ec_encode_data(length, k, m, self._encoder, sources, targets)
        return parity

    def decode(self, rows: Sequence[int], chunks: Sequence[bytes]) -> bytes:
        """Return the k data rows back to back from k chunks, numbered by `rows` (ascending).

        The data rows received are copied; the lost ones are the inverse's rows times the chunks.
        """
        k, length = self._k, len(chunks[0])
        blob = self._bytes.new(k * length)
        out = self._bytes.address(blob)
        sources = [self._bytes.address(c) for c in chunks]
        for row, source in zip(rows, sources, strict=True):
            if row < k:
                ctypes.memmove(out + row * length, source, length)
        lost, tables = self._decoder(tuple(rows))
        if lost:
            targets = pointers([out + i * length for i in lost])
            self._lib.ec_encode_data(length, k, len(lost), tables, pointers(sources), targets)
        return blob

    def _decoder(self, rows: tuple[int, ...]) -> tuple[list[int], ctypes.Array[ctypes.c_char]]:
        """Return the lost data rows and their decode tables, cached per pattern as ours are.

        Ours keeps the last 64 patterns; a run here uses fewer, so a plain dict is the same.
        """
        cached = self._decoders.get(rows)
        if cached is not None:
            return cached
        k = self._k
        # gf_invert_matrix works in place on its input: hand it a copy.
        received = ctypes.create_string_buffer(
            b"".join(self._matrix[r * k : (r + 1) * k] for r in rows), k * k
        )
        inverse = ctypes.create_string_buffer(k * k)
        if self._lib.gf_invert_matrix(received, inverse, k) != 0:
            raise ValueError(f"ISA-L found rows {rows} singular")
        received_rows = set(rows)
        lost = [i for i in range(k) if i not in received_rows]
        wanted = b"".join(inverse.raw[i * k : (i + 1) * k] for i in lost)
        self._decoders[rows] = (lost, self._tables(wanted, len(lost)))
        return self._decoders[rows]

    def _tables(self, matrix: bytes, rows: int) -> ctypes.Array[ctypes.c_char]:
        """Return ec_init_tables' tables for `rows` rows of k coefficients (32 bytes each)."""
        tables = ctypes.create_string_buffer(32 * self._k * max(rows, 1))
        self._lib.ec_init_tables(self._k, rows, matrix, tables)
        return tables


def isal_ops(case: Case, lib: ctypes.CDLL | None) -> Ops | None:
    """ISA-L 2.32 through ctypes, or None if it was not built."""
    if lib is None:
        return None
    k, size = case.k, len(case.blob)
    length = size // k
    # Every shape splits the blob into whole rows, so neither side pads.
    assert k * length == size
    code = IsalCode(lib, k, case.n)
    parity = code.encode(case.blob, length)
    stored = [case.blob[i * length : (i + 1) * length] for i in range(k)]
    stored += [parity[i * length : (i + 1) * length] for i in range(case.n - k)]

    def decode(subset: Sequence[int]) -> bytes:
        return code.decode(subset, [stored[i] for i in subset])

    return case.check(lambda _: code.encode(case.blob, length), decode)


def pyeclib_ops(case: Case) -> Ops | None:
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


def bench_case(
    case: Case, isal: ctypes.CDLL | None
) -> dict[str, tuple[float, float, float] | None]:
    """Return every implementation's (encode, decode random, decode parity) MB/s for one shape."""
    size = len(case.blob)
    jobs: dict[str, Ops] = {}
    missing: list[str] = []
    for backend in available_backends():
        if backend != "reedsolo":
            jobs[f"ours-{backend}"] = ours(case, backend)
    peers: list[tuple[str, Callable[[Case], Ops | None]]] = [
        (ISAL_PEER, lambda c: isal_ops(c, isal)),
        ("pyeclib", pyeclib_ops),
        ("zfec", zfec_ops),
    ]
    for name, make in peers:
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


def peer_ratios(
    ours: tuple[float, float, float] | None, theirs: tuple[float, float, float] | None
) -> Figures:
    """Return our ratios to one peer; "decode" is the weaker decode case, never flattering."""
    if ours is None or theirs is None:
        return dict.fromkeys(("encode", "decode", "decode_random", "decode_parity"))
    encode, random_, parity = (ratio(a, b) for a, b in zip(ours, theirs, strict=True))
    return {
        "encode": encode,
        "decode": min(random_ or 0.0, parity or 0.0),
        "decode_random": random_,
        "decode_parity": parity,
    }


def summary(
    all_results: dict[tuple[int, int], dict[str, tuple[float, float, float] | None]],
) -> dict[str, Any]:
    """Build the final JSON object: flat figures and our ratio to each peer, per shape.

    The ratios at the headline shape are also given at the top level, ratio_vs_isal_2_32 first.
    """
    encode: Figures = {}
    decode: Figures = {}
    for (k, n), results in all_results.items():
        for name, figures in results.items():
            key = f"{name} k{k}n{n}"
            encode[key] = round(figures[0], 2) if figures else None
            decode[f"{key} random"] = round(figures[1], 2) if figures else None
            decode[f"{key} parity"] = round(figures[2], 2) if figures else None
    backend = available_backends()[0]
    out: dict[str, Any] = {"encode_MBps": encode, "decode_MBps": decode, "backend": backend}
    by_shape: dict[str, dict[str, Figures]] = {}
    for (k, n), results in all_results.items():
        ours = results[f"ours-{backend}"] if backend != "reedsolo" else None
        by_shape[f"k{k}n{n}"] = {key: peer_ratios(ours, results.get(peer)) for peer, key in PEERS}
    out.update(by_shape[f"k{HEADLINE[0]}n{HEADLINE[1]}"])
    out["ratios_by_shape"] = by_shape
    return out


def fingerprint_case(case: Case, rng: random.Random) -> dict[str, float]:
    """Z of one blob (fingerprints of its k data chunks) against encoding it: medians, ratio."""
    codec = Codec(case.k, case.n)
    data_chunks = codec.encode(case.blob)[: case.k]
    length = len(data_chunks[0])
    points = rng.randbytes(2 * DEGREE)  # from the commitment in the protocol; any two will do
    assert len(fingerprints(data_chunks, length, points)) == 64 * case.k
    jobs: dict[str, Ops] = {
        "encode": (lambda _: codec.encode(case.blob), lambda _: None, lambda _: None),
        "z": (lambda _: fingerprints(data_chunks, length, points), lambda _: None, lambda _: None),
    }
    medians = interleaved_medians(jobs, RUNS)
    encode_s, z_s = medians["encode"][0], medians["z"][0]
    size = len(case.blob)
    return {
        "encode_ms": round(encode_s * 1000, 3),
        "z_ms": round(z_s * 1000, 3),
        "encode_MBps": round(mbps(size, encode_s), 1),
        "z_MBps": round(mbps(size, z_s), 1),
        "z_over_encode": round(z_s / encode_s, 3),
    }


def fingerprint_section(rng: random.Random, blob: bytes) -> dict[str, Any]:
    """Z against encoding at every GF(2^8) shape, printed as a table; the figures by shape."""
    print(f"\nDisperser's Z (FP-v1, 2 points) vs encoding the same blob, ms (median of {RUNS})")
    print(f"{'shape':>10} {'encode':>9} {'Z':>9} {'Z MB/s':>9} {'Z/encode':>9}")
    out: dict[str, Any] = {}
    for k, n in SHAPES:
        f = fingerprint_case(Case(k, n, blob), rng)
        out[f"k{k}n{n}"] = f
        print(
            f"{f'k={k} n={n}':>10} {f['encode_ms']:>9} {f['z_ms']:>9} {f['z_MBps']:>9} "
            f"{f['z_over_encode']:>9}"
        )
    out["gf16"] = "no Z: GF(2^16) blobs carry no fingerprint (FP-v1 is GF(2^8) only; profile 0)"
    print(f"{'GF(2^16)':>10} {out['gf16']}")
    return out


GF16_SHAPES = [(32, 96, 2 << 20), (1024, 8192, 16 << 20), (2048, 16384, 16 << 20)]
GF16_RUNS = 7


def gf16_case(k: int, n: int, size: int, rng: random.Random) -> dict[str, float | None]:
    """Our GF(2^16) code and reed-solomon-leopard on one shape: MB/s and our ratios."""
    blob = rng.randbytes(size)
    codec = Codec(k, n, field=16)
    chunks = [bytes(c) for c in codec.encode(blob)]
    originals, r = chunks[:k], n - k
    lost = set(range(0, k, 2))
    given = [i for i in range(k) if i not in lost] + [k + j for j in range(len(lost))]
    subset = {i: chunks[i] for i in given}
    assert codec.decode(subset, size) == blob
    jobs: dict[str, Ops] = {
        "ours": (
            lambda _: codec.encode(blob),
            lambda _: codec.decode(subset, size),
            lambda _: None,
        )
    }
    if leopard is not None:
        assert list(leopard.encode(originals, r)) == chunks[k:]  # the same code, bit for bit
        kept = {i: originals[i] for i in range(k) if i not in lost}
        recovery = {j: chunks[k + j] for j in range(len(lost))}
        restored = leopard.decode(k, r, kept, recovery)
        assert all(restored[i] == originals[i] for i in lost)
        jobs["leopard"] = (
            lambda _: leopard.encode(originals, r),
            lambda _: leopard.decode(k, r, kept, recovery),
            lambda _: None,
        )
    medians = interleaved_medians(jobs, GF16_RUNS)
    figures: dict[str, float | None] = {}
    for name in ("ours", "leopard"):
        times = medians.get(name)
        figures[f"{name}_encode_MBps"] = round(mbps(size, times[0]), 1) if times else None
        figures[f"{name}_decode_MBps"] = round(mbps(size, times[1]), 1) if times else None
    figures["ratio_encode"] = ratio(
        figures["ours_encode_MBps"] or 0.0, figures["leopard_encode_MBps"]
    )
    figures["ratio_decode"] = ratio(
        figures["ours_decode_MBps"] or 0.0, figures["leopard_decode_MBps"]
    )
    return figures


def gf16_section(rng: random.Random) -> dict[str, dict[str, float | None]]:
    """Every GF(2^16) shape, printed as a table; returns the figures by shape."""
    print("\nGF(2^16), MB/s (decode: half the data chunks lost)")
    print(f"{'shape':>18} {'ours enc':>9} {'leopard':>9} {'ratio':>6} "
          f"{'ours dec':>9} {'leopard':>9} {'ratio':>6}")  # fmt: skip
    out = {}
    for k, n, size in GF16_SHAPES:
        f = gf16_case(k, n, size, rng)
        out[f"k{k}n{n}"] = f
        print(
            f"{f'k={k} n={n} {size >> 20} MiB':>18} {f['ours_encode_MBps']!s:>9} "
            f"{f['leopard_encode_MBps']!s:>9} {f['ratio_encode']!s:>6} "
            f"{f['ours_decode_MBps']!s:>9} {f['leopard_decode_MBps']!s:>9} "
            f"{f['ratio_decode']!s:>6}"
        )
    return out


def main() -> None:
    """Run every shape, print the tables, then the JSON line."""
    isal, isal_version = load_isal(Path(__file__).resolve().parent.parent)
    if isal is None:
        print(f"ISA-L 2.32 unavailable, {ISAL_PEER} skipped: {isal_version}")
    else:
        kernels = "GFNI" if isal_uses_gfni(isal) else "non-GFNI"
        print(f"ISA-L {isal_version} from {ISAL_LIBRARY}, dispatched to {kernels} kernels")
    rng = random.Random(2024)
    blob = rng.randbytes(BLOB_SIZE)
    all_results = {}
    for k, n in SHAPES:
        all_results[(k, n)] = bench_case(make_case(k, n, blob, rng), isal)
        print_table((k, n), all_results[(k, n)])
    result = summary(all_results)
    result["isal_version"] = isal_version if isal is not None else None
    result["gf16_vs_leopard"] = gf16_section(rng)
    result["fingerprint_z"] = fingerprint_section(rng, blob)
    print(f"\nours ({result['backend']}) vs ISA-L 2.32, per shape:")
    for shape, ratios in result["ratios_by_shape"].items():
        print(f"  {shape}: {ratios['ratio_vs_isal_2_32']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
