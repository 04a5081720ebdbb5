"""keccak256 and keccak256_many: every C backend this CPU runs against pycryptodome, and refusals.

The C backends are called by name through the extension's private entry point, and through the
public function with OPERATOR_NODE_KECCAK_BACKEND set, so each one is checked on this machine
whatever the default would be.
"""

from __future__ import annotations

import array
import random
import sys
import threading

import pytest
from Crypto.Hash import keccak
from hypothesis import given, settings
from hypothesis import strategies as st
from typing_extensions import Buffer

from operator_node.protocol import hashes
from operator_node.protocol.hashes import (
    KECCAK_BACKEND_ENV,
    KeccakBackendError,
    available_keccak_backends,
    keccak256_many,
    keccak_backend,
)

try:
    from operator_node.protocol import _keccak
except ImportError:  # tests of the C backends skip when the extension was not built
    _keccak = None  # type: ignore[assignment]

NATIVE = _keccak.backends() if _keccak is not None else ()
needs_native = pytest.mark.skipif(_keccak is None, reason="C extension _keccak was not built")
each_native = pytest.mark.parametrize("backend", NATIVE or ["scalar"])

RATE = 136
# Around each block boundary the padding changes shape: 0x81 alone, or 0x01 ... 0x80 across a
# block, or a whole extra block of padding.
EDGE_LENGTHS = [135, 136, 137, 271, 272, 273, 65536, 65537]


def _reference(data: object) -> bytes:
    return bytes(keccak.new(digest_bits=256, data=bytes(data)).digest())  # type: ignore[call-overload]


def _messages(rng: random.Random, length: int, count: int) -> list[bytes]:
    return [rng.randbytes(length) for _ in range(count)]


def test_keccak_many_known_answers_are_keccak_not_sha3() -> None:
    digests = keccak256_many([b"", b"abc"])
    assert digests[0].hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert digests[1].hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"


@needs_native
def test_keccak_many_backends_are_reported_fastest_first() -> None:
    assert NATIVE[-1] == "scalar"
    assert set(NATIVE) <= {"avx512", "avx2", "scalar"}
    assert list(NATIVE) == sorted(NATIVE, key=["avx512", "avx2", "scalar"].index)
    assert _keccak.backend() == NATIVE[0]
    assert available_keccak_backends() == (*NATIVE, "pycryptodome")


@needs_native
@each_native
def test_keccak_many_every_length_to_300_matches_pycryptodome(backend: str) -> None:
    rng = random.Random(f"lengths-{backend}")
    # 9 messages per length: a full group of 8 (or two of 4) and one left over.
    for length in range(301):
        messages = _messages(rng, length, 9)
        assert _keccak.keccak256_many(messages, backend) == [_reference(m) for m in messages], (
            length
        )


@needs_native
@each_native
def test_keccak_many_block_edges_and_64k_match_pycryptodome(backend: str) -> None:
    rng = random.Random(f"edges-{backend}")
    for length in EDGE_LENGTHS:
        messages = _messages(rng, length, 9)
        assert _keccak.keccak256_many(messages, backend) == [_reference(m) for m in messages], (
            length
        )


@needs_native
@each_native
@pytest.mark.parametrize("length", [0, 100, 136, 1000])
def test_keccak_many_every_count_1_to_20_matches(backend: str, length: int) -> None:
    # Counts 1..20 give every group size and remainder of widths 8 and 4.
    rng = random.Random(f"counts-{backend}-{length}")
    for count in range(1, 21):
        messages = _messages(rng, length, count)
        assert _keccak.keccak256_many(messages, backend) == [_reference(m) for m in messages], count


@needs_native
@each_native
def test_keccak_many_mixed_lengths_keep_input_order(backend: str) -> None:
    rng = random.Random(f"mixed-{backend}")
    lengths = [rng.choice([0, 1, 135, 136, 137, 500, 4096]) for _ in range(60)]
    messages = [rng.randbytes(n) for n in lengths]
    same = messages[3]
    messages += [same, same]  # one object twice: each position gets its digest
    assert _keccak.keccak256_many(messages, backend) == [_reference(m) for m in messages]


