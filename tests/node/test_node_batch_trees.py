"""The retrieval handler's batch cache: right trees, shared loads, bounded, nothing wrong kept."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace

import pytest

from operator_node.api.retrieval import BatchTrees
from operator_node.client.batch import EncodedBlob, PreparedBatch, prepare_batch
from operator_node.crypto.bls import BlsKeyPair
from operator_node.dispersal.records import encode_batch_record, encode_blob_record
from operator_node.protocol.errors import ProtocolError
from operator_node.protocol.headers import QuorumParams, compute_blob_leaf
from operator_node.protocol.merkle import validate_merkle_proof
from operator_node.store import StoredBatch

OPERATORS = [BlsKeyPair.from_secret(7000 + i) for i in range(4)]
STATES = {0: [(kp.operator_id, 25) for kp in OPERATORS]}


def _batch(blobs: int, seed: int = 0) -> tuple[PreparedBatch, list[bytes]]:
    """A batch of ``blobs`` blobs and the blob records a node stores for it."""
    base = EncodedBlob.from_data(
        os.urandom(200),
        n=16,
        k=4,
        quorums=[QuorumParams(0, 25, 50)],
        account=bytes(20),
    )
    encoded = [
        EncodedBlob(
            replace(base.header, account=(seed << 32 | i).to_bytes(20, "big")),
            base.chunks,
            base.tree,
        )
        for i in range(blobs)
    ]
    batch = prepare_batch(encoded, STATES, 10)
    request = batch.requests[OPERATORS[0].operator_id]
    return batch, [encode_blob_record(blob) for blob in request.blobs]


class Loader:
    """Loads one stored batch (or nothing), counting the loads."""

    def __init__(self, batch: StoredBatch | None) -> None:
        self.batch = batch
        self.loads = 0

    async def __call__(self) -> StoredBatch | None:
        self.loads += 1
        await asyncio.sleep(0)  # a real load is a thread hop: others may ask meanwhile
        return self.batch


def _loader(batch: PreparedBatch, records: list[bytes]) -> Loader:
    return Loader(StoredBatch(encode_batch_record(batch.header), tuple(records), expiry=0.0))


@pytest.mark.parametrize("blobs", [1, 5, 100])  # built on the loop, and in a thread
async def test_batch_trees_proofs_reach_the_batch_root(blobs: int) -> None:
    batch, records = _batch(blobs)
    index = await BatchTrees().get(batch.header_hash, _loader(batch, records))
    assert index is not None and index.header == batch.header
    for blob_index, blob in enumerate(batch.blobs):
        leaf = compute_blob_leaf(blob.header)
        proof = index.tree.get_proof(blob_index)
        validate_merkle_proof(leaf, blob_index, proof, batch.header.batch_root, blobs)


async def test_batch_trees_concurrent_requests_share_one_load_and_keep_it() -> None:
    batch, records = _batch(100)
    trees, load = BatchTrees(), _loader(batch, records)
    first, second = await asyncio.gather(
        trees.get(batch.header_hash, load), trees.get(batch.header_hash, load)
    )
    assert first is second and load.loads == 1
    assert await trees.get(batch.header_hash, load) is first and load.loads == 1
    assert len(trees) == 1


async def test_batch_trees_drop_least_recently_used_beyond_the_leaf_bound() -> None:
    (a, a_records), (b, b_records), (c, c_records) = (_batch(60, seed) for seed in range(3))
    load_a, load_b, load_c = _loader(a, a_records), _loader(b, b_records), _loader(c, c_records)
    trees = BatchTrees(max_leaves=150)
    await trees.get(a.header_hash, load_a)
    await trees.get(b.header_hash, load_b)
    await trees.get(a.header_hash, load_a)  # a is now the most recently used
    await trees.get(c.header_hash, load_c)  # 180 leaves: b goes, a stays
    assert len(trees) == 2
    await trees.get(a.header_hash, load_a)
    assert load_a.loads == 1
    index_b = await trees.get(b.header_hash, load_b)
    assert load_b.loads == 2 and index_b is not None and index_b.tree.root == b.header.batch_root


async def test_batch_trees_single_batch_over_the_bound_is_still_served() -> None:
    batch, records = _batch(100)
    trees = BatchTrees(max_leaves=10)
    index = await trees.get(batch.header_hash, _loader(batch, records))
    assert index is not None and index.tree.root == batch.header.batch_root and len(trees) == 1


async def test_batch_trees_unknown_batch_is_not_remembered() -> None:
    batch, records = _batch(3)
    trees, load = BatchTrees(), Loader(None)
    assert await trees.get(batch.header_hash, load) is None
    assert len(trees) == 0
    load.batch = _loader(batch, records).batch  # stored since
    index = await trees.get(batch.header_hash, load)
    assert index is not None and load.loads == 2


@pytest.mark.parametrize("blobs", [3, 100])
async def test_batch_trees_bad_record_fails_and_is_not_kept(blobs: int) -> None:
    batch, records = _batch(blobs)
    records[-1] = records[-1][:10]  # a damaged record
    trees = BatchTrees()
    with pytest.raises(ProtocolError):
        await trees.get(batch.header_hash, _loader(batch, records))
    assert len(trees) == 0


async def test_batch_trees_a_cancelled_request_does_not_cancel_the_shared_build() -> None:
    batch, records = _batch(200)
    trees, load = BatchTrees(), _loader(batch, records)
    leaving = asyncio.ensure_future(trees.get(batch.header_hash, load))
    staying = asyncio.ensure_future(trees.get(batch.header_hash, load))
    await asyncio.sleep(0)
    leaving.cancel()
    index = await staying
    assert leaving.cancelled() and index is not None
    assert await trees.get(batch.header_hash, load) is index and load.loads == 1
