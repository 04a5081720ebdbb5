"""The committed contract artifacts match the sources, and anvil starts and stops cleanly."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from operator_node.chain.artifacts import CONTRACT_NAMES, load_artifact
from operator_node.devnet.anvil import Anvil, AnvilError

_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_artifacts_are_not_stale() -> None:
    node = shutil.which("node")
    assert node is not None, "node is needed to run the pinned solc (npm ci)"
    result = subprocess.run(
        [node, str(_ROOT / "contracts/compile.js"), "--check"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_artifacts_ship_every_contract_with_bytecode() -> None:
    for name in CONTRACT_NAMES:
        artifact = load_artifact(name)
        assert artifact.bytecode.startswith("0x") and len(artifact.bytecode) > 100, name
        assert any(entry.get("type") == "function" for entry in artifact.abi), name


def test_anvil_starts_answers_and_stops() -> None:
    anvil = Anvil()
    with anvil:
        assert anvil.running and anvil.port > 0
    assert not anvil.running
    anvil.stop()  # idempotent


def test_anvil_reports_a_failed_start() -> None:
    with pytest.raises(AnvilError, match="exited at start"):
        Anvil(extra_args=("--no-such-flag",)).start()
