"""The erasure codec: two systematic Reed-Solomon codes, run by the fastest kernel this CPU has.

Both split a blob zero-padded to k * L bytes row-major into k data chunks of L bytes, where
L = chunk_length(len(blob), k), and add n - k parity chunks:

- ``field=8``: GF(2^8) with reedsolo's defaults (primitive polynomial 0x11d, generator 2, fcr 0),
  n <= 255. For every byte position j, the column (chunk_0[j], ..., chunk_{n-1}[j]) equals
  ``reedsolo.RSCodec(nsym=n - k).encode(bytes(chunk_0[j], ..., chunk_{k-1}[j]))``.
- ``field=16``: GF(2^16) with Leopard's field and additive FFT, n <= 65,535 (within
  reed-solomon-simd's limits, see ``_leopard.supports``). Parity chunk k + j is recovery shard j
  of ``reed_solomon_leopard.encode(data_chunks, n - k)``, bit for bit.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING

from operator_node.backends import pick_backend, read_backend_variable
from operator_node.erasure._backend import Backend
from operator_node.erasure._reference import ReedsoloBackend
from operator_node.erasure.errors import (
    BackendUnavailableError,
    BlobLengthError,
    ChunkIndexError,
    ChunkLengthError,
    ChunkTypeError,
    CodecParameterError,
    DuplicateIndexError,
    ErasureError,
    NotEnoughChunksError,
)

if TYPE_CHECKING:
    from typing_extensions import Buffer

try:
    from operator_node.erasure import _rs
    from operator_node.erasure._native import NativeBackend
except ImportError:  # the C extension is optional: the build may have failed
    _rs = None  # type: ignore[assignment]

try:
    from operator_node.erasure import _gf16, _leopard
except ImportError:  # without its C extension the GF(2^16) code is unavailable
    _gf16 = None  # type: ignore[assignment]
    _leopard = None  # type: ignore[assignment]

BACKEND_ENV = "OPERATOR_NODE_RS_BACKEND"
"""Environment variable that picks the backend when the constructor is left at "auto"."""

BACKENDS = ("gfni", "avx2", "ssse3", "scalar", "reedsolo")
"""Every backend name, fastest first."""

CHUNK_ALIGN = 64
"""Chunk lengths are multiples of this, the widest vector the kernels use."""

FIELDS = (8, 16)
"""Bits per symbol of the two codes: GF(2^8) (n <= 255) and GF(2^16) (n <= 65,535)."""

MAX_CHUNKS = {8: 255, 16: 65535}
"""Most chunks a blob can have in each field."""

# Backend name -> C kernels implementing it, preferred first. GFNI runs on 64-byte vectors when
# the CPU has AVX-512 and on 32-byte vectors with AVX2 otherwise.
_KERNELS = {
    "gfni": ("gfni512", "gfni256"),
    "avx2": ("avx2",),
    "ssse3": ("ssse3",),
    "scalar": ("scalar",),
}


def chunk_length(data_len: int, k: int, field: int = 8) -> int:
    """Return L, the chunk length of a blob of `data_len` bytes split into k data chunks.

    L = ceil(data_len / k) rounded up to a multiple of 64, in either field. Raises
    BlobLengthError if data_len < 1 and CodecParameterError if k is not below the field's most
    chunks (1..254 or 1..65534).
    """
    k = _check_int(k, "k", CodecParameterError)
    data_len = _check_int(data_len, "data length")
    top = MAX_CHUNKS.get(field, 0) - 1
    if not 1 <= k <= top:
        raise CodecParameterError(f"k must be in 1..{top} for field {field}, got {k}")
    if data_len < 1:
        raise BlobLengthError(f"a blob must hold at least 1 byte, got {data_len}")
    per_chunk = -(-data_len // k)
    return -(-per_chunk // CHUNK_ALIGN) * CHUNK_ALIGN


def available_backends() -> tuple[str, ...]:
    """Return the backends this machine can run, fastest first; "reedsolo" is always last."""
    kernels = _rs.kernels() if _rs is not None else ()
    native = [name for name, impls in _KERNELS.items() if any(i in kernels for i in impls)]
    return (*native, "reedsolo")


def field_available(field: int) -> bool:
    """Whether this machine can run the code of `field` (8 always; 16 needs its C extension)."""
    return field == 8 or (field == 16 and _gf16 is not None)


def select_backend(requested: str = "auto") -> str:
    """Return the backend a Codec built with `requested` would use, without building one.

    An explicit name is checked as is; "auto" takes the name from OPERATOR_NODE_RS_BACKEND when
    that is set, else the fastest available backend. Raises CodecParameterError for an unknown
    name and BackendUnavailableError for one this machine cannot run. Call it at start-up to log
    the backend and to fail early on a bad environment.
    """
    name, source = requested, "the backend argument"
    if requested == "auto":
        name, source = read_backend_variable(BACKEND_ENV), BACKEND_ENV
    return pick_backend(
        name,
        component="erasure",
        source=source,
        known=BACKENDS,
        available=available_backends(),
        unknown_error=CodecParameterError,
        unavailable_error=BackendUnavailableError,
    )


def _make_backend(name: str, k: int, n: int, field: int) -> Backend:
    """Build the named backend (already checked to be available) for one shape."""
    if field == 16:
        # reedsolo knows only GF(2^8); for GF(2^16) the portable reference is the scalar kernel.
        kernels = _gf16.kernels()
        wanted = _KERNELS.get(name, ("scalar",))
        kernel = next((i for i in wanted if i in kernels), "scalar")
        return _leopard.LeopardBackend(name, kernel, k, n)
    if name == "reedsolo" or _rs is None:
        return ReedsoloBackend(k, n)
    kernels = _rs.kernels()
    kernel = next(i for i in _KERNELS[name] if i in kernels)
    return NativeBackend(name, kernel, k, n)


def _check_int(value: object, what: str, error: type[ErasureError] = ChunkTypeError) -> int:
    """Return value as an int (anything with __index__ but bool), else raise `error`."""
    if isinstance(value, bool) or not hasattr(type(value), "__index__"):
        raise error(f"{what} must be an int, not {type(value).__name__}")
    return operator.index(value)  # type: ignore[arg-type]


def _check_buffer(value: object, what: str) -> memoryview:
    """Return a flat byte view of a bytes-like object without copying it."""
    try:
        view = memoryview(value)  # type: ignore[arg-type]
    except TypeError:
        raise ChunkTypeError(f"{what} must be bytes-like, not {type(value).__name__}") from None
    if not view.c_contiguous:
        raise ChunkTypeError(f"{what} must be a contiguous buffer")
    if view.ndim == 1 and view.format == "B":
        return view
    try:
        return view.cast("B")
    except TypeError:
        raise ChunkTypeError(f"{what} cannot be read as bytes") from None


class Codec:
    """Systematic Reed-Solomon code: k data chunks, n chunks in all, over GF(2^field).

    ``backend`` is "auto" or one of BACKENDS. An explicit name wins; "auto" takes the name from
    the OPERATOR_NODE_RS_BACKEND environment variable if set (so a deployed node can be forced onto
    a path), else the fastest backend available. A name the machine cannot run raises
    BackendUnavailableError, an unknown name CodecParameterError. For field 16 the backend names
    the kernel family the same way, and "reedsolo" (which knows only GF(2^8)) means the portable
    scalar kernel. The codec is immutable apart from its cache of decode matrices and may be
    shared between threads; the C kernels release the GIL.
    """

    def __init__(self, k: int, n: int, backend: str = "auto", *, field: int = 8) -> None:
        k = _check_int(k, "k", CodecParameterError)
        n = _check_int(n, "n", CodecParameterError)
        field = _check_int(field, "field", CodecParameterError)
        if field not in FIELDS:
            raise CodecParameterError(f"field must be 8 or 16 (bits per symbol), got {field}")
        top = MAX_CHUNKS[field]
        if not 1 <= k < n <= top:
            raise CodecParameterError(f"need 1 <= k < n <= {top}, got k={k}, n={n}")
        if not isinstance(backend, str):
            raise CodecParameterError(f"backend must be a str, not {type(backend).__name__}")
        if field == 16:
            if _leopard is None:
                raise BackendUnavailableError("the GF(2^16) code needs its C extension (_gf16)")
            if not _leopard.supports(k, n):
                raise CodecParameterError(
                    f"GF(2^16) has no code with k={k}, n={n}: needs min(next_pow2(k), "
                    "next_pow2(n - k)) + max(k, n - k) <= 65536"
                )
        self._k = k
        self._n = n
        self._field = field
        self._impl = _make_backend(select_backend(backend), k, n, field)

    @property
    def k(self) -> int:
        """Number of data chunks; any k distinct chunks rebuild the blob."""
        return self._k

    @property
    def n(self) -> int:
        """Number of chunks in all: k data chunks, then n - k parity chunks."""
        return self._n

    @property
    def field(self) -> int:
        """Bits per symbol: 8 (GF(2^8), reedsolo's code) or 16 (GF(2^16), Leopard's code)."""
        return self._field

    @property
    def backend(self) -> str:
        """Name of the backend in use: "gfni", "avx2", "ssse3", "scalar" or "reedsolo"."""
        return self._impl.name

    def chunk_length(self, data_len: int) -> int:
        """Return the chunk length L for a blob of `data_len` bytes (see chunk_length)."""
        return chunk_length(data_len, self._k, self._field)

    def encode(self, blob: Buffer) -> list[memoryview]:
        """Return the n chunks of blob, each of chunk_length(len(blob), k) bytes.

        blob is any non-empty contiguous bytes-like object; it is not copied. Chunk i < k is data
        row i of blob zero-padded to k * L bytes, the rest are parity. Chunks are read-only
        memoryviews: those that lie wholly inside blob view blob itself (so blob must not change
        while they are in use), the others view new bytes objects. Raises ChunkTypeError or
        BlobLengthError.
        """
        view = _check_buffer(blob, "blob")
        length = chunk_length(len(view), self._k, self._field)
        return [c.toreadonly() for c in self._impl.encode(view, length)]

    def decode(self, chunks: Mapping[int, Buffer], length: int) -> bytes:
        """Return the blob of `length` bytes from any k or more distinct chunks {index: chunk}.

        When more than k chunks are given the lowest k indices are used (data chunks need no
        arithmetic); the others are not checked. Raises ChunkTypeError, ChunkIndexError,
        DuplicateIndexError, NotEnoughChunksError, ChunkLengthError or BlobLengthError.
        """
        size = _check_int(length, "length")
        given, chunk_len = self._collect(chunks)
        rows = sorted(given)[: self._k]
        if not 1 <= size <= self._k * chunk_len:
            raise BlobLengthError(
                f"length must be in 1..{self._k * chunk_len} (k * chunk length), got {size}"
            )
        return self._impl.decode(rows, [given[r] for r in rows], chunk_len, size)

    def reconstruct(
        self, present: Mapping[int, Buffer], want: Iterable[int]
    ) -> dict[int, memoryview]:
        """Return {index: chunk} for every index in want, rebuilt from k or more present chunks.

        Wanted chunks that are present are returned as views of the given buffers; the rest are
        views of one new bytes object. Raises like decode, and DuplicateIndexError if want repeats.
        """
        wanted = self._check_want(want)
        given, chunk_len = self._collect(present)
        missing = [w for w in wanted if w not in given]
        if missing:
            rows = sorted(given)[: self._k]
            views = [given[r] for r in rows]
            given.update(
                zip(missing, self._impl.reconstruct(rows, views, chunk_len, missing), strict=True)
            )
        return {w: given[w].toreadonly() for w in wanted}

    def _check_index(self, value: object) -> int:
        index = _check_int(value, "chunk index")
        if not 0 <= index < self._n:
            raise ChunkIndexError(f"chunk index must be in 0..{self._n - 1}, got {index}")
        return index

    def _check_want(self, want: Iterable[int]) -> list[int]:
        """Return the wanted indices, each checked, in the order given."""
        if isinstance(want, (str, bytes)) or not isinstance(want, Iterable):
            raise ChunkTypeError(f"want must be an iterable of ints, not {type(want).__name__}")
        wanted = [self._check_index(w) for w in want]
        if len(set(wanted)) != len(wanted):
            raise DuplicateIndexError(f"want repeats an index: {wanted}")
        return wanted

    def _collect(self, chunks: Mapping[int, Buffer]) -> tuple[dict[int, memoryview], int]:
        """Check {index: chunk}; return the chunks as byte views and their common length.

        Indices are checked before buffers are looked at (the cheaper check first).
        """
        if not isinstance(chunks, Mapping):
            raise ChunkTypeError(f"chunks must be a Mapping, not {type(chunks).__name__}")
        items = list(chunks.items())
        indices = [self._check_index(key) for key, _ in items]
        if len(set(indices)) != len(indices):
            raise DuplicateIndexError(f"two keys name the same chunk index: {sorted(indices)}")
        if len(indices) < self._k:
            raise NotEnoughChunksError(f"need at least k={self._k} chunks, got {len(indices)}")
        views = {
            i: _check_buffer(value, f"chunk {i}")
            for i, (_, value) in zip(indices, items, strict=True)
        }
        lengths = {len(v) for v in views.values()}
        if len(lengths) != 1:
            raise ChunkLengthError(f"chunks differ in length: {sorted(lengths)}")
        chunk_len = lengths.pop()
        if chunk_len == 0 or chunk_len % CHUNK_ALIGN:
            raise ChunkLengthError(
                f"chunk length must be a positive multiple of {CHUNK_ALIGN}, got {chunk_len}"
            )
        return views, chunk_len


@lru_cache(maxsize=64)
def cached_codec(k: int, n: int, backend: str = "auto", field: int = 8) -> Codec:
    """Return a shared Codec(k, n, backend, field=field), built once per argument tuple.

    Reusing a codec keeps its prepared encode matrix and its cache of decode matrices (building
    a Codec per request throws both away); codecs are safe to share between threads. "auto" is
    resolved on the first call for a shape. Raises like Codec.
    """
    return Codec(k, n, backend, field=field)
