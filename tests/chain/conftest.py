"""Chain fixtures: one anvil and one deployment per session, a snapshot reverted after each test.

Each operator has deposited its weight (token units) into the strategy both quorums weigh at
multiplier 1e18, so its stake in each quorum, once registered, is its weight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from chain.chain_support import DEPLOYER, OPERATORS, QUORUMS, WEIGHTS, Devnet, rpc_call

from operator_node.chain.deploy import Deployment, QuorumSpec, deploy_contracts, deposit
from operator_node.chain.rpc import connect
from operator_node.devnet.anvil import Anvil


async def _deploy(url: str) -> Deployment:
    w3 = connect(url, metrics=None)
    try:
        deployment = await deploy_contracts(
            w3, DEPLOYER, quorums=[QuorumSpec() for _ in QUORUMS], dispersers=[DEPLOYER.address]
        )
        for operator, weight in zip(OPERATORS, WEIGHTS, strict=True):
            await deposit(w3, DEPLOYER, deployment, operator, weight)
        return deployment
    finally:
        await w3.provider.disconnect()


@pytest.fixture(scope="session")
def devnet_session() -> Iterator[Devnet]:
    """anvil with the slashing-core contract set deployed, for the whole session."""
    with Anvil() as anvil:
        yield Devnet(anvil, asyncio.run(_deploy(anvil.rpc_url)))


@pytest.fixture
def devnet(devnet_session: Devnet) -> Iterator[Devnet]:
    """The session's devnet, with every change a test makes reverted afterwards."""
    snapshot = rpc_call(devnet_session.rpc_url, "evm_snapshot")
    yield devnet_session
    assert rpc_call(devnet_session.rpc_url, "evm_revert", [snapshot]) is True
