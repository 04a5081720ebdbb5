"""The ``Signer`` protocol and the local signer."""

from __future__ import annotations

import threading

import pytest

from operator_node.crypto.bls import BlsKeyPair
from operator_node.crypto.bn254 import BACKEND_ENV, g1_backend
from operator_node.crypto.errors import InvalidMessageError
from operator_node.crypto.signer import LocalSigner, Signer

MESSAGE = bytes(range(32))


class ThreadRecordingKeyPair(BlsKeyPair):
    """A real key pair that also notes which thread each signature was computed on."""

    __slots__ = ("threads",)

    def __init__(self, secret: int) -> None:
        super().__init__(secret)
        self.threads: list[int] = []

    def sign(self, msg_hash: bytes) -> bytes:
        self.threads.append(threading.get_ident())
        return super().sign(msg_hash)


async def test_local_signer_signs_python_backend_off_the_event_loop_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(BACKEND_ENV, "python")  # milliseconds of CPU: must not block the loop
    keypair = ThreadRecordingKeyPair(424242)
    signer = LocalSigner(keypair)
    assert isinstance(signer, Signer)
    signature = await signer.sign(MESSAGE)
    assert signature == BlsKeyPair(424242).sign(MESSAGE)
    assert keypair.threads and threading.get_ident() not in keypair.threads


async def test_local_signer_signs_native_backend_inline() -> None:
    if g1_backend() != "native":
        pytest.skip("the BN254 extension is not built")
    keypair = ThreadRecordingKeyPair(424242)
    signature = await LocalSigner(keypair).sign(MESSAGE)  # ~0.1 ms: cheaper than a thread hop
    assert signature == BlsKeyPair(424242).sign(MESSAGE)
    assert keypair.threads == [threading.get_ident()]


async def test_local_signer_exposes_the_public_keys_and_hides_the_secret() -> None:
    keypair = BlsKeyPair(424242)
    signer = LocalSigner(keypair)
    assert signer.pubkey_g1 == keypair.pubkey_g1
    assert signer.pubkey_g2 == keypair.pubkey_g2
    assert signer.operator_id == keypair.operator_id
    assert "424242" not in repr(signer)


async def test_local_signer_refuses_a_bad_message_hash() -> None:
    signer = LocalSigner(BlsKeyPair(7))
    with pytest.raises(InvalidMessageError):
        await signer.sign(b"short")
