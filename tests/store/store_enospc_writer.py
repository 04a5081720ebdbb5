"""Fills a chunk store on a tiny filesystem until the disk (not max_size) refuses a batch.

Run by test_store_enospc.py inside a private mount namespace with a small tmpfs at ``argv[1]``.
Prints one JSON line: how many batches were stored, and the error that refused the next one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from store.store_testdata import assert_stored, make_batch

from operator_node.store import LmdbStore, StoreFullError


def main() -> None:
    """Fill, check what was kept, reopen, check again; print the outcome."""
    path = Path(sys.argv[1]) / "chunks"
    # max_size far above the filesystem: only ENOSPC can stop the writes.
    store = LmdbStore(path, store_duration=100.0, max_size=1 << 30, initial_map_size=1 << 20)
    stored, error = [], ""
    for number in range(200):
        batch = make_batch(number, blobs=2, max_chunks=6, chunk_size=64 << 10)
        try:
            store.put_batch(batch.hash, batch.header, batch.blobs, now=1000.0)
        except StoreFullError as exc:
            error = str(exc)
            refused = batch
            break
        stored.append(batch)
    assert error, "a tiny filesystem took 200 batches"
    assert not store.has_batch(refused.hash)
    for batch in stored:
        assert_stored(store, batch)
    problems = store.check()
    store.close()
    reopened = LmdbStore(path, store_duration=100.0, max_size=1 << 30)
    for batch in stored:
        assert_stored(reopened, batch)
    assert not reopened.has_batch(refused.hash)
    # Expiry still works on the full disk, and then the refused batch fits.
    deleted = reopened.delete_expired(1100.0, max_batches=len(stored)).batches
    reopened.put_batch(refused.hash, refused.header, refused.blobs, now=2000.0)
    assert_stored(reopened, refused)
    reopened.close()
    outcome = {"stored": len(stored), "deleted": deleted, "error": error, "problems": problems}
    print(json.dumps(outcome))


if __name__ == "__main__":
    main()