@needs_native
@each_native
def test_keccak_many_hashes_unaligned_views_without_copying(backend: str) -> None:
    rng = random.Random(f"views-{backend}")
    body = rng.randbytes(20 * 1000 + 7)
    view = memoryview(body)
    # 17 equal-length slices at odd offsets, like chunks inside a request body.
    slices = [view[3 + i * 1001 : 3 + i * 1001 + 999] for i in range(17)]
    mutable = bytearray(rng.randbytes(999))
    typed = array.array("I", range(250))  # itemsize 4: hashed as its 1000 bytes
    inputs: list[Buffer] = [*slices, mutable, memoryview(mutable)[1:], typed, memoryview(typed)]
    expected = [_reference(x) for x in inputs]
    assert _keccak.keccak256_many(inputs, backend) == expected
    del inputs
    mutable.append(0)  # no view is still held once the call returned: the bytearray can grow


@needs_native
@each_native
def test_keccak_many_of_nothing_is_empty(backend: str) -> None:
    assert _keccak.keccak256_many([], backend) == []
    assert _keccak.keccak256_many((), backend) == []


@needs_native
@each_native
def test_keccak_many_accepts_any_sequence(backend: str) -> None:
    messages = [bytes([i]) * 300 for i in range(10)]
    expected = [_reference(m) for m in messages]
    assert _keccak.keccak256_many(tuple(messages), backend) == expected
    assert _keccak.keccak256_many(iter(messages), backend) == expected  # type: ignore[arg-type]


@needs_native
@each_native
def test_keccak_many_refuses_a_non_buffer_and_releases_what_it_held(backend: str) -> None:
    held = bytearray(b"x" * 200)
    before = sys.getrefcount(held)
    for bad in (12, "text", None, object()):
        with pytest.raises(TypeError):
            _keccak.keccak256_many([b"a" * 200, held, bad, b"b" * 200], backend)  # type: ignore[list-item]
    assert sys.getrefcount(held) == before
    held.extend(b"more")  # raises BufferError if a view of it leaked


