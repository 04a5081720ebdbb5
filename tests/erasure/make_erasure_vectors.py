"""Generate the erasure codec's known-answer vectors with reedsolo alone (run once, commit).

    .venv/bin/python tests/erasure/make_erasure_vectors.py

Each vector is a (k, n, blob) and the n chunks reedsolo makes of it: the blob is zero-padded to
k * L bytes (L = ceil(len / k) rounded up to 64), split into k rows, and every byte column is
``RSCodec(nsym=n - k).encode(column)``. Small vectors keep the chunks themselves, large ones the
SHA-256 of each chunk. Nothing from operator_node is used, so the vectors pin reedsolo's code.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version
from pathlib import Path

import reedsolo

VECTORS = Path(__file__).parent / "vectors" / "reedsolo.json"

# (k, n, blob length): edge shapes (k = 1, n - k = 1, n = 255), odd lengths, multi-row chunks.
SHAPES = [
    (1, 2, 1),
    (1, 255, 5),
    (2, 3, 64),
    (3, 5, 100),
    (4, 12, 300),
    (10, 14, 640),
    (16, 48, 1000),
    (32, 96, 200),
    (7, 9, 1000),
    (200, 255, 300),
    (254, 255, 1000),
]
# Vectors whose chunks add up to at most this many bytes are stored whole.
INLINE_LIMIT = 2048


def reference_chunks(blob: bytes, k: int, n: int) -> list[bytes]:
    """Return the n chunks of blob, computed column by column with reedsolo."""
    per_row = -(-len(blob) // k)
    length = -(-per_row // 64) * 64
    padded = blob + bytes(k * length - len(blob))
    codec = reedsolo.RSCodec(nsym=n - k)
    rows = [bytearray(length) for _ in range(n)]
    for c in range(length):
        for row, byte in zip(rows, codec.encode(padded[c::length]), strict=True):
            row[c] = byte
    return [bytes(r) for r in rows]


def blob_for(k: int, n: int, size: int) -> bytes:
    """Return a deterministic pseudo-random blob for a shape."""
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"erasure-vector {k} {n} {size} {counter}".encode()).digest()
        counter += 1
    return out[:size]


def make_vector(k: int, n: int, size: int) -> dict[str, object]:
    """Return one vector as a JSON-ready dict."""
    blob = blob_for(k, n, size)
    chunks = reference_chunks(blob, k, n)
    vector: dict[str, object] = {"k": k, "n": n, "blob": blob.hex(), "chunk_length": len(chunks[0])}
    if sum(len(c) for c in chunks) <= INLINE_LIMIT:
        vector["chunks"] = [c.hex() for c in chunks]
    else:
        vector["chunk_sha256"] = [hashlib.sha256(c).hexdigest() for c in chunks]
    return vector


def main() -> None:
    """Write the vectors file."""
    document = {
        "generator": "reedsolo " + version("reedsolo"),
        "vectors": [make_vector(k, n, size) for k, n, size in SHAPES],
    }
    VECTORS.write_text(json.dumps(document, indent=1) + "\n")


if __name__ == "__main__":
    main()
