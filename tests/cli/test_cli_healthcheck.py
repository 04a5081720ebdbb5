"""``operator-node healthcheck`` against real daemons: exit 0 only for a node that answers 200
(registered on a real anvil chain, every service Up), 1 with the reason for a node whose chain is
Down (206) and for no node at all; it follows the configured port, not one written in the image.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chain.chain_support import DEPLOYER, OPERATORS
from support.daemon import NodeProcess, node_config, run_cli, write_config
from support.http_node import KEYPAIR, OTHERS, keyed_config

from operator_node.chain.client import ChainConnection
from operator_node.chain.deploy import Deployment, QuorumSpec, deploy_contracts, deposit
from operator_node.chain.registration import ensure_registered
from operator_node.chain.rpc import connect
from operator_node.config import ChainSection
from operator_node.devnet.anvil import Anvil
from operator_node.devnet.ports import free_port

NodeFactory = Callable[..., NodeProcess]
STAKE = 10**18


def _healthcheck(config: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = run_cli("healthcheck", "--config", str(config), *extra, env=env, timeout=30)
    assert result.stderr == "", result.stderr
    return result.returncode, result.stdout.strip()


def _until(
    config: Path, done: Callable[[int, str], bool], timeout: float = 30.0
) -> tuple[int, str]:
    """Run the healthcheck until ``done(code, output)``; the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        code, output = _healthcheck(config)
        if done(code, output) or time.monotonic() > deadline:
            return code, output
        time.sleep(0.2)


def test_healthcheck_no_node_is_unhealthy_and_says_so(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path / "node.toml", node_config(tmp_path, api={"port": port}))
    code, output = _healthcheck(config)
    assert code == 1
    assert output == (
        f"unhealthy: nothing answers at 127.0.0.1:{port} (Connection refused); is the node running?"
    )
    # The port comes from the configuration as the node reads it, overrides included.
    other = free_port()
    code, output = _healthcheck(config, env={"OPERATOR_NODE__API__PORT": str(other)})
    assert code == 1 and f"127.0.0.1:{other}" in output


def test_healthcheck_unreadable_config_is_unhealthy_not_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[api]\nport = 0\n")
    code, output = _healthcheck(config)
    assert code == 1  # Docker reserves 2
    assert output.startswith("unhealthy: the configuration does not load")
    assert "api.port must be at least 1" in output


def test_healthcheck_chain_down_is_unhealthy(tmp_path: Path, node_factory: NodeFactory) -> None:
    # A registry coordinator behind an RPC endpoint where nothing listens: the chain is Down.
    chain = {
        "rpc_url": f"http://127.0.0.1:{free_port()}",
        "registry_coordinator": "0x" + "11" * 20,
        "rpc_timeout": 1.0,
    }
    node = node_factory(keyed_config(tmp_path, chain=chain))
    node.wait_ready()
    code, output = _until(node.config_path, lambda code, out: "chain (Down)" in out)
    assert code == 1
    assert output.startswith(
        f"unhealthy: 127.0.0.1:{node.api_port}/eigen/node/health answered 206 (partially healthy)"
    )
    assert "chain (Down)" in output and "dispersal (" in output
    # A retrieval-only deployment may accept that.
    code, output = _healthcheck(node.config_path, "--allow-partial")
    assert code == 0 and output.startswith("healthy: ") and "answered 206" in output


async def _deploy_and_register(rpc_url: str, socket: str) -> Deployment:
    """Contracts on anvil; KEYPAIR's operator registered in quorum 0 at ``socket`` with a
    quarter of the stake (another operator, with no node, holds the rest)."""
    w3 = connect(rpc_url, metrics=None)
    try:
        deployment = await deploy_contracts(
            w3, DEPLOYER, quorums=[QuorumSpec(minimum_stake=STAKE)], dispersers=[DEPLOYER.address]
        )
        await deposit(w3, DEPLOYER, deployment, OPERATORS[0], STAKE)
        await deposit(w3, DEPLOYER, deployment, OPERATORS[1], 3 * STAKE)
    finally:
        await w3.provider.disconnect()
    section = ChainSection(
        rpc_url=rpc_url,
        registry_coordinator=deployment.registry_coordinator,
        operator_state_retriever=deployment.operator_state_retriever,
        tx_timeout=30.0,
    )
    for account, keypair, at in ((OPERATORS[0], KEYPAIR, socket), (OPERATORS[1], OTHERS[0], "")):
        connection = ChainConnection(section, metrics=None, account=account)
        try:
            await ensure_registered(await connection.get_writer(), keypair, (0,), at)
        finally:
            await connection.close()
    return deployment


@pytest.fixture
def anvil() -> Iterator[Anvil]:
    with Anvil() as chain:
        yield chain


def test_healthcheck_registered_node_is_healthy(
    tmp_path: Path, node_factory: NodeFactory, anvil: Anvil
) -> None:
    sections = keyed_config(tmp_path)
    api = sections["api"]
    socket = f"127.0.0.1:{api['dispersal_port']};{api['port']}"
    deployment = asyncio.run(_deploy_and_register(anvil.rpc_url, socket))
    sections["chain"] = {
        "rpc_url": anvil.rpc_url,
        "chain_id": anvil.chain_id,
        "registry_coordinator": deployment.registry_coordinator,
        "operator_state_retriever": deployment.operator_state_retriever,
    }
    sections["api"]["socket"] = socket
    node = node_factory(sections)
    node.wait_ready()
    code, output = _until(node.config_path, lambda code, out: code == 0)
    assert (code, output) == (
        0,
        f"healthy: 127.0.0.1:{node.api_port}/eigen/node/health answered 200 (healthy)",
    )
    # The chain service's first pass adds what the start-up line could not know.
    status = _logged(node, "node_chain_status")
    assert status["registered"] is True and status["quorums"] == [0]
    assert status["stakes"] == {"0": str(STAKE)}
    assert status["socket"] == socket and status["socket_matches"] is True
    assert status["address"] == OPERATORS[0].address
    # Stopped, the same check fails.
    node.stop()
    code, output = _healthcheck(node.config_path)
    assert code == 1 and "nothing answers" in output


def _logged(node: NodeProcess, event: str) -> dict[str, Any]:
    lines = [json.loads(line) for line in node.log().splitlines() if line.startswith("{")]
    found: list[dict[str, Any]] = [line for line in lines if line["event"] == event]
    assert len(found) == 1, found
    return found[0]


def test_healthcheck_starts_fast() -> None:
    # Docker runs it every 30 s inside the container: it must not load the node's libraries.
    probe = (
        "import sys\nfrom operator_node.cli import main\n"
        "try:\n    main(['healthcheck', '--config', '/nonexistent.toml'])\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in ('aiohttp', 'web3', 'lmdb', 'eth_account') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
