"""Crash safety: SIGKILL a writer process at random moments; acknowledged batches survive whole.

A child process writes batches in a loop and prints each batch's number once ``put_batch`` has
returned (the acknowledgement the node would sign). After each kill the store is reopened and
checked: every acknowledged batch reads back complete, every batch present is complete (at most
the one in flight may be there unacknowledged), and no entry is left over from a partial write.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from store.store_crash_writer import CRASH_BATCH
from store.store_testdata import assert_stored, make_batch

from operator_node.store import LmdbStore

ROUNDS = 5
TESTS_DIR = Path(__file__).parent.parent


def run_and_kill(path: Path, first: int, delay: float) -> list[int]:
    """Start the writer, SIGKILL it ``delay`` s after it opened the store; acknowledged numbers."""
    child = subprocess.Popen(
        [sys.executable, "-m", "store.store_crash_writer", str(path), str(first)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(TESTS_DIR)},
    )
    assert child.stdout is not None
    assert child.stdout.readline() == b"ready\n"
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    output = child.stdout.read()
    child.wait()
    assert child.returncode == -signal.SIGKILL
    lines = output.split(b"\n")
    return [int(line) for line in lines[:-1]]  # the last piece is unterminated, or empty


@pytest.mark.slow
def test_lmdb_store_survives_sigkill_with_every_acknowledged_batch(tmp_path: Path) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    path = tmp_path / "chunks"
    acknowledged: list[int] = []
    for round_number in range(ROUNDS):
        first = round_number * 1_000_000
        acked = run_and_kill(path, first, delay=rng.uniform(0.05, 0.5))
        assert acked == list(range(first, first + len(acked))), f"seed {seed}"
        acknowledged += acked
        store = LmdbStore(path, store_duration=3600.0, max_size=1 << 30)
        assert store.check() == [], f"seed {seed}"
        for number in acknowledged:
            assert_stored(store, make_batch(number, **CRASH_BATCH))
        present = {batch_hash for batch_hash, _ in store.list_batches()}
        in_flight = make_batch(first + len(acked), **CRASH_BATCH)
        assert len(present) - len(acknowledged) in (0, 1), f"seed {seed}"
        if len(present) > len(acknowledged):
            assert in_flight.hash in present
            assert_stored(store, in_flight)
            acknowledged.append(first + len(acked))
        store.close()
    assert len(acknowledged) > ROUNDS, f"seed {seed}: the writer barely wrote anything"
