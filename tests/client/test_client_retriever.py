"""The retriever against a real daemon over HTTP: a corrupt node's FP-v1 blob is refused.

An honest node never stores an FP-v1 blob whose fingerprint hash is not that of its data
chunks' fingerprints (its ``encoding`` stage refuses it). A corrupt node can: here the batch is
written straight into the node's store on disk, as the dispersal pipeline would write it, before
the daemon starts. The chunks and the commitment are honest, so every Merkle check passes and
only the retriever's fingerprint check (``Retriever.rebuild``) can catch the blob. The control is
the honest blob, stored the same way at the same node and retrieved the same way.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from support.daemon import NodeProcess, http_get, node_config, start_node, write_config

from operator_node.chain.client import ChainConnection
from operator_node.client.batch import EncodedBlob
from operator_node.client.retriever import RetrievalError, Retriever
from operator_node.config import ChainSection, load_config
from operator_node.devnet.ports import free_port
from operator_node.dispersal.records import encode_batch_record, encode_blob_record
from operator_node.erasure.fingerprint import ROW
from operator_node.health import Health
from operator_node.protocol.encoding import check_blob_encoding
from operator_node.protocol.errors import InvalidEncoding
from operator_node.protocol.hashes import keccak256
from operator_node.protocol.headers import (
    PROFILE_FP1,
    BatchHeader,
    BlobHeader,
    QuorumParams,
    compute_batch_tree,
)
from operator_node.protocol.messages import BlobChunks, select_blob_chunks, validate_blob_chunks
from operator_node.store import StoredBlob, open_store

K, N = 4, 12
DATA = random.Random(20240611).randbytes(3000)
REFERENCE_BLOCK = 7


@dataclass(frozen=True)
class StoredCase:
    """A batch of one blob written to the node's store: its hash and what was stored."""

    batch_hash: bytes
    blob: BlobChunks


@dataclass(frozen=True)
class CorruptNode:
    """The running daemon and the two batches its store was given before it started."""

    node: NodeProcess
    honest: StoredCase
    corrupt: StoredCase

    @property
    def socket(self) -> str:
        """The node's socket as registered on chain: ``host:dispersal_port;retrieval_port``."""
        return f"127.0.0.1:{self.node.store_chunks_port};{self.node.api_port}"


def _honest_blob() -> EncodedBlob:
    blob = EncodedBlob.from_data(
        DATA, k=K, n=N, quorums=[QuorumParams(0, 25, 50)], account=b"\xaa" * 20
    )
    assert blob.header.fingerprint == PROFILE_FP1
    assert blob.header.fingerprint_hash == keccak256(blob.fingerprints)
    return blob


def _forged_rows(z: bytes) -> bytes:
    """Z with one byte of row 0 changed; every row keeps its two zero padding bytes."""
    forged = bytearray(z)
    forged[0] ^= 0x5A
    assert all(forged[i * ROW + ROW - 2 : (i + 1) * ROW] == b"\0\0" for i in range(K))
    return bytes(forged)


def _all_chunks(blob: EncodedBlob, header: BlobHeader) -> BlobChunks:
    """All n chunks of ``blob`` under ``header``, as the one node holding them stores them."""
    return select_blob_chunks(header, blob.tree, blob.chunks, range(N))


async def _store_offline(config_path: Path, cases: list[StoredCase]) -> None:
    """Open the daemon's store with its own configuration and put each batch as the
    dispersal pipeline does, bypassing StoreChunks; close it before the daemon opens it."""
    config = load_config(config_path)
    store = await open_store(
        config.node.data_dir / "chunks",
        store_duration=config.store.store_duration,
        max_size=config.store.max_size,
        health=Health(),
        shards=config.store.shards,
    )
    try:
        for case in cases:
            batch_header = BatchHeader(compute_batch_tree([case.blob.header]).root, REFERENCE_BLOCK)
            assert batch_header.compute_hash() == case.batch_hash
            blob = case.blob
            stored = StoredBlob(
                encode_blob_record(blob), dict(zip(blob.indices, blob.chunks, strict=True))
            )
            assert await store.put_batch(
                case.batch_hash, encode_batch_record(batch_header), [stored]
            )
    finally:
        await store.close()


