"""Crash-test child: writes test batches forever, printing each number once put_batch returned.

Usage, with the tests directory on PYTHONPATH: python -m store.store_crash_writer DATA_DIR FIRST.
Prints "ready" once the store is open.
The parent kills it with SIGKILL at a random moment; every number printed was acknowledged.
"""

from __future__ import annotations

import sys
from itertools import count
from pathlib import Path

from store.store_testdata import make_batch

from operator_node.logging import configure_logging
from operator_node.store import LmdbStore

CRASH_BATCH = {"blobs": 3, "max_chunks": 8, "chunk_size": 16 << 10}


def main() -> None:
    """Open the store and write batches FIRST_NUMBER, FIRST_NUMBER + 1, ... until killed."""
    configure_logging(level="warning", stream=sys.stderr)
    store = LmdbStore(Path(sys.argv[1]), store_duration=3600.0, max_size=1 << 30)
    print("ready", flush=True)
    for number in count(int(sys.argv[2])):
        batch = make_batch(number, **CRASH_BATCH)
        store.put_batch(batch.hash, batch.header, batch.blobs, now=1000.0)
        print(number, flush=True)


if __name__ == "__main__":
    main()
