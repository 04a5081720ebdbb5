"""The StoreChunks pipeline with a real LMDB store, real BLS keys and real disperser signatures.

The chain is a small in-memory ChainView (the anvil end-to-end tests exercise the real one).
Every refusal asserts that nothing was stored and nothing was signed.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from eth_account import Account
from support.fake_chain import FakeChain
from support.pipeline import open_pipeline

from operator_node.client.batch import EncodedBlob, PreparedBatch, prepare_batch
from operator_node.crypto.bls import BlsKeyPair, verify
from operator_node.crypto.signer import LocalSigner
from operator_node.dispersal import (
    ChainUnavailable,
    StaleReferenceBlock,
    StoreChunksPipeline,
)
from operator_node.dispersal.pipeline import _hash_runs
from operator_node.dispersal.readiness import DispersalReadiness
from operator_node.dispersal.records import decode_blob_header
from operator_node.health import Health, ServiceStatus
from operator_node.protocol.assignment import OperatorStakes
from operator_node.protocol.auth import compute_auth_headers, compute_request_hash
from operator_node.protocol.coding import ExcessiveOverhead, UnsupportedCoding
from operator_node.protocol.errors import (
    BadProof,
    BadSignature,
    DisperserNotAllowed,
    InvalidEncoding,
    MalformedRequest,
    ReplayRejected,
    WrongAssignment,
)
from operator_node.protocol.hashes import Bytes
from operator_node.protocol.headers import QuorumParams
from operator_node.protocol.limits import BlobTooLarge, MarginTooSmall
from operator_node.protocol.messages import StoreChunksRequest
from operator_node.protocol.wire import encode_store_chunks
from operator_node.store import AsyncStore, LmdbStore, StoredBlob, StoreFullError

DISPERSER = Account.from_key(b"\x11" * 32)
STRANGER = Account.from_key(b"\x22" * 32)
OPERATORS = [BlsKeyPair.from_secret(1000 + i) for i in range(4)]
STAKES = [10, 20, 30, 40]
QUORUM = QuorumParams(0, 25, 50)
REFERENCE_BLOCK = 100


class CountingSigner(LocalSigner):
    """The real local signer, counting how often it signs."""

    signed = 0

    async def sign(self, msg_hash: bytes) -> bytes:
        self.signed += 1
        return await super().sign(msg_hash)


def _states() -> dict[int, OperatorStakes]:
    return {0: [(kp.operator_id, stake) for kp, stake in zip(OPERATORS, STAKES, strict=True)]}


def _batch(
    seed: int = 0,
    blobs: int = 2,
    *,
    code: int = 0,
    n: int = 24,
    data_length: int = 64 * 4,
    length: int | None = None,
) -> PreparedBatch:
    """``blobs`` real codewords (k = 4), or with ``length`` given, n random chunks of that
    length: a shape the codes may not make, for the refusals that come before the encoding."""
    rng = random.Random(seed)
    quorums, account = [QUORUM], b"\xaa" * 20
    encoded = [
        EncodedBlob.from_data(
            rng.randbytes(data_length), k=4, n=n, quorums=quorums, account=account, code=code
        )
        if length is None
        else EncodedBlob.from_chunks(
            [rng.randbytes(length) for _ in range(n)],
            data_length=data_length,
            k=4,
            quorums=quorums,
            account=account,
            code=code,
        )
        for _ in range(blobs)
    ]
    return prepare_batch(encoded, _states(), REFERENCE_BLOCK)


def _body(request: StoreChunksRequest) -> bytes:
    return b"".join(encode_store_chunks(request))


def _headers(
    body: bytes, operator_id: bytes, *, signer: object = DISPERSER, timestamp: int | None = None
) -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    return compute_auth_headers(signer, operator_id, stamp, compute_request_hash(body))  # type: ignore[arg-type]


@dataclass
class Node:
    pipeline: StoreChunksPipeline
    store: AsyncStore
    signer: CountingSigner
    chain: FakeChain | None


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    yield await _make_node(tmp_path, FakeChain(_states(), head=REFERENCE_BLOCK + 5))


async def _make_node(
    tmp_path: Path, chain: FakeChain | None, fingerprint: str = "required"
) -> Node:
    signer = CountingSigner(OPERATORS[0])
    pipeline, store = await open_pipeline(
        tmp_path, signer, chain, [DISPERSER.address], fingerprint=fingerprint
    )
    return Node(pipeline, store, signer, chain)


async def _assert_untouched(node: Node, batch: PreparedBatch) -> None:
    assert not await node.store.has_batch(batch.header_hash)
    assert node.signer.signed == 0


async def test_pipeline_stores_and_signs_own_chunks(node: Node) -> None:
    batch = _batch()
    me = OPERATORS[0].operator_id
    body = _body(batch.requests[me])
    result = await node.pipeline.store_chunks(memoryview(body), _headers(body, me))

    assert result.newly_stored and result.operator_id == me
    assert result.batch_header_hash == batch.header_hash
    assert result.disperser == DISPERSER.address
    assert verify(result.signature, batch.header_hash, OPERATORS[0].pubkey_g2)
    for blob_index, assignment in enumerate(batch.assignments):
        stored = await node.store.get_chunks(batch.header_hash, blob_index)
        assert stored is not None
        assert stored.indices == assignment[me]
        blob = batch.blobs[blob_index]
        assert [bytes(c) for c in stored.chunks] == [bytes(blob.chunks[i]) for i in assignment[me]]


async def test_pipeline_repeat_batch_is_noop_and_signs_again(node: Node) -> None:
    batch = _batch()
    me = OPERATORS[0].operator_id
    body = _body(batch.requests[me])
    first = await node.pipeline.store_chunks(memoryview(body), _headers(body, me))
    again = await node.pipeline.store_chunks(
        memoryview(body), _headers(body, me, timestamp=int(time.time()) - 1)
    )
    assert first.newly_stored and not again.newly_stored
    assert again.signature == first.signature


async def test_pipeline_refuses_when_store_full_then_stores_after_expiry(tmp_path: Path) -> None:
    """A full store refuses the batch, and dispersal is reported Down (store_full) until a batch
    is stored again."""
    signer = CountingSigner(OPERATORS[0])
    chain = FakeChain(_states(), head=REFERENCE_BLOCK + 5)
    health = Health()
    health.register("dispersal", "dispersal", "test", critical=False)
    readiness = DispersalReadiness(health, "dispersal")
    pipeline, store = await open_pipeline(
        tmp_path,
        signer,
        chain,
        [DISPERSER.address],
        max_size=16 << 20,
        shards=1,
        readiness=readiness,
    )
    states: list[tuple[ServiceStatus, list[str]]] = []

    def observe() -> None:
        service = health.get_service("dispersal")
        assert service is not None
        states.append((service.status, [r.code for r in readiness.reasons().values()]))

    try:
        await _refuse_when_full_then_store(Node(pipeline, store, signer, chain), observe)
    finally:
        await store.close()
    assert states == [
        (ServiceStatus.UP, []),
        (ServiceStatus.DOWN, ["store_full"]),
        (ServiceStatus.UP, []),
    ]


async def _refuse_when_full_then_store(
    node: Node, observe: Callable[[], None] = lambda: None
) -> None:
    store, pipeline = node.store, node.pipeline
    fillers = 0
    for size in (1 << 20, 64 << 10, 1):  # down to the last 4 KiB block the store can hold
        with contextlib.suppress(StoreFullError):
            while True:
                await store.put_batch(
                    os.urandom(32), b"filler", [StoredBlob(b"b", {0: bytes(size)})]
                )
                fillers += 1
    assert fillers > 10
    batch = _batch()
    me = OPERATORS[0].operator_id
    body = _body(batch.requests[me])

    headers = _headers(body, me)
    observe()
    with pytest.raises(StoreFullError):
        await pipeline.store_chunks(memoryview(body), headers)
    observe()
    await _assert_untouched(node, batch)
    shard = store.shards[0]
    assert isinstance(shard, LmdbStore) and shard.check() == []
    # The refused request stored nothing, so it did not use up its replay-guard entry: sent
    # again unchanged, it is judged again (still full), not refused as a replay.
    with pytest.raises(StoreFullError):
        await pipeline.store_chunks(memoryview(body), headers)
    await _assert_untouched(node, batch)

    # Expiry frees the space; the same request, sent once more, is stored and signed.
    expired = await store.delete_expired(time.time() + 7200, max_batches=1000)
    assert expired.batches == fillers
    result = await pipeline.store_chunks(memoryview(body), headers)
    observe()
    assert result.newly_stored and node.signer.signed == 1
    assert await store.has_batch(batch.header_hash)
    # Once stored, it is a replay like any other.
    with pytest.raises(ReplayRejected, match="already received"):
        await pipeline.store_chunks(memoryview(body), headers)


async def test_pipeline_refuses_replayed_request(node: Node) -> None:
    batch = _batch()
    me = OPERATORS[0].operator_id
    body = _body(batch.requests[me])
    headers = _headers(body, me)
    await node.pipeline.store_chunks(memoryview(body), headers)
    with pytest.raises(ReplayRejected):
        await node.pipeline.store_chunks(memoryview(body), headers)


async def test_pipeline_refuses_stale_timestamp(node: Node) -> None:
    batch = _batch()
    me = OPERATORS[0].operator_id
    body = _body(batch.requests[me])
    with pytest.raises(ReplayRejected):
        await node.pipeline.store_chunks(
            memoryview(body), _headers(body, me, timestamp=int(time.time()) - 3600)
        )
    await _assert_untouched(node, batch)


async def test_pipeline_refuses_unknown_disperser(node: Node) -> None:
    batch = _batch()
    me = OPERATORS[0].operator_id
    body = _body(batch.requests[me])
    with pytest.raises(DisperserNotAllowed):
        await node.pipeline.store_chunks(memoryview(body), _headers(body, me, signer=STRANGER))
    await _assert_untouched(node, batch)


async def test_pipeline_accepts_disperser_allowed_on_chain(node: Node) -> None:
    assert node.chain is not None
    node.chain.dispersers.add(STRANGER.address.lower())
    batch = _batch()
    me = OPERATORS[0].operator_id
    body = _body(batch.requests[me])
    result = await node.pipeline.store_chunks(memoryview(body), _headers(body, me, signer=STRANGER))
    assert result.disperser == STRANGER.address


@pytest.mark.parametrize(
    "mutate",
    [
        lambda h: {},
        lambda h: {**h, "X-Disperser-Signature": "0x" + "00" * 65},
        lambda h: {**h, "X-Disperser-Timestamp": "01"},
    ],
    ids=["missing", "zero_signature", "non_canonical_timestamp"],
)
async def test_pipeline_refuses_bad_auth_headers(node: Node, mutate: object) -> None:
    batch = _batch()
    me = OPERATORS[0].operator_id
    body = _body(batch.requests[me])
    with pytest.raises(BadSignature):
        await node.pipeline.store_chunks(memoryview(body), mutate(_headers(body, me)))  # type: ignore[operator]
    await _assert_untouched(node, batch)


async def test_pipeline_signature_binds_the_head(node: Node) -> None:
    batch = _batch()
    me = OPERATORS[0].operator_id
    body = _body(batch.requests[me])
    tampered = bytearray(body)
    tampered[20] ^= 1  # inside the batch root, in the head
    # A changed head recovers to some other address, which is not allowed.
    with pytest.raises(DisperserNotAllowed):
        await node.pipeline.store_chunks(memoryview(bytes(tampered)), _headers(body, me))
    await _assert_untouched(node, batch)


async def test_pipeline_altered_chunk_fails_its_proof_and_spares_the_genuine_request(
    node: Node,
) -> None:
    batch = _batch()
    me = OPERATORS[0].operator_id
    body = _body(batch.requests[me])
    headers = _headers(body, me)
    tampered = bytearray(body)
    tampered[-1] ^= 1  # the last chunk's last byte: bound by its proof, not the request hash
    with pytest.raises(BadProof, match="does not match the blob commitment"):
        await node.pipeline.store_chunks(memoryview(bytes(tampered)), headers)
    await _assert_untouched(node, batch)
    # The tampered copy was refused before the replay guard recorded it: the genuine one passes.
    result = await node.pipeline.store_chunks(memoryview(body), headers)
    assert result.newly_stored and node.signer.signed == 1
    with pytest.raises(ReplayRejected):
        await node.pipeline.store_chunks(memoryview(body), headers)


async def test_pipeline_refuses_another_operators_chunks(node: Node) -> None:
    batch = _batch()
    me, other = OPERATORS[0].operator_id, OPERATORS[3].operator_id
    body = _body(batch.requests[other])
    with pytest.raises(WrongAssignment):
        await node.pipeline.store_chunks(memoryview(body), _headers(body, me))
    await _assert_untouched(node, batch)


async def test_pipeline_stores_gf16_blobs_and_keeps_their_code(node: Node) -> None:
    batch = _batch(code=1)
    me = OPERATORS[0].operator_id
    body = _body(batch.requests[me])
    result = await node.pipeline.store_chunks(memoryview(body), _headers(body, me))
    assert result.newly_stored and node.signer.signed == 1
    record = await node.store.get_blob_header(batch.header_hash, 1)
    assert record is not None and decode_blob_header(record).code == 1
    sample = node.pipeline._metrics.registry.get_sample_value
    chunks = sum(len(blob.indices) for blob in batch.requests[me].blobs)
    assert sample("operator_node_stored_blobs_total", {"code": "gf16"}) == 2
    assert sample("operator_node_stored_chunks_total", {"code": "gf16"}) == chunks
    assert sample("operator_node_stored_blobs_total", {"code": "gf8"}) == 0
    # Sent again, the batch is already stored: nothing more is counted.
    await node.pipeline.store_chunks(
        memoryview(body), _headers(body, me, timestamp=int(time.time()) - 7)
    )
    assert sample("operator_node_stored_blobs_total", {"code": "gf16"}) == 2


@pytest.mark.parametrize(
    ("shape", "error", "message"),
    [
        # 40 chunks of 50,048 bytes for 200,000: 10x, over 2 x 1/gamma = 8x.
        ({"n": 40, "length": 50048, "data_length": 200_000}, ExcessiveOverhead, "10.01x"),
        # 256 bytes in k=4 chunks are 64 bytes each, not 128.
        ({"length": 128}, UnsupportedCoding, "chunk length 128 is not 64"),
    ],
)
async def test_pipeline_refuses_a_coding_outside_the_codes_or_the_bound(
    node: Node, shape: dict[str, int], error: type[Exception], message: str
) -> None:
    batch = _batch(blobs=1, **shape)
    me = OPERATORS[0].operator_id
    body = _body(batch.requests[me])
    with pytest.raises(error, match=message):
        await node.pipeline.store_chunks(memoryview(body), _headers(body, me))
    await _assert_untouched(node, batch)


@pytest.mark.parametrize(
    ("limits", "at_limits", "error", "message"),
    [
        # The blobs hold 256 bytes: one byte over the AVS's largest blob.
        (
            (255, 20),
            (256, 20),
            BlobTooLarge,
            r"holds 256 bytes, more than this AVS.s largest blob \(255 bytes",
        ),
        # Quorum 0 runs at 50% - 25% = 25%, below the AVS's 30%.
        (
            (1 << 20, 30),
            (1 << 20, 25),
            MarginTooSmall,
            r"= 25% is below this AVS's smallest margin \(30%",
        ),
    ],
)
async def test_pipeline_refuses_a_blob_outside_the_avs_limits(
    tmp_path: Path,
    limits: tuple[int, int],
    at_limits: tuple[int, int],
    error: type[Exception],
    message: str,
) -> None:
    signer = CountingSigner(OPERATORS[0])
    chain = FakeChain(_states(), head=REFERENCE_BLOCK + 5)
    batch = _batch()
    me = OPERATORS[0].operator_id
    body = _body(batch.requests[me])
    for where, (max_blob_size, min_margin) in (("over", limits), ("at", at_limits)):
        pipeline, store = await open_pipeline(
            tmp_path / where,
            signer,
            chain,
            [DISPERSER.address],
            max_blob_size=max_blob_size,
            min_margin=min_margin,
        )
        try:
            if where == "over":
                with pytest.raises(error, match=message):
                    await pipeline.store_chunks(memoryview(body), _headers(body, me))
                await _assert_untouched(Node(pipeline, store, signer, chain), batch)
                assert chain.head_reads == 0  # refused before any chain read
            else:  # at the limits themselves, the same blob is stored and signed
                result = await pipeline.store_chunks(memoryview(body), _headers(body, me))
                assert result.newly_stored and signer.signed == 1
        finally:
            await store.close()


async def test_pipeline_refuses_chunk_that_fails_its_proof(node: Node) -> None:
    batch = _batch()
    me = OPERATORS[0].operator_id
    request = batch.requests[me]
    blob = request.blobs[1]
    bad_chunk = bytes([blob.chunks[0][0] ^ 0xFF]) + bytes(blob.chunks[0][1:])
    bad_blob = replace(blob, chunks=(bad_chunk, *blob.chunks[1:]))
    body = _body(replace(request, blobs=(request.blobs[0], bad_blob)))
    with pytest.raises(BadProof, match="does not match the blob commitment"):
        await node.pipeline.store_chunks(memoryview(body), _headers(body, me))
    await _assert_untouched(node, batch)


async def test_pipeline_refuses_batch_root_mismatch(node: Node) -> None:
    batch = _batch()
    me = OPERATORS[0].operator_id
    request = batch.requests[me]
    forged = replace(request, batch_header=replace(request.batch_header, batch_root=b"\x01" * 32))
    body = _body(forged)
    with pytest.raises(BadProof):
        await node.pipeline.store_chunks(memoryview(body), _headers(body, me))
    await _assert_untouched(node, batch)
    assert not await node.store.has_batch(forged.batch_header.compute_hash())


async def test_pipeline_refuses_reference_block_ahead_of_chain(node: Node) -> None:
    assert node.chain is not None
    node.chain.head = REFERENCE_BLOCK - 1
    batch = _batch()
    me = OPERATORS[0].operator_id
    body = _body(batch.requests[me])
    with pytest.raises(StaleReferenceBlock):
        await node.pipeline.store_chunks(memoryview(body), _headers(body, me))
    await _assert_untouched(node, batch)
    # Once the chain reaches the block, the same batch is accepted...
    node.chain.head = REFERENCE_BLOCK
    assert (await node.pipeline.store_chunks(memoryview(body), _headers(body, me))).newly_stored
    # ...and later batches at or below a head already seen cost no head read at all.
    reads = node.chain.head_reads
    for seed in (1, 2):
        other = _body(_batch(seed).requests[me])
        await node.pipeline.store_chunks(memoryview(other), _headers(other, me))
    assert node.chain.head_reads == reads


async def test_pipeline_refuses_malformed_body(node: Node) -> None:
    me = OPERATORS[0].operator_id
    body = b"ONSC" + os.urandom(100)
    with pytest.raises(MalformedRequest):
        await node.pipeline.store_chunks(memoryview(body), _headers(body, me))
    assert node.signer.signed == 0


async def test_pipeline_without_chain_refuses_with_chain_unavailable(tmp_path: Path) -> None:
    node = await _make_node(tmp_path, None)
    batch = _batch()
    me = OPERATORS[0].operator_id
    body = _body(batch.requests[me])
    with pytest.raises(ChainUnavailable):
        await node.pipeline.store_chunks(memoryview(body), _headers(body, me))
    await _assert_untouched(node, batch)


def test_pipeline_hash_runs_cover_every_chunk_in_whole_vectors() -> None:
    big: list[Bytes] = [bytes(64 << 10)] * 192  # 12 MiB: worth both threads
    runs = _hash_runs(big, 2, 0)
    assert [len(run) for run in runs] == [96, 96]
    odd: list[Bytes] = [bytes(64 << 10)] * 100
    assert [len(run) for run in _hash_runs(odd, 2, 0)] == [56, 44]
    assert [len(run) for run in _hash_runs(big[:24], 2, 0)] == [24]
    assert _hash_runs(big, 1, 0) == [big]
    # Up to the loop's share, no runs: the check stays on the event loop.
    assert _hash_runs(big[:24], 2, 24 << 16) == []
    assert len(_hash_runs(big[:24], 2, (24 << 16) - 1)) == 1


@pytest.mark.parametrize(
    ("hash_threads", "loop_hash_bytes", "runs"),
    [(2, 1 << 40, 0), (1, 0, 1), (2, 0, 2)],
    ids=["on_the_loop", "one_thread", "two_threads"],
)
async def test_pipeline_checks_every_chunk_on_each_hashing_path(
    tmp_path: Path, hash_threads: int, loop_hash_bytes: int, runs: int
) -> None:
    """However the chunks are hashed, an altered one is refused and the genuine batch stored."""
    operator = OPERATORS[3]  # the largest stake: a share big enough for two threads
    signer = CountingSigner(operator)
    chain = FakeChain(_states(), head=REFERENCE_BLOCK + 5)
    pipeline, store = await open_pipeline(
        tmp_path,
        signer,
        chain,
        [DISPERSER.address],
        hash_threads=hash_threads,
        loop_hash_bytes=loop_hash_bytes,
    )
    node = Node(pipeline, store, signer, chain)
    rng = random.Random(7)
    blob = EncodedBlob.from_data(
        rng.randbytes(16 * (256 << 10)),
        n=80,
        k=16,
        quorums=[QUORUM],
        account=b"\xbb" * 20,
    )
    batch = prepare_batch([blob], _states(), REFERENCE_BLOCK)
    request = batch.requests[operator.operator_id]
    chunks = list(request.blobs[0].chunks)
    assert len(_hash_runs(chunks, hash_threads, loop_hash_bytes)) == runs
    body = _body(request)
    headers = _headers(body, operator.operator_id)
    data = sum(len(chunk) for chunk in chunks)  # the chunks end the body, in order
    for offset in (data, data // 2, 1):  # the first chunk's first byte, a middle one, the last
        tampered = bytearray(body)
        tampered[-offset] ^= 1
        with pytest.raises(BadProof, match="does not match the blob commitment"):
            await pipeline.store_chunks(memoryview(bytes(tampered)), headers)
        await _assert_untouched(node, batch)
    result = await pipeline.store_chunks(memoryview(body), headers)
    assert result.newly_stored and signer.signed == 1
    stored = await store.get_chunks(batch.header_hash, 0)
    assert stored is not None and [bytes(c) for c in stored.chunks] == [bytes(c) for c in chunks]
    await store.close()


def _unfingerprinted_batch() -> PreparedBatch:
    """One real GF(2^8) codeword dispersed without fingerprints (profile 0)."""
    blob = EncodedBlob.from_data(
        random.Random(7).randbytes(256), k=4, n=24, quorums=[QUORUM], account=b"\xaa" * 20,
        fingerprint=0,
    )  # fmt: skip
    return prepare_batch([blob], _states(), REFERENCE_BLOCK)


async def test_pipeline_requires_fingerprints_on_gf8_blobs_by_default(node: Node) -> None:
    batch = _unfingerprinted_batch()
    assert batch.blobs[0].header.fingerprint == 0
    me = OPERATORS[0].operator_id
    body = _body(batch.requests[me])
    with pytest.raises(InvalidEncoding, match="requires encoding fingerprints"):
        await node.pipeline.store_chunks(memoryview(body), _headers(body, me))
    await _assert_untouched(node, batch)


async def test_pipeline_with_fingerprints_accepted_stores_a_blob_without_them(
    tmp_path: Path,
) -> None:
    node = await _make_node(
        tmp_path, FakeChain(_states(), head=REFERENCE_BLOCK + 5), fingerprint="accepted"
    )
    try:
        batch = _unfingerprinted_batch()
        me = OPERATORS[0].operator_id
        body = _body(batch.requests[me])
        result = await node.pipeline.store_chunks(memoryview(body), _headers(body, me))
        assert result.newly_stored and node.signer.signed == 1
        assert await node.store.has_batch(batch.header_hash)
        # A blob that carries fingerprints is still checked under "accepted": one of this
        # node's parity chunks altered, and the blob re-committed, is refused.
        honest = _batch(seed=3, blobs=1)
        parity = max(honest.assignments[0][me])
        assert parity >= 4  # k = 4: this node holds a parity chunk
        forged = [bytes(chunk) for chunk in honest.blobs[0].chunks]
        forged[parity] = bytes([forged[parity][0] ^ 1]) + forged[parity][1:]
        blob = EncodedBlob.from_chunks(
            forged, data_length=256, k=4, quorums=[QUORUM], account=b"\xaa" * 20
        )
        bad = prepare_batch([blob], _states(), REFERENCE_BLOCK)
        body = _body(bad.requests[me])
        with pytest.raises(InvalidEncoding, match=f"chunk {parity} is not on the codeword"):
            await node.pipeline.store_chunks(memoryview(body), _headers(body, me))
        assert not await node.store.has_batch(bad.header_hash) and node.signer.signed == 1
    finally:
        await node.store.close()
