"""The chain-writing commands print the transactions they send, and ``deregister`` asks first.

Against a real anvil with the contracts deployed: every hash ``register``, ``deregister`` and
``update-socket`` print is a mined, successful transaction from the operator to the contract
named; with nothing to do they say so and send nothing; ``deregister`` without a terminal and
without ``--yes`` refuses (exit 2) before sending anything, and on a terminal it shows who
leaves which quorums and acts on the answer. ``status --json`` is one document.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from chain.chain_support import BLS_KEYS, OPERATORS, SOCKET, WEIGHTS, Devnet, rpc_call
from cli.terminal import CLI, run_on_terminal

from operator_node.cli import main
from operator_node.crypto.keystore import EcdsaKey, save_bls_keystore, save_ecdsa_keystore

LIGHT = {"scrypt_n": 1 << 10, "scrypt_p": 1}
PASSWORD = "chain-commands-password"
TX_RE = re.compile(r"\(tx (0x[0-9a-f]{64})\)")
INDEX = 2  # the operator these tests act as (OPERATORS, BLS_KEYS, WEIGHTS)


def _write_config(tmp_path: Path, chain: Devnet, socket: str = SOCKET) -> Path:
    """A config for operator ``INDEX``: its keystores (light scrypt), 0600 password files."""
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    password = keys / "password"
    password.write_text(PASSWORD)
    password.chmod(0o600)
    ecdsa = EcdsaKey.from_secret(bytes(OPERATORS[INDEX].key))
    save_ecdsa_keystore(keys / "op.ecdsa.key.json", ecdsa, PASSWORD, **LIGHT)
    save_bls_keystore(keys / "op.bls.key.json", BLS_KEYS[INDEX], PASSWORD, **LIGHT)
    d = chain.deployment
    config = tmp_path / "node.toml"
    config.write_text(
        f'[api]\nsocket = "{socket}"\ndispersal_port = 0\n'
        f'[chain]\nrpc_url = "{chain.rpc_url}"\nchain_id = {chain.anvil.chain_id}\n'
        f'registry_coordinator = "{d.registry_coordinator}"\n'
        f'operator_state_retriever = "{d.operator_state_retriever}"\nquorums = [0, 1]\n'
        f'[keys]\necdsa_keystore = "{keys / "op.ecdsa.key.json"}"\n'
        f'ecdsa_password_file = "{password}"\n'
        f'bls_keystore = "{keys / "op.bls.key.json"}"\nbls_password_file = "{password}"\n'
    )
    return config


def _mined(chain: Devnet, tx_hash: str) -> dict[str, Any]:
    """The receipt of ``tx_hash``, which must exist and have succeeded."""
    receipt: dict[str, Any] | None = rpc_call(chain.rpc_url, "eth_getTransactionReceipt", [tx_hash])
    assert receipt is not None, f"{tx_hash} was never mined"
    assert receipt["status"] == "0x1", receipt
    assert receipt["from"] == OPERATORS[INDEX].address.lower()
    return receipt


def _sent_count(chain: Devnet) -> int:
    """Transactions the operator has sent (its nonce)."""
    address = OPERATORS[INDEX].address
    return int(rpc_call(chain.rpc_url, "eth_getTransactionCount", [address, "latest"]), 16)


def _status(config: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["status", "--config", str(config), "--json"]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def test_cli_register_prints_each_mined_tx_then_sends_nothing(
    tmp_path: Path, chain: Devnet, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(_write_config(tmp_path, chain))
    assert main(["register", "--config", config]) == 0
    out = capsys.readouterr().out
    core, avs = TX_RE.findall(out)
    assert f"registered as an EigenLayer operator, allocation delay 0 blocks (tx {core})" in out
    assert f"registered in M2 quorums [0, 1] (tx {avs})" in out
    assert _mined(chain, core)["to"] == chain.deployment.delegation_manager.lower()
    assert _mined(chain, avs)["to"] == chain.deployment.registry_coordinator.lower()

    sent = _sent_count(chain)
    assert main(["register", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "already registered in quorums [0, 1]; no transaction sent" in out
    assert TX_RE.search(out) is None and _sent_count(chain) == sent


def test_cli_status_json_has_the_documented_keys(
    tmp_path: Path, chain: Devnet, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write_config(tmp_path, chain)
    assert _status(config, capsys) == {
        "operator": OPERATORS[INDEX].address,
        "eigenlayer_operator": False,
        "operator_id": None,
        "status": "never_registered",
        "quorums": [],
        "stakes": {},
        "socket_on_chain": "",
        "socket_configured": SOCKET,
        "socket_matches": False,
        "operator_sets": {
            "allocation_manager": chain.deployment.allocation_manager,
            "allocation_delay": None,
            "m2_registration_disabled": False,
            "quorums": {"0": {"kind": "m2"}, "1": {"kind": "m2"}},
        },
    }
    asyncio.run(chain.register(INDEX))
    document = _status(config, capsys)
    assert document["operator_sets"]["allocation_delay"] == 0
    assert document["status"] == "registered" and document["quorums"] == [0, 1]
    assert document["operator_id"] == "0x" + BLS_KEYS[INDEX].operator_id.hex()
    assert document["stakes"] == {"0": str(WEIGHTS[INDEX]), "1": str(WEIGHTS[INDEX])}
    assert document["socket_matches"] is True


def test_cli_deregister_without_terminal_or_yes_refuses_and_sends_nothing(
    tmp_path: Path, chain: Devnet
) -> None:
    config = _write_config(tmp_path, chain)
    asyncio.run(chain.register(INDEX))
    sent = _sent_count(chain)
    refused = subprocess.run(
        [*CLI, "deregister", "--config", str(config)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2, refused.stderr
    assert "pass --yes" in refused.stderr and "nothing was sent" in refused.stderr
    assert refused.stdout == ""
    assert _sent_count(chain) == sent


def test_cli_deregister_with_yes_prints_the_mined_tx(
    tmp_path: Path, chain: Devnet, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write_config(tmp_path, chain)
    asyncio.run(chain.register(INDEX))
    assert main(["deregister", "--config", str(config), "--quorums", "1", "--yes"]) == 0
    out = capsys.readouterr().out
    (tx_hash,) = TX_RE.findall(out)
    assert f"deregistered from M2 quorums [1] (tx {tx_hash})" in out
    assert _mined(chain, tx_hash)["to"] == chain.deployment.registry_coordinator.lower()
    assert _status(config, capsys)["quorums"] == [0]


def test_cli_deregister_on_a_terminal_shows_operator_and_quorums_and_asks(
    tmp_path: Path, chain: Devnet
) -> None:
    config = str(_write_config(tmp_path, chain))
    asyncio.run(chain.register(INDEX))
    sent = _sent_count(chain)
    prompt = b"[y/N] "
    code, shown = run_on_terminal(["deregister", "--config", config], [(prompt, "n")])
    assert code == 1, shown
    assert f"operator {OPERATORS[INDEX].address}" in shown
    assert f"0x{BLS_KEYS[INDEX].operator_id.hex()}" in shown
    assert "leaves quorums [0, 1]" in shown and "will be in no quorum" in shown
    assert "not confirmed; no transaction sent" in shown
    assert _sent_count(chain) == sent

    code, shown = run_on_terminal(["deregister", "--config", config], [(prompt, "yes")])
    assert code == 0, shown
    (tx_hash,) = TX_RE.findall(shown)
    assert f"deregistered from M2 quorums [0, 1] (tx {tx_hash})" in shown
    assert _mined(chain, tx_hash)["to"] == chain.deployment.registry_coordinator.lower()


def test_cli_update_socket_prints_the_mined_tx_then_sends_nothing(
    tmp_path: Path, chain: Devnet, capsys: pytest.CaptureFixture[str]
) -> None:
    moved = "198.51.100.4:32005"
    config = str(_write_config(tmp_path, chain, socket=moved))
    asyncio.run(chain.register(INDEX))  # at SOCKET
    assert main(["update-socket", "--config", config]) == 0
    out = capsys.readouterr().out
    (tx_hash,) = TX_RE.findall(out)
    assert f"socket updated from {SOCKET} to {moved} (tx {tx_hash})" in out
    _mined(chain, tx_hash)
    assert main(["update-socket", "--config", config]) == 0
    assert f"socket on chain is already {moved}; no transaction sent" in capsys.readouterr().out
