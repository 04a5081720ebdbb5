"""End to end on a real devnet: anvil, the contracts, four registered operator daemons.

disperse → confirm on chain → retrieve with a node down → same bytes; a node killed with SIGKILL
still serves what it signed; a wrong-assignment request, and one to a node whose store is full,
are refused over real HTTP with nothing stored; and the same flow through the CLI.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.client_config import write_client_config
from support.daemon import http_get
from support.payments import pay, paying_flags
from support.store_chunks import post_store_chunks, send_to_all

from operator_node.client.batch import EncodedBlob, PreparedBatch, prepare_batch
from operator_node.client.disperser import DispersalResult, Disperser
from operator_node.client.retriever import RetrievalError, Retriever
from operator_node.crypto.bls import BlsKeyPair
from operator_node.crypto.keystore import save_bls_keystore
from operator_node.devnet.network import TOKEN, Devnet, DevnetOperator
from operator_node.protocol.hashes import Bytes
from operator_node.protocol.headers import QuorumParams
from operator_node.protocol.messages import validate_retrieval_reply
from operator_node.protocol.wire import WireLimits, decode_retrieval_reply, encode_store_chunks

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    net = Devnet(tmp_path_factory.mktemp("devnet"))
    asyncio.run(net.start())
    yield net
    net.stop()


@pytest.fixture
async def running(devnet: Devnet) -> AsyncIterator[Devnet]:
    """The devnet with every node up again after the test, whatever it stopped."""
    yield devnet
    for operator in devnet.operators:
        if operator.process is None or operator.process.poll() is not None:
            devnet.start_node(operator)
            devnet.wait_ready(operator)


async def _disperse(devnet: Devnet, data: bytes, k: int = 8) -> DispersalResult:
    connection = devnet.connect(devnet.disperser)
    try:
        return await Disperser(connection, devnet.disperser, payer=devnet.payer).disperse(data, k=k)
    finally:
        await connection.close()


async def _retrieve(devnet: Devnet, result: DispersalResult) -> bytes:
    connection = devnet.connect()
    try:
        blob = await Retriever(connection).retrieve(result.batch_header_hash, result.blob_index)
    finally:
        await connection.close()
    return blob.data


def _post_store_chunks(
    devnet: Devnet, operator: DevnetOperator, body: bytes
) -> tuple[int, dict[str, Any]]:
    """POST a StoreChunks body, signed by the devnet's disperser; (status, JSON reply)."""
    reply = post_store_chunks(devnet, operator, body)
    return reply.status, reply.body


async def test_e2e_disperse_confirm_retrieve_with_node_down(running: Devnet) -> None:
    data = os.urandom(300_000)
    result = await _disperse(running, data)

    assert all(reply.signature for reply in result.replies), result.replies
    assert result.signed_stake == {0: (100 * TOKEN, 100 * TOKEN)}
    connection = running.connect()
    try:
        reader = await connection.get_reader()
        manager = reader.contracts.service_manager
        events = await manager.events.BatchConfirmed().get_logs(from_block=0)
        confirmed = {bytes(e["args"]["batchHeaderHash"]): e["args"]["batchId"] for e in events}
    finally:
        await connection.close()
    assert confirmed[result.batch_header_hash] == result.batch_id

    # The smallest operator down: the others hold well over k chunks between them.
    running.stop_node(running.operators[0])
    assert await _retrieve(running, result) == data


async def test_e2e_node_killed_with_sigkill_serves_what_it_signed(running: Devnet) -> None:
    data = os.urandom(100_000)
    result = await _disperse(running, data)
    victim = running.operators[2]
    reply = next(r for r in result.replies if r.socket == victim.socket)
    assert reply.signature is not None

    assert running.stop_node(victim, signal.SIGKILL) == -signal.SIGKILL
    running.start_node(victim)
    running.wait_ready(victim)

    url = f"{victim.api_url}/v1/chunks/0x{result.batch_header_hash.hex()}/0"
    status, body = http_get(url)
    assert status == 200
    served = decode_retrieval_reply(body, WireLimits())
    validate_retrieval_reply(served, result.batch_header_hash, 0)
    assert len(served.blob.indices) == reply.chunks > 0


