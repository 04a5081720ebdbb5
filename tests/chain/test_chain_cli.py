"""``operator-node register``, ``status`` and ``deregister`` against anvil, in process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from chain.chain_support import BLS_KEYS, DEPLOYER, WEIGHTS, Devnet, write_cli_config

from operator_node.chain.deploy import set_minimum_stake
from operator_node.cli import main


def test_cli_register_twice_status_deregister(
    tmp_path: Path, devnet: Devnet, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(write_cli_config(tmp_path, devnet))
    assert main(["register", "--config", config]) == 0
    out = capsys.readouterr().out
    assert (
        "registered as an EigenLayer operator" in out and "registered in M2 quorums [0, 1]" in out
    )
    assert main(["register", "--config", config]) == 0
    assert "already registered" in capsys.readouterr().out

    assert main(["status", "--config", config]) == 0
    out = capsys.readouterr().out
    assert f"0x{BLS_KEYS[2].operator_id.hex()}" in out
    assert f"0: {WEIGHTS[2]}, 1: {WEIGHTS[2]}" in out
    assert "203.0.113.7:32004;32005 (matches config)" in out

    assert main(["deregister", "--config", config, "--quorums", "1", "--yes"]) == 0
    assert "deregistered from M2 quorums [1]" in capsys.readouterr().out
    assert main(["deregister", "--config", config, "--quorums", "1", "--yes"]) == 1
    assert "not registered in quorum(s) [1]" in capsys.readouterr().err


def test_cli_reports_unreachable_rpc_and_wrong_password(
    tmp_path: Path, devnet: Devnet, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = write_cli_config(tmp_path, devnet, rpc_url="http://127.0.0.1:9")
    assert main(["status", "--config", str(dead)]) == 1
    assert "unreachable after" in capsys.readouterr().err
    (tmp_path / "keys" / "bls.pw").write_text("guess-7f3a")
    assert main(["register", "--config", str(dead)]) == 1
    err = capsys.readouterr().err
    assert "op.bls.key.json" in err and "wrong password" in err
    assert "guess-7f3a" not in err


def _error_lines(err: str) -> list[str]:
    """stderr less the line that says what the deployment has."""
    return [line for line in err.splitlines() if line and not line.startswith("chain: ")]


def test_cli_chain_failures_are_one_line_naming_the_call(
    tmp_path: Path, devnet: Devnet, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_cli_config(tmp_path, devnet)
    d = devnet.deployment
    # A registry coordinator address that is no registry coordinator (EigenLayer's M2 has no
    # socketRegistry(); here not even serviceManager() answers).
    wrong = Path(str(config) + ".wrong.toml")
    wrong.write_text(config.read_text().replace(d.registry_coordinator, d.index_registry))
    for command in (["status"], ["register"], ["deregister", "--yes"]):
        assert main([*command, "--config", str(wrong)]) == 1
        lines = _error_lines(capsys.readouterr().err)
        assert len(lines) == 1, lines
        assert f"RegistryCoordinator.serviceManager() at {d.index_registry} reverted" in lines[0]
        assert "Traceback" not in lines[0]


def test_cli_register_below_minimum_stake_names_contract_and_reason(
    tmp_path: Path, devnet: Devnet, capsys: pytest.CaptureFixture[str]
) -> None:
    owner = devnet.connection(DEPLOYER)

    async def raise_minimum() -> None:
        try:
            await set_minimum_stake(owner.w3, DEPLOYER, devnet.deployment, 1, WEIGHTS[2] + 1)
        finally:
            await owner.close()

    asyncio.run(raise_minimum())
    config = str(write_cli_config(tmp_path, devnet))
    assert main(["register", "--config", config]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("chain: eigenlayer_core: slashing; sockets_from: SocketRegistry")
    lines = _error_lines(captured.err)
    assert len(lines) == 1, lines
    assert "RegistryCoordinator.registerOperator reverted" in lines[0]
    assert "Operator does not meet minimum stake requirement for quorum" in lines[0]
