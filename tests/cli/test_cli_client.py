"""``operator-node disperse`` and ``retrieve`` against a real devnet: anvil and two node daemons
holding 30% and 70% of quorum 0's stake.

The claims: ``--json`` prints one document with the documented keys, and its confirm
transaction is mined; a dispersal that an operator did not sign exits 1 and says which and why,
unless ``--accept-partial``; one whose signed stake is below the threshold is not confirmed and
sends no transaction, whatever the flags; on a terminal both commands draw a byte progress bar
on stderr, and nothing of it appears off a terminal or with ``--json``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from chain.chain_support import rpc_call
from cli.terminal import CLI, run_on_terminal
from support.client_config import write_client_config
from support.payments import paying_flags

from operator_node.cli import main
from operator_node.devnet.network import TOKEN, Devnet

pytestmark = pytest.mark.slow  # a devnet of two daemons for the module: about 3 s to start

PASSWORD = "disperser-password"
DISPERSE_KEYS = {
    "batch_header_hash", "blob_index", "batch_id", "reference_block", "confirm_tx", "confirmed",
    "complete", "size", "erasure_code", "fingerprint", "k", "n", "quorums", "operators",
    "timings", "payment",
}  # fmt: skip
RETRIEVE_KEYS = {
    "batch_header_hash", "blob_index", "output", "size", "erasure_code", "fingerprint", "k",
    "n", "chunks_used", "sources", "failures",
}  # fmt: skip
OPERATOR_KEYS = {"operator_id", "socket", "chunks", "signed", "error"}
QUORUM_KEYS = {"quorum", "signed_stake", "total_stake", "signed_percent", "threshold"}


def _client_config(tmp_path: Path, devnet: Devnet) -> Path:
    return write_client_config(tmp_path, devnet, PASSWORD)


def _blob(tmp_path: Path, size: int) -> Path:
    path = tmp_path / f"blob-{size}.bin"
    path.write_bytes(os.urandom(size))
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _disperser_nonce(devnet: Devnet) -> int:
    address = devnet.disperser.address
    return int(rpc_call(devnet.anvil.rpc_url, "eth_getTransactionCount", [address, "latest"]), 16)


def test_cli_disperse_and_retrieve_json_have_the_documented_keys(
    nodes: Devnet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, blob = str(_client_config(tmp_path, nodes)), _blob(tmp_path, 100_000)
    code, out, err = _run(
        capsys, "disperse", str(blob), "--config", config, "--json", *paying_flags(nodes)
    )
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)
    assert set(document) == DISPERSE_KEYS
    (reserved,) = [a for a in nodes.paying_accounts if a.name == "reserved"]
    assert document["payment"] == {"account": reserved.address, "kind": "reservation"}
    assert document["confirmed"] is True and document["complete"] is True
    assert document["size"] == 100_000 and document["erasure_code"] in ("gf8", "gf16")
    # A GF(2^8) blob is dispersed with fingerprints (the nodes require them by default).
    assert document["fingerprint"] == ("fp-v1" if document["erasure_code"] == "gf8" else "none")
    (quorum,) = document["quorums"]
    assert set(quorum) == QUORUM_KEYS
    assert quorum["signed_stake"] == quorum["total_stake"] == str(100 * TOKEN)
    assert quorum["signed_percent"] == 100.0 and quorum["threshold"] == 50
    assert [set(op) for op in document["operators"]] == [OPERATOR_KEYS] * 2
    assert all(op["signed"] and op["error"] is None for op in document["operators"])
    receipt = rpc_call(nodes.anvil.rpc_url, "eth_getTransactionReceipt", [document["confirm_tx"]])
    assert receipt["status"] == "0x1"
    assert nodes.deployment is not None
    assert receipt["to"] == nodes.deployment.service_manager.lower()

    output = tmp_path / "out.bin"
    argv = ["retrieve", document["batch_header_hash"], "0", "-o", str(output), "--json"]
    code, out, err = _run(capsys, *argv, "--config", config)
    assert code == 0, err
    retrieved: dict[str, Any] = json.loads(out)
    assert set(retrieved) == RETRIEVE_KEYS
    assert retrieved["output"] == str(output) and retrieved["size"] == 100_000
    assert retrieved["chunks_used"] == retrieved["k"] == document["k"]
    assert sum(source["chunks"] for source in retrieved["sources"]) >= retrieved["k"]
    assert output.read_bytes() == blob.read_bytes()


def test_cli_disperse_exits_1_when_a_node_is_down_unless_partial_is_accepted(
    nodes: Devnet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, blob = str(_client_config(tmp_path, nodes)), _blob(tmp_path, 50_000)
    down = nodes.operators[0]  # 30% of the stake: the other 70% still confirm the batch
    nodes.stop_node(down)

    code, out, err = _run(capsys, "disperse", str(blob), "--config", config, *paying_flags(nodes))
    assert code == 1
    assert re.search(r"batch_header_hash 0x[0-9a-f]{64}", out)  # confirmed: the summary is there
    failed = [line for line in out.splitlines() if "failed:" in line]
    assert len(failed) == 1 and down.socket in failed[0], out
    assert "confirmed, but 1 of 2 operators did not sign" in err
    assert "--accept-partial" in err

    code, out, _ = _run(
        capsys, "disperse", str(blob), "--config", config, "--json", *paying_flags(nodes)
    )
    document = json.loads(out)
    assert code == 1 and document["code"] == 1 and "did not sign" in document["error"]
    assert document["confirmed"] is True and document["complete"] is False
    (missing,) = [op for op in document["operators"] if not op["signed"]]
    assert missing["socket"] == down.socket and missing["error"]

    code, out, err = _run(
        capsys, "disperse", str(blob), "--config", config, "--accept-partial", *paying_flags(nodes)
    )
    assert code == 0, err
    assert "signed stake" in out


def test_cli_disperse_below_the_threshold_is_not_confirmed_and_sends_nothing(
    nodes: Devnet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, blob = str(_client_config(tmp_path, nodes)), _blob(tmp_path, 50_000)
    down = nodes.operators[1]  # 70% of the stake: 30% signed, under the 50% threshold
    nodes.stop_node(down)
    sent = _disperser_nonce(nodes)

    argv = ("disperse", str(blob), "--config", config, "--accept-partial", *paying_flags(nodes))
    code, out, err = _run(capsys, *argv)
    assert code == 1 and out == ""
    assert "quorum 0 signed 30.0% of its stake, below its 50% threshold" in err
    assert "no transaction sent" in err and down.socket in err

    # Another blob: the same one again within the same second would be the same request,
    # which the node that stored it refuses as a replay (409).
    argv = (
        "disperse", str(_blob(tmp_path, 50_001)), "--config", config, "--accept-partial",
        *paying_flags(nodes),
    )  # fmt: skip
    code, out, _ = _run(capsys, *argv, "--json")
    document = json.loads(out)
    assert code == 1 and document["code"] == 1 and document["confirmed"] is False
    assert document["quorums"][0]["signed_stake"] == str(30 * TOKEN)
    (missing,) = [op for op in document["operators"] if not op["signed"]]
    assert missing["socket"] == down.socket
    assert _disperser_nonce(nodes) == sent


def test_cli_progress_bars_on_a_terminal_only(nodes: Devnet, tmp_path: Path) -> None:
    config, blob = str(_client_config(tmp_path, nodes)), _blob(tmp_path, 4 << 20)
    code, shown = run_on_terminal(["disperse", str(blob), "--config", config, *paying_flags(nodes)])
    assert code == 0, shown
    assert re.search(r"\rsend \[#{30}\] \d+\.\d/\d+\.\d MiB 100%", shown), shown
    assert len(re.findall(r"\rsend \[", shown)) >= 2  # drawn as the bytes go, not only at the end
    batch_hash = re.search(r"batch_header_hash (0x[0-9a-f]{64})", shown)
    assert batch_hash, shown

    output = tmp_path / "out.bin"
    argv = ["retrieve", batch_hash.group(1), "0", "-o", str(output), "--config", config]
    code, shown = run_on_terminal(argv)
    assert code == 0, shown
    assert re.search(r"\rfetch \[#{30}\] \d+\.\d/\d+\.\d MiB 100%", shown), shown
    assert len(re.findall(r"\rfetch \[", shown)) >= 2
    assert output.read_bytes() == blob.read_bytes()

    code, shown = run_on_terminal([*argv, "--json"])
    assert code == 0 and "fetch [" not in shown
    piped = subprocess.run([*CLI, *argv], capture_output=True, text=True, timeout=120, check=False)
    assert piped.returncode == 0, piped.stderr
    assert "fetch [" not in piped.stderr and "\r" not in piped.stderr