async def test_e2e_wrong_assignment_is_refused_and_nothing_stored(running: Devnet) -> None:
    block, states = await running.fetch_operator_state()
    chunks = [os.urandom(64) for _ in range(40)]
    blob = EncodedBlob.from_chunks(
        chunks, data_length=512, k=8, quorums=[QuorumParams(0, 25, 50)], account=b"\x01" * 20
    )
    batch = prepare_batch([pay(blob, running)], states, block)
    sender, receiver = running.operators[3], running.operators[1]
    body = b"".join(encode_store_chunks(batch.requests[sender.keypair.operator_id]))
    status, reply = _post_store_chunks(running, receiver, body)
    assert status == 422
    assert reply["error"] == "wrong_assignment"
    url = f"{receiver.api_url}/v1/chunks/0x{batch.header_hash.hex()}/0"
    assert http_get(url)[0] == 404


async def test_e2e_store_full_is_refused_over_http_and_nothing_stored(
    running: Devnet, tmp_path: Path
) -> None:
    """A node whose store is full answers 507 store_full: nothing stored, no signature given.

    What it stored before is still served. (A retry after expiry is stored: see the pipeline test.)
    """
    victim = running.operators[3]
    running.stop_node(victim)
    # The smallest store the config allows, in one shard, on a fresh data directory.
    running.configure_node(
        victim,
        {
            "node": {"data_dir": str(tmp_path / "data")},
            "store": {"max_size": 16 << 20, "shards": 1},
            "limits": {"max_request_bytes": 8 << 20},
            "dispersal": {"max_blob_size": 4 << 20},
        },
    )
    try:
        running.start_node(victim)
        running.wait_ready(victim)
        block, states = await running.fetch_operator_state()
        data = os.urandom(8 * (128 << 10))
        me = victim.keypair.operator_id
        stored, refused = [], None
        for number in range(24):  # 16 MiB holds about nine of these 1.6 MiB shares
            blob = EncodedBlob.from_data(
                data,
                n=40,
                k=8,
                quorums=[QuorumParams(0, 25, 50)],
                account=number.to_bytes(20, "big"),
            )
            batch = prepare_batch([pay(blob, running)], states, block)
            status, reply = _post_store_chunks(
                running, victim, b"".join(encode_store_chunks(batch.requests[me]))
            )
            if status != 200:
                refused = (batch, status, reply)
                break
            assert reply["signature"].startswith("0x")
            stored.append(batch)
        assert refused is not None, "the 16 MiB store never filled"
        batch, status, reply = refused
        assert (status, reply["error"]) == (507, "store_full"), reply
        assert "signature" not in reply
        # The client is not told the node's paths; the operator's log has the whole story.
        data_dir = str(tmp_path / "data")
        assert data_dir not in reply["message"]
        lines = victim.log_path.read_text().splitlines()
        logged = [json.loads(line) for line in lines if line.startswith("{")]
        warnings = [e for e in logged if e.get("event") == "request_refused"]
        assert any(e["error"] == "store_full" and data_dir in e["message"] for e in warnings)
        assert len(stored) >= 2
        base = f"{victim.api_url}/v1/chunks/0x"
        assert http_get(f"{base}{batch.header_hash.hex()}/0")[0] == 404
        for kept in stored:
            status, body = http_get(f"{base}{kept.header_hash.hex()}/0")
            assert status == 200
            validate_retrieval_reply(
                decode_retrieval_reply(body, WireLimits()), kept.header_hash, 0
            )
        assert http_get(f"{victim.api_url}/eigen/node")[0] == 200
        # Health says so: dispersal Down (store_full), the node partially healthy.
        assert http_get(f"{victim.api_url}/eigen/node/services/dispersal/health")[0] == 503
        assert http_get(f"{victim.api_url}/eigen/node/health")[0] == 206
    finally:
        running.stop_node(victim)
        running.configure_node(victim)
        running.start_node(victim)
        running.wait_ready(victim)


