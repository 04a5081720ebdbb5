"""Fixtures for the CLI tests that talk to a chain or to nodes.

``chain``: one anvil per session with the contracts deployed and four operators' deposits made
(none registered), every change a test makes reverted afterwards. ``nodes``: one devnet per
session, anvil and two running node daemons holding 30% and 70% of the stake, every stopped
node started again after each test and waited for until its dispersal service reports Up (a
node answers its API before it has read its registration and the dispersers from the chain).
Both are real: the CLI runs against them as it would against a network.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from chain.chain_support import Devnet, deploy_with_deposits, rpc_call
from support.daemon import http_get

from operator_node.devnet.anvil import Anvil
from operator_node.devnet.network import Devnet as NodeDevnet
from operator_node.devnet.network import DevnetOperator

NODE_STAKES = (30, 70)  # whole tokens: without the 30, 70% signs; without the 70, too little


@pytest.fixture(scope="session")
def chain_session() -> Iterator[Devnet]:
    """anvil with the contracts deployed and the operators' deposits made, for the session."""
    with Anvil() as anvil:
        yield Devnet(anvil, asyncio.run(deploy_with_deposits(anvil.rpc_url)))


@pytest.fixture
def chain(chain_session: Devnet) -> Iterator[Devnet]:
    """The session's chain, with every change a test makes reverted afterwards."""
    snapshot = rpc_call(chain_session.rpc_url, "evm_snapshot")
    yield chain_session
    assert rpc_call(chain_session.rpc_url, "evm_revert", [snapshot]) is True


@pytest.fixture(scope="session")
def nodes_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeDevnet]:
    """A devnet of two node daemons (stakes ``NODE_STAKES``), for the session."""
    net = NodeDevnet(tmp_path_factory.mktemp("devnet"), stakes=NODE_STAKES)
    try:
        asyncio.run(net.start())
        for operator in net.operators:
            wait_dispersal_up(operator)
        yield net
    finally:
        net.stop()


@pytest.fixture
def nodes(nodes_session: NodeDevnet) -> Iterator[NodeDevnet]:
    """The session's devnet with every node up again after the test, whatever it stopped."""
    yield nodes_session
    for operator in nodes_session.operators:
        if operator.process is None or operator.process.poll() is not None:
            nodes_session.start_node(operator)
            nodes_session.wait_ready(operator)
            wait_dispersal_up(operator)


def wait_dispersal_up(operator: DevnetOperator, timeout: float = 30.0) -> None:
    """Wait until the node's dispersal service reports Up (200), so it signs what it is sent."""
    url = f"http://127.0.0.1:{operator.api_port}/eigen/node/services/dispersal/health"
    deadline = time.monotonic() + timeout
    while http_get(url)[0] != 200:
        assert time.monotonic() < deadline, f"{operator.name}: dispersal never reported Up"
        time.sleep(0.05)
