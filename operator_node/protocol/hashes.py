"""keccak256, the one hash of the protocol.

pycryptodome's keccak is used directly rather than through ``eth_hash`` because it hashes any
buffer (``memoryview`` slices of a request body) without copying it into ``bytes`` first.

:func:`keccak256` hashes one buffer (in C when the extension is built), :func:`keccak256_many`
hashes many in one call. When the optional C extension
``_keccak`` is built it hashes 8 (AVX-512) or 4 (AVX2) buffers of equal length at once, one per
vector lane, with the GIL released; otherwise it hashes them one by one with pycryptodome. The
environment variable ``OPERATOR_NODE_KECCAK_BACKEND`` (``auto``, ``avx512``, ``avx2``,
``scalar`` or ``pycryptodome``) forces a backend.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TypeAlias

from Crypto.Hash import keccak

from operator_node.backends import pick_backend, read_backend_variable
from operator_node.errors import OperatorNodeError

try:
    from operator_node.protocol import _keccak
except ImportError:  # the C extension is optional: the build may have failed
    _keccak = None  # type: ignore[assignment]

WORD_BYTES = 32
ZERO_WORD = bytes(WORD_BYTES)

# What the protocol hashes: request bodies arrive as memoryview, encoders hold bytes.
Bytes: TypeAlias = bytes | bytearray | memoryview

KECCAK_BACKEND_ENV = "OPERATOR_NODE_KECCAK_BACKEND"
"""Environment variable forcing keccak256_many's backend: auto (default) or a KECCAK_BACKENDS."""

KECCAK_BACKENDS = ("avx512", "avx2", "scalar", "pycryptodome")
"""Every keccak256_many backend, fastest first; all but pycryptodome are the C extension's."""


class KeccakBackendError(OperatorNodeError, ValueError):
    """``OPERATOR_NODE_KECCAK_BACKEND`` names an unknown backend or one this machine cannot run."""


def keccak256(data: Bytes) -> bytes:
    """Return the 32-byte keccak256 (Ethereum's, not SHA3-256) of ``data``; no copy is made.

    The C extension's scalar code when built (about 1 us for a short message, against 8 us
    through pycryptodome's Python wrapper), unless ``OPERATOR_NODE_KECCAK_BACKEND`` is
    ``pycryptodome``.
    """
    if _keccak is not None and os.environ.get(KECCAK_BACKEND_ENV) != "pycryptodome":
        return _keccak.keccak256(data)
    return bytes(keccak.new(digest_bits=256, data=data).digest())


def available_keccak_backends() -> tuple[str, ...]:
    """Return the keccak256_many backends this machine runs, fastest first; pycryptodome last."""
    native = _keccak.backends() if _keccak is not None else ()
    return (*native, "pycryptodome")


def keccak_backend() -> str:
    """Return the backend :func:`keccak256_many` uses now, e.g. ``"avx512"`` or ``"pycryptodome"``.

    Reads ``OPERATOR_NODE_KECCAK_BACKEND`` at each call: unset, empty or ``auto`` picks the
    fastest available. Raises :class:`KeccakBackendError` for a name not in KECCAK_BACKENDS, and
    for one this machine cannot run (the CPU lacks it, or the C extension was not built). Call it
    at start-up to log the backend and to fail early on a bad environment.
    """
    built = _keccak is not None
    return pick_backend(
        read_backend_variable(KECCAK_BACKEND_ENV),
        component="keccak",
        source=KECCAK_BACKEND_ENV,
        known=KECCAK_BACKENDS,
        available=available_keccak_backends(),
        unknown_error=KeccakBackendError,
        unavailable_error=KeccakBackendError,
        why_unavailable="this CPU lacks it" if built else "the C extension was not built",
    )


def keccak256_many(buffers: Sequence[Bytes]) -> list[bytes]:
    """Return the keccak256 of each buffer, in order; the buffers are not copied.

    Buffers may have different lengths; the C backends batch those of equal length, so a list of
    same-length chunks is the fast case. Hashing releases the GIL, so threads hashing separate
    lists run in parallel. Raises TypeError if an item is not a bytes-like object (BufferError if
    it is not contiguous) and :class:`KeccakBackendError` if the backend variable is invalid.
    """
    backend = keccak_backend()
    if backend == "pycryptodome":
        return [keccak256(b) for b in buffers]
    return _keccak.keccak256_many(buffers, backend)