def _case(blob: BlobChunks) -> StoredCase:
    root = compute_batch_tree([blob.header]).root
    return StoredCase(BatchHeader(root, REFERENCE_BLOCK).compute_hash(), blob)


@pytest.fixture(scope="module")
def corrupt_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CorruptNode]:
    """A daemon whose store holds, written offline, an honest FP-v1 blob and the same chunks
    under a header whose fingerprint hash is that of forged fingerprint rows."""
    tmp_path = tmp_path_factory.mktemp("retriever")
    blob = _honest_blob()
    forged = _forged_rows(blob.fingerprints)
    corrupt_header = replace(blob.header, fingerprint_hash=keccak256(forged))
    honest = _case(_all_chunks(blob, blob.header))
    corrupt = _case(_all_chunks(blob, corrupt_header))

    # The corrupt blob passes every Merkle check, and an honest node's encoding stage refuses it.
    validate_blob_chunks(corrupt.blob)
    check_blob_encoding(replace(honest.blob, fingerprints=blob.fingerprints))
    with pytest.raises(InvalidEncoding, match="chunk 0 is not on the codeword"):
        check_blob_encoding(replace(corrupt.blob, fingerprints=forged))

    sections = node_config(tmp_path, store={"max_size": 256 << 20, "shards": 2})
    config_path = write_config(tmp_path / "offline.toml", sections)
    asyncio.run(_store_offline(config_path, [honest, corrupt]))

    node = start_node(tmp_path, sections)
    try:
        node.wait_ready()
        yield CorruptNode(node, honest, corrupt)
    finally:
        node.stop()


def _served(node: CorruptNode) -> float:
    """Retrievals the daemon answered with chunks (outcome "ok"), from its metrics."""
    status, body = http_get(node.node.metrics_url())
    assert status == 200
    prefix = 'operator_node_retrieval_requests_total{outcome="ok"} '
    lines = [line for line in body.decode().splitlines() if line.startswith(prefix)]
    return float(lines[0].removeprefix(prefix)) if lines else 0.0


async def _retrieve(node: CorruptNode, batch_hash: bytes) -> bytes:
    """Retrieve blob 0 of ``batch_hash`` from the node alone; the chain is never asked."""
    connection = ChainConnection(
        ChainSection(
            rpc_url=f"http://127.0.0.1:{free_port()}", registry_coordinator="0x" + "11" * 20
        ),
        metrics=None,
    )
    try:
        retrieved = await Retriever(connection, timeout=5.0).retrieve(
            batch_hash, 0, sockets=[node.socket]
        )
    finally:
        await connection.close()
    assert retrieved.sources == {node.socket: N}  # all n chunks, from the one node
    assert retrieved.chunks_used == K
    assert retrieved.failures == {}
    return retrieved.data


async def test_retriever_rebuilds_honest_fp1_blob_from_daemon(corrupt_node: CorruptNode) -> None:
    served = _served(corrupt_node)
    assert await _retrieve(corrupt_node, corrupt_node.honest.batch_hash) == DATA
    assert _served(corrupt_node) == served + 1


async def test_retriever_refuses_fp1_blob_whose_fingerprints_do_not_match_signed_hash(
    corrupt_node: CorruptNode,
) -> None:
    served = _served(corrupt_node)
    with pytest.raises(RetrievalError, match="fingerprints do not match the fingerprint hash"):
        await _retrieve(corrupt_node, corrupt_node.corrupt.batch_hash)
    # The daemon served all n chunks over HTTP: the refusal is the retriever's, after its
    # Merkle checks and the commitment check passed, not a failed fetch.
    assert _served(corrupt_node) == served + 1
