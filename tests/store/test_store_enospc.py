"""A full disk (ENOSPC, below max_size) refuses the batch cleanly and loses nothing stored.

A real small filesystem: a 3 MiB tmpfs mounted in a private user and mount namespace
(``unshare -rm``), so no root is needed where unprivileged user namespaces are allowed. Where
they are not, the test skips and says why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
PROJECT = TESTS.parent


def _in_small_fs(directory: Path, *command: str) -> subprocess.CompletedProcess[str]:
    script = f'mount -t tmpfs -o size=3m tmpfs "{directory}" && exec "$@"'
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), str(PROJECT)]))
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, "sh", *command],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_store_disk_full_refuses_batch_and_keeps_everything_stored(tmp_path: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) is not installed")
    probe = _in_small_fs(tmp_path, "true")
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs in a user namespace: {probe.stderr.strip()}")
    writer = TESTS / "store" / "store_enospc_writer.py"
    done = _in_small_fs(tmp_path, sys.executable, str(writer), str(tmp_path))
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["stored"] >= 1
    assert "disk" in outcome["error"] and "full" in outcome["error"]
    assert outcome["problems"] == []
