"""Chain fixtures: one anvil and one deployment per session, a snapshot reverted after each test.

Each operator has deposited its weight (token units) into the strategy both quorums weigh at
multiplier 1e18, so its stake in each quorum, once registered, is its weight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from chain.chain_support import Devnet, deploy_with_deposits, rpc_call

from operator_node.devnet.anvil import Anvil


@pytest.fixture(scope="session")
def devnet_session() -> Iterator[Devnet]:
    """anvil with the slashing-core contract set deployed, for the whole session."""
    with Anvil() as anvil:
        yield Devnet(anvil, asyncio.run(deploy_with_deposits(anvil.rpc_url)))


@pytest.fixture
def devnet(devnet_session: Devnet) -> Iterator[Devnet]:
    """The session's devnet, with every change a test makes reverted afterwards."""
    snapshot = rpc_call(devnet_session.rpc_url, "evm_snapshot")
    yield devnet_session
    assert rpc_call(devnet_session.rpc_url, "evm_revert", [snapshot]) is True
