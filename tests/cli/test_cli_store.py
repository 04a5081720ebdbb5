"""``operator-node store check``: a real store on disk, checked by the CLI in its own process;
a byte flipped in a segment file is found, named, quarantined on request, and then gone."""

from __future__ import annotations

import json
import random
from pathlib import Path

from support.daemon import node_config, run_cli, write_config
from support.messages import make_request

from operator_node.dispersal.records import encode_batch_record, encode_blob_record
from operator_node.store import LmdbStore, StoredBlob


def _stored_store(data_dir: Path) -> list[bytes]:
    """Three batches of two blobs stored as the node stores them; their hashes."""
    store = LmdbStore(data_dir / "chunks" / "shard-0", store_duration=3600.0, max_size=64 << 20)
    hashes = []
    try:
        for seed in range(3):
            request = make_request(random.Random(seed))
            batch_hash = request.batch_header.compute_hash()
            blobs = [
                StoredBlob(
                    encode_blob_record(blob), dict(zip(blob.indices, blob.chunks, strict=True))
                )
                for blob in request.blobs
            ]
            store.put_batch(batch_hash, encode_batch_record(request.batch_header), blobs)
            hashes.append(batch_hash)
    finally:
        store.close()
    return hashes


def test_store_check_finds_a_flipped_byte_and_quarantines_it_on_request(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "node.toml", node_config(tmp_path, store={"shards": 1, "max_size": 64 << 20})
    )
    hashes = _stored_store(tmp_path / "data")
    clean = run_cli("store", "check", "--config", str(config), "--json")
    assert clean.returncode == 0, clean.stderr
    document = json.loads(clean.stdout)
    assert document["batches"] == 3 and document["damaged"] == [] and document["chunk_bytes"] > 0

    # One chunk byte of the second batch flipped on disk.
    request = make_request(random.Random(1))
    chunk = bytes(request.blobs[0].chunks[0])
    (segment,) = (tmp_path / "data").rglob("segments/*.seg")
    data = bytearray(segment.read_bytes())
    at = data.find(chunk)
    assert at >= 0
    data[at + 3] ^= 0x40
    segment.write_bytes(bytes(data))

    found = run_cli("store", "check", "--config", str(config), "--json")
    assert found.returncode == 1
    (damaged,) = json.loads(found.stdout)["damaged"]
    assert damaged["batch"] == "0x" + hashes[1].hex() and "blob 0" in damaged["problem"]
    assert damaged["quarantined"] == []  # only on request

    text = run_cli("store", "check", "--config", str(config), "--quarantine")
    assert text.returncode == 1 and f"damaged 0x{hashes[1].hex()}" in text.stdout
    assert "quarantined" in text.stdout
    assert (tmp_path / "data" / "chunks" / "shard-0" / "quarantine" / segment.name).exists()

    after = run_cli("store", "check", "--config", str(config), "--json")
    assert after.returncode == 0, after.stdout
    assert json.loads(after.stdout)["batches"] == 2