async def test_e2e_unregistered_key_refuses_as_not_registered(
    running: Devnet, tmp_path: Path
) -> None:
    """A node restarted with a BLS key that is not registered says so: every StoreChunks request
    is refused 503 not_registered before its body is read (not "disperser not allowed"), and
    health reports dispersal Down."""
    victim = running.operators[2]
    running.stop_node(victim)
    keystore, password = tmp_path / "stray.bls.key.json", tmp_path / "stray.password"
    stray = BlsKeyPair.from_secret(987_654_321)
    save_bls_keystore(keystore, stray, "stray password", scrypt_n=1024)
    password.write_text("stray password\n")
    password.chmod(0o600)
    running.configure_node(
        victim, {"keys": {"bls_keystore": str(keystore), "bls_password_file": str(password)}}
    )
    try:
        running.start_node(victim)
        running.wait_ready(victim)
        base = f"{victim.api_url}/eigen/node"
        deadline = time.monotonic() + 30
        while http_get(f"{base}/services/dispersal/health")[0] != 503:
            assert time.monotonic() < deadline, "dispersal never reported Down"
            time.sleep(0.1)
        assert http_get(f"{base}/health")[0] == 206
        block, states = await running.fetch_operator_state()
        blob = EncodedBlob.from_data(
            os.urandom(8 * 1024),
            n=40,
            k=8,
            quorums=[QuorumParams(0, 25, 50)],
            account=b"\x01" * 20,
        )
        batch = prepare_batch([pay(blob, running)], states, block)
        body = b"".join(encode_store_chunks(batch.requests[victim.keypair.operator_id]))
        status, reply = _post_store_chunks(running, victim, body)
        assert (status, reply["error"]) == (503, "not_registered"), reply
        assert stray.operator_id.hex() in reply["message"]
    finally:
        running.stop_node(victim)
        running.configure_node(victim)
        running.start_node(victim)
        running.wait_ready(victim)


