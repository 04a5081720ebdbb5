"""How the chunk store's directory is split into shards, each an LMDB environment of its own.

LMDB commits one write transaction at a time, and a commit is mostly waiting for the disk
(copying the pages into the page cache, then two fsyncs). Disks serve several flushes at once
(measured here: one writer thread 0.94-1.0 GB/s of write+fsync, two threads 1.35-1.57 GB/s),
so the store is split into shards by batch hash and each shard commits on its own writer
thread. A batch lives wholly in one shard, so each batch is still one atomic transaction.

Layout of the store directory:

- ``shards`` holds the shard count as text (written once, atomically, when the store is
  created); the count routes every batch, so it can never change for a store;
- ``shard-<i>/`` for i in [0, count) is an LMDB store (see :mod:`operator_node.store.lmdb_store`).

A directory with ``data.mdb`` at its top and no ``shards`` file is a store made before shards
existed: it is opened as the single shard it is, so upgrading loses nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from operator_node.durable import fsync_directory
from operator_node.store.errors import StoreError, StoreFormatError, StoreInputError

MAX_SHARDS = 16
SHARDS_FILE = "shards"


def shard_index(batch_hash: bytes, count: int) -> int:
    """The shard that holds the batch with this 32-byte hash (its first 8 bytes mod ``count``)."""
    return int.from_bytes(batch_hash[:8], "big") % count


def resolve_shard_paths(path: Path, count: int) -> list[Path]:
    """The shard directories of the store in ``path``, creating its ``shards`` file if new.

    A new store gets ``count`` shards; an existing store keeps the count it was created with
    and must be opened with that count. Raises StoreInputError for a count outside
    [1, MAX_SHARDS], StoreFormatError when the store has another count or an unreadable
    ``shards`` file, and StoreError when the directory cannot be used.
    """
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_SHARDS:
        raise StoreInputError(f"shard count must be an integer in [1, {MAX_SHARDS}], got {count!r}")
    marker = path / SHARDS_FILE
    if not marker.exists() and (path / "data.mdb").exists():
        return [path]  # the single-environment layout of earlier releases
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not marker.exists():
            _write_atomically(marker, f"{count}\n".encode())
        recorded_text = marker.read_text()
    except OSError as exc:
        raise StoreError(f"cannot use {path} as the chunk store directory: {exc}") from exc
    recorded = _parse_count(recorded_text, marker)
    if recorded != count:
        raise StoreFormatError(
            f"the chunk store in {path} has {recorded} shards but [store] shards is {count}; "
            f"a store keeps the shard count it was created with: set shards = {recorded}, or "
            f"move the directory aside to start an empty store"
        )
    return [path / f"shard-{index}" for index in range(count)]


def _parse_count(text: str, marker: Path) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_SHARDS:
        raise StoreFormatError(f"{marker} does not hold a shard count in [1, {MAX_SHARDS}]")
    return value


def _write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` via a temporary file, fsynced, renamed and the dir fsynced."""
    temporary = target.with_name(target.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, target)
    fsync_directory(target.parent)