@needs_native
def test_keccak_many_refuses_bad_calls() -> None:
    with pytest.raises(TypeError):
        _keccak.keccak256_many(5)  # type: ignore[arg-type]
    with pytest.raises(BufferError):
        _keccak.keccak256_many([memoryview(bytes(100))[::2]])
    with pytest.raises(ValueError, match="unknown keccak backend"):
        _keccak.keccak256_many([b""], "avx1024")
    with pytest.raises(TypeError):
        _keccak.keccak256_many([b""], 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _keccak.keccak256_many()  # type: ignore[call-arg]


@needs_native
@each_native
def test_keccak_many_threads_hash_concurrently(backend: str) -> None:
    rng = random.Random(f"threads-{backend}")
    lists = [_messages(rng, 5000 + t, 12) for t in range(4)]
    results: dict[int, list[bytes]] = {}

    def work(t: int) -> None:
        for _ in range(5):
            results[t] = _keccak.keccak256_many(lists[t], backend)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(results[t] == [_reference(m) for m in lists[t]] for t in range(4))


@st.composite
def _message_lists(draw: st.DrawFn) -> list[bytes]:
    """Lists with runs of equal lengths, as chunk lists have, mixed with odd ones."""
    messages: list[bytes] = []
    for _ in range(draw(st.integers(0, 4))):
        length = draw(st.integers(0, 700))
        count = draw(st.integers(1, 11))
        messages += [draw(st.binary(min_size=length, max_size=length)) for _ in range(count)]
    return draw(st.permutations(messages))


@needs_native
@settings(max_examples=60, deadline=None)
@given(_message_lists())
def test_keccak_many_every_backend_agrees_with_pycryptodome(messages: list[bytes]) -> None:
    expected = [_reference(m) for m in messages]
    for backend in NATIVE:
        assert _keccak.keccak256_many(messages, backend) == expected


# -- the public function and OPERATOR_NODE_KECCAK_BACKEND ----------------------------------------


@pytest.mark.parametrize("name", [*NATIVE, "pycryptodome"])
def test_keccak_many_env_forces_each_available_backend(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(KECCAK_BACKEND_ENV, f" {name.upper()} ")
    assert keccak_backend() == name
    rng = random.Random(f"env-{name}")
    messages = _messages(rng, 300, 9) + _messages(rng, 64, 3)
    assert keccak256_many(messages) == [_reference(m) for m in messages]


@pytest.mark.parametrize("value", ["", "auto", "AUTO"])
def test_keccak_backend_auto_picks_the_fastest(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(KECCAK_BACKEND_ENV, value)
    assert keccak_backend() == available_keccak_backends()[0]
    monkeypatch.delenv(KECCAK_BACKEND_ENV)
    assert keccak_backend() == available_keccak_backends()[0]


def test_keccak_many_refuses_an_unknown_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KECCAK_BACKEND_ENV, "sha3")
    with pytest.raises(
        KeccakBackendError, match=f"unknown keccak backend 'sha3'.*{KECCAK_BACKEND_ENV}"
    ):
        keccak_backend()
    with pytest.raises(KeccakBackendError):
        keccak256_many([b"abc"])


def test_keccak_many_without_the_extension_uses_pycryptodome(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What a failed build leaves: the module without _keccak. Native names must then be refused.
    monkeypatch.setattr(hashes, "_keccak", None)
    monkeypatch.delenv(KECCAK_BACKEND_ENV, raising=False)
    assert keccak_backend() == "pycryptodome"
    messages: list[hashes.Bytes] = [
        b"",
        b"a" * 136,
        bytearray(b"b" * 137),
        memoryview(b"xyz" * 100)[1:],
    ]
    assert keccak256_many(messages) == [_reference(m) for m in messages]
    with pytest.raises(TypeError):
        keccak256_many([b"a", 7])  # type: ignore[list-item]
    for name in ("avx512", "avx2", "scalar"):
        monkeypatch.setenv(KECCAK_BACKEND_ENV, name)
        with pytest.raises(KeccakBackendError, match="C extension was not built"):
            keccak256_many([b"abc"])


def test_keccak_native_extension_is_built_here() -> None:
    # CI has a C compiler: chunk hashing must run in C there, not silently fall back.
    assert _keccak is not None, "operator_node.protocol._keccak did not build"


@needs_native
def test_keccak_single_in_c_matches_pycryptodome_for_every_length_and_buffer() -> None:
    rng = random.Random(11)
    lengths = [*range(300), *EDGE_LENGTHS, 4095, 4096, 1 << 20]  # 4096+: hashed without the GIL
    for length in lengths:
        data = rng.randbytes(length)
        assert _keccak.keccak256(data) == _reference(data)
    unaligned = memoryview(bytearray(rng.randbytes(1000)))[3:-5]
    assert _keccak.keccak256(unaligned) == _reference(unaligned)
    assert _keccak.keccak256(array.array("I", range(50))) == _reference(array.array("I", range(50)))
    with pytest.raises(TypeError):
        _keccak.keccak256("text")  # type: ignore[arg-type]


def test_keccak_single_follows_the_backend_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    data = memoryview(b"single message" * 20)[2:]
    for value in ("", "pycryptodome", *NATIVE):
        monkeypatch.setenv(KECCAK_BACKEND_ENV, value)
        assert hashes.keccak256(data) == _reference(data)
    monkeypatch.setattr(hashes, "_keccak", None)  # a failed build
    monkeypatch.delenv(KECCAK_BACKEND_ENV)
    assert hashes.keccak256(data) == _reference(data)
