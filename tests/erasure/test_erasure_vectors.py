"""Known-answer vectors made once with reedsolo: they pin the code for us and for reedsolo."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from erasure.erasure_support import ALL_BACKENDS
from erasure.make_erasure_vectors import VECTORS, reference_chunks

from operator_node.erasure import Codec

DOCUMENT = json.loads(VECTORS.read_text())


def _matches(vector: dict[str, Any], chunks: list[bytes]) -> bool:
    if "chunks" in vector:
        expected: list[str] = vector["chunks"]
        return [c.hex() for c in chunks] == expected
    digests: list[str] = vector["chunk_sha256"]
    return [hashlib.sha256(c).hexdigest() for c in chunks] == digests


def _small(vector: dict[str, Any]) -> bool:
    return bool(vector["n"] <= 16 and len(vector["blob"]) <= 1200)


@pytest.mark.parametrize("vector", DOCUMENT["vectors"], ids=lambda v: f"k{v['k']}-n{v['n']}")
def test_vectors_still_match_installed_reedsolo(vector: dict[str, Any]) -> None:
    # A reedsolo release that changed its code would break interoperability; catch it here.
    chunks = reference_chunks(bytes.fromhex(vector["blob"]), vector["k"], vector["n"])
    assert len(chunks[0]) == vector["chunk_length"]
    assert _matches(vector, chunks)


# Pure-Python reedsolo runs the small vectors only.
CASES = [
    pytest.param(b, v, id=f"{b}-k{v['k']}-n{v['n']}")
    for b in ALL_BACKENDS
    for v in DOCUMENT["vectors"]
    if b != "reedsolo" or _small(v)
]


@pytest.mark.parametrize(("backend", "vector"), CASES)
def test_vectors_match_codec(backend: str, vector: dict[str, Any]) -> None:
    blob = bytes.fromhex(vector["blob"])
    codec = Codec(vector["k"], vector["n"], backend)
    chunks = [bytes(c) for c in codec.encode(blob)]
    assert _matches(vector, chunks)
    tail = {i: chunks[i] for i in range(vector["n"] - vector["k"], vector["n"])}
    assert codec.decode(tail, len(blob)) == blob
