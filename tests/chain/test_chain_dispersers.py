"""The disperser allow-list as a set kept from events: forged signatures cost no chain call.

A forged StoreChunks signature recovers to a fresh address each time. These tests hold the node
to answering every such lookup from memory (RPC requests counted through the instrumented
provider), to picking up allow-list changes on its refresh, and to failing fast, without waiting
for the RPC again, while a failed read's breaker is open.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from chain.chain_support import DEPLOYER, FAST_RETRY, OUTSIDER, Devnet
from prometheus_client import CollectorRegistry

from operator_node.chain.breaker import CircuitBreaker
from operator_node.chain.client import ChainConnection
from operator_node.chain.deploy import allow_disperser
from operator_node.chain.dispersers import DisperserSet, DisperserSetUnavailable
from operator_node.chain.events import EventCursor
from operator_node.chain.view import ConnectionChainView
from operator_node.devnet.ports import free_port
from operator_node.dispersal.errors import ChainUnavailable
from operator_node.metrics import Metrics


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _rpc_requests(metrics: Metrics) -> float:
    total = 0.0
    for family in metrics.registry.collect():
        if family.name == "eigen_rpc_request":
            total += sum(s.value for s in family.samples if s.name.endswith("_total"))
    return total


async def test_forged_signers_cost_no_rpc_call(devnet: Devnet) -> None:
    metrics = Metrics(CollectorRegistry(), avs_name="test", version="0")
    connection = ChainConnection(devnet.chain_config(), metrics=metrics, retry=FAST_RETRY)
    view = ConnectionChainView(connection)
    try:
        assert await view.is_disperser(DEPLOYER.address.lower())  # loads the set
        before = _rpc_requests(metrics)
        forged = ["0x" + os.urandom(20).hex() for _ in range(300)]
        assert not any([await view.is_disperser(address) for address in forged])
        assert await view.is_disperser(DEPLOYER.address)
        assert _rpc_requests(metrics) == before  # 301 lookups, no request
    finally:
        await connection.close()


async def test_set_follows_allow_list_changes_on_refresh(devnet: Devnet) -> None:
    connection = devnet.connection(DEPLOYER)
    clock = Clock()
    try:
        reader = await connection.get_reader()
        event = reader.contracts.service_manager.events.DisperserStatusChanged
        dispersers = DisperserSet(EventCursor(connection.w3, event), max_age=30.0, clock=clock)
        assert not await dispersers.contains(OUTSIDER.address)
        await allow_disperser(connection.w3, DEPLOYER, devnet.deployment, OUTSIDER.address)
        assert not await dispersers.contains(OUTSIDER.address)  # fresh: no re-read yet
        clock.now += 31
        assert not await dispersers.contains(OUTSIDER.address)  # stale: refreshed behind it
        for _ in range(200):
            if await dispersers.contains(OUTSIDER.address):
                break
            await asyncio.sleep(0.01)
        assert await dispersers.contains(OUTSIDER.address)
        manager = reader.contracts.service_manager
        await (await connection.get_writer()).tx.send(
            manager.functions.setDisperser(OUTSIDER.address, False), "setDisperser"
        )
        clock.now += 31
        await dispersers.refresh()
        assert not await dispersers.contains(OUTSIDER.address)
    finally:
        await connection.close()


async def test_unreadable_set_fails_fast_while_its_breaker_is_open(devnet: Devnet) -> None:
    metrics = Metrics(CollectorRegistry(), avs_name="test", version="0")
    live = devnet.connection()
    contracts = (await live.get_reader()).contracts
    await live.close()
    dead = ChainConnection(
        devnet.chain_config(rpc_url=f"http://127.0.0.1:{free_port()}"),
        metrics=metrics,
        retry=FAST_RETRY,
    )
    clock = Clock()
    event = contracts.service_manager.events.DisperserStatusChanged
    dispersers = DisperserSet(EventCursor(dead.w3, event), retry_after=5.0, clock=clock)
    try:
        with pytest.raises(DisperserSetUnavailable, match="could not be read"):
            await dispersers.contains(DEPLOYER.address)
        tried = _rpc_requests(metrics)
        assert tried > 0
        for _ in range(50):  # the breaker is open: no request, an answer at once
            with pytest.raises(DisperserSetUnavailable, match="retrying at most every 5 s"):
                await dispersers.contains("0x" + os.urandom(20).hex())
        assert _rpc_requests(metrics) == tried
        clock.now += 5
        with pytest.raises(DisperserSetUnavailable):
            await dispersers.contains(DEPLOYER.address)
        assert _rpc_requests(metrics) > tried  # tried again once it closed
    finally:
        await dead.close()


async def test_dead_rpc_fails_requests_fast_after_the_first(devnet: Devnet) -> None:
    """Once an operator-state read fails for a dead RPC, the next ones fail at once (no request)
    until the breaker's wait is over; then one probe goes out, and an answer closes it."""
    metrics = Metrics(CollectorRegistry(), avs_name="test", version="0")
    dead = ChainConnection(
        devnet.chain_config(rpc_url=f"http://127.0.0.1:{free_port()}"),
        metrics=metrics,
        retry=FAST_RETRY,
    )
    clock = Clock()
    view = ConnectionChainView(dead, CircuitBreaker(retry_after=5.0, clock=clock))
    try:
        with pytest.raises(ChainUnavailable, match="unreachable"):
            await view.get_block_number()
        tried = _rpc_requests(metrics)
        assert tried > 0
        for _ in range(50):
            with pytest.raises(ChainUnavailable, match="fail at once"):
                await view.get_operator_state([0], 1)
        assert _rpc_requests(metrics) == tried
        clock.now += 5
        with pytest.raises(ChainUnavailable, match="unreachable"):
            await view.get_block_number()  # the probe: tried again
        assert _rpc_requests(metrics) > tried
    finally:
        await dead.close()
    connection = devnet.connection()
    try:  # a view whose RPC answers is never held up by its breaker
        live = ConnectionChainView(connection, CircuitBreaker(retry_after=5.0, clock=clock))
        assert await live.get_block_number() > 0
    finally:
        await connection.close()