def test_e2e_cli_disperse_and_retrieve(running: Devnet, tmp_path: Path) -> None:
    config = write_client_config(tmp_path, running, "disperser password")
    blob = tmp_path / "blob.bin"
    blob.write_bytes(os.urandom(70_000))

    cli = [sys.executable, "-m", "operator_node"]
    dispersed = subprocess.run(
        [*cli, "disperse", str(blob), "--config", str(config), "--k", "8", *paying_flags(running)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert dispersed.returncode == 0, dispersed.stderr
    match = re.search(r"batch_header_hash (0x[0-9a-f]{64})", dispersed.stdout)
    assert match, dispersed.stdout
    assert f"signed stake {100 * TOKEN}/{100 * TOKEN}" in dispersed.stdout

    out = tmp_path / "out.bin"
    retrieved = subprocess.run(
        [*cli, "retrieve", match.group(1), "0", "-o", str(out), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert retrieved.returncode == 0, retrieved.stderr
    assert out.read_bytes() == blob.read_bytes()


def _holders(devnet: Devnet, batch: PreparedBatch, blob: int = 0) -> dict[str, tuple[int, ...]]:
    """Each running node's chunk indices of ``blob`` (possibly none), by node name."""
    assignment = batch.assignments[blob]
    return {op.name: assignment.get(op.keypair.operator_id, ()) for op in devnet.operators}


def _send_to_all(devnet: Devnet, batch: PreparedBatch) -> dict[str, tuple[int, dict[str, Any]]]:
    """POST every running node its own request of ``batch``: (status, reply) by node name."""
    return {name: (reply.status, reply.body) for name, reply in send_to_all(devnet, batch).items()}


def _assert_refused_exactly(
    devnet: Devnet, batch: PreparedBatch, replies: dict[str, tuple[int, dict[str, Any]]],
    refusing: set[str],
) -> None:  # fmt: skip
    """The nodes in ``refusing`` answered 422 invalid_encoding and hold nothing of the batch; the
    others stored and signed it."""
    assert refusing, "the forgery reached no node: the test proves nothing"
    for op in devnet.operators:
        status, reply = replies[op.name]
        url = f"{op.api_url}/v1/chunks/0x{batch.header_hash.hex()}/0"
        if op.name in refusing:
            assert status == 422 and reply["error"] == "invalid_encoding", (op.name, reply)
            assert "signature" not in reply
            assert http_get(url)[0] == 404
        else:
            assert status == 200 and reply["signature"], (op.name, reply)


async def test_e2e_every_node_holding_a_chunk_off_the_codeword_refuses_it(running: Devnet) -> None:
    """Three forgeries a disperser can commit to, each re-committed (new Merkle root, Z from its
    first k chunks, so every chunk still verifies against the root): one altered chunk, chunks
    swapped between two blobs, random data. Every node holding a chunk off the codeword that Z
    commits to refuses it over HTTP with 422 invalid_encoding and stores and signs nothing; the
    other nodes store and sign, as their chunks are consistent."""
    block, states = await running.fetch_operator_state()
    quorums, k, n = [QuorumParams(0, 25, 50)], 8, 40
    size = k * 1024
    honest = EncodedBlob.from_data(
        os.urandom(size), k=k, n=n, quorums=quorums, account=b"\x01" * 20
    )
    holders = _holders(running, prepare_batch([pay(honest, running)], states, block))
    held = sorted(i for indices in holders.values() for i in indices)

    def recommit(chunks: list[Bytes], account: bytes) -> EncodedBlob:
        return EncodedBlob.from_chunks(
            chunks, data_length=size, k=k, quorums=quorums, account=account
        )

    def flip(chunk: Bytes, at: int) -> bytes:
        altered = bytearray(chunk)
        altered[at % len(altered)] ^= 0x01 << (at % 8)
        return bytes(altered)

    # 1. One parity chunk altered (one bit, at a different place each time): its holder refuses.
    for round_, index in enumerate([i for i in held if i >= k][:: max(1, len(held) // 6)]):
        chunks = list(honest.chunks)
        chunks[index] = flip(chunks[index], 977 * round_ + 5)
        batch = prepare_batch(
            [pay(recommit(chunks, bytes([2, round_]) * 10), running)], states, block
        )
        refusing = {name for name, ix in _holders(running, batch).items() if index in ix}
        _assert_refused_exactly(running, batch, _send_to_all(running, batch), refusing)

    # 2. A data chunk altered: Z now follows the altered data, so every parity chunk is off it.
    chunks = list(honest.chunks)
    chunks[1] = flip(chunks[1], 3)
    batch = prepare_batch([pay(recommit(chunks, b"\x03" * 20), running)], states, block)
    refusing = {name for name, ix in _holders(running, batch).items() if any(i >= k for i in ix)}
    _assert_refused_exactly(running, batch, _send_to_all(running, batch), refusing)

    # 3. Chunks swapped between two blobs of the same shape, both in one batch.
    other = EncodedBlob.from_data(os.urandom(size), k=k, n=n, quorums=quorums, account=b"\x04" * 20)
    swap = held[len(held) // 2]
    first, second = list(honest.chunks), list(other.chunks)
    first[swap], second[swap] = second[swap], first[swap]
    batch = prepare_batch(
        [pay(recommit(first, b"\x05" * 20), running), pay(recommit(second, b"\x06" * 20), running)],
        states,
        block,
    )
    refusing = {name for name, ix in _holders(running, batch).items() if swap in ix}
    _assert_refused_exactly(running, batch, _send_to_all(running, batch), refusing)

    # 4. Random data committed as a codeword: every node holding a parity chunk refuses.
    chunks = [os.urandom(1024) for _ in range(n)]
    batch = prepare_batch([pay(recommit(chunks, b"\x07" * 20), running)], states, block)
    refusing = {name for name, ix in _holders(running, batch).items() if any(i >= k for i in ix)}
    replies = _send_to_all(running, batch)
    _assert_refused_exactly(running, batch, replies, refusing)


async def test_e2e_retriever_refuses_chunks_that_do_not_rebuild_the_committed_blob(
    running: Devnet,
) -> None:
    """A GF(2^16) blob carries no fingerprints (profile 0): the nodes store random chunks under a
    valid root. Any k of them decode to something; the retriever re-encodes it, finds another root,
    and refuses rather than return data some other k chunks would contradict."""
    block, states = await running.fetch_operator_state()
    k, n = 8, 40
    blob = EncodedBlob.from_chunks(
        [os.urandom(1024) for _ in range(n)], data_length=k * 1024, k=k,
        quorums=[QuorumParams(0, 25, 50)], account=b"\x08" * 20, code=1,
    )  # fmt: skip
    assert blob.header.fingerprint == 0
    batch = prepare_batch([pay(blob, running)], states, block)
    replies = _send_to_all(running, batch)
    assert all(status == 200 for status, _ in replies.values()), replies
    connection = running.connect()
    try:
        with pytest.raises(RetrievalError, match="does not match its commitment"):
            await Retriever(connection).retrieve(
                batch.header_hash, 0, [op.socket for op in running.operators]
            )
    finally:
        await connection.close()
