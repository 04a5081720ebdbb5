"""The chain watcher on a real devnet: batches confirmed on chain with and without this
operator's signature count as signed or missed, the signing rate and the performance score follow,
batches it was not expected to sign (or confirmed before it started) are not counted, and a
service manager that does not confirm batches leaves no batch series at all.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
import structlog
from chain.batches import confirm_batch
from chain.chain_support import BLS_KEYS, QUORUMS, Devnet
from chain.rpc_proxy import RpcProxy
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from operator_node.chain.client import ChainConnection
from operator_node.chain.contracts import bind
from operator_node.chain.errors import ChainError
from operator_node.chain.watcher import BatchWatcher
from operator_node.metrics import Metrics

BATCH_SERIES = (
    "operator_node_batches_confirmed_total",
    "operator_node_batches_signed_total",
    "operator_node_batches_missed_total",
    "operator_node_signing_rate",
    "operator_node_chain_watcher_block",
)


def _metrics() -> Metrics:
    return Metrics(CollectorRegistry(), avs_name="test", version="0")


def _sample(metrics: Metrics, name: str, labels: dict[str, str] | None = None) -> float | None:
    return metrics.registry.get_sample_value(name, labels or {})


def _counts(metrics: Metrics) -> tuple[float | None, ...]:
    """(confirmed, signed, missed, signing rate)."""
    return tuple(_sample(metrics, name) for name in BATCH_SERIES[:4])


def _watcher(connection: ChainConnection, metrics: Metrics, from_block: int = -1) -> BatchWatcher:
    return BatchWatcher(
        connection,
        operator_id=BLS_KEYS[0].operator_id,
        metrics=metrics,
        logger=structlog.get_logger(),
        interval=1.0,
        from_block=from_block,
    )


async def test_watcher_counts_missed_then_signed_batches(devnet: Devnet) -> None:
    for index in range(3):
        await devnet.register(index)
    metrics = _metrics()
    connection = devnet.connection()
    try:
        watcher = _watcher(connection, metrics)
        await watcher.poll_once()  # starts at the head
        assert _counts(metrics) == (0, 0, 0, 1.0)

        missed = await confirm_batch(devnet, signers=(1, 2))
        with capture_logs() as logs:
            await watcher.poll_once()
        assert _counts(metrics) == (1, 0, 1, 0.0)
        metrics.update_performance_score(1.0)
        assert _sample(metrics, "eigen_performance_score", {"avs_name": "test"}) == 0.0
        [line] = [e for e in logs if e["event"] == "batch_missed"]
        assert line["log_level"] == "warning"
        assert line["batch_header_hash"] == "0x" + missed.compute_signed_hash().hex()
        assert line["reference_block"] == missed.reference_block_number
        assert line["quorums"] == list(QUORUMS)

        await confirm_batch(devnet, signers=(0, 2))
        await watcher.poll_once()
        assert _counts(metrics) == (2, 1, 1, 0.5)
        metrics.update_performance_score(0.75)  # the health-based score is lower: it wins
        assert _sample(metrics, "eigen_performance_score", {"avs_name": "test"}) == 50.0
        metrics.update_performance_score(0.25)
        assert _sample(metrics, "eigen_performance_score", {"avs_name": "test"}) == 25.0

        latest = await connection.w3.eth.get_block("latest")
        assert _sample(metrics, "operator_node_chain_head_block") == latest["number"]
        assert _sample(metrics, "operator_node_chain_watcher_block") == latest["number"]
        age = _sample(metrics, "operator_node_chain_head_age_seconds")
        # Now minus the head's timestamp when read (anvil's clock may lag after reverts).
        assert age is not None and abs(age - max(0.0, time.time() - latest["timestamp"])) < 5
    finally:
        await connection.close()


async def test_watcher_skips_batches_it_was_not_expected_to_sign(devnet: Devnet) -> None:
    await devnet.register(0, quorums=(0,))
    await devnet.register(1)
    await devnet.register(2)
    before = await confirm_batch(devnet, signers=(1, 2))  # before the watcher started
    metrics, history = _metrics(), _metrics()
    connection = devnet.connection()
    try:
        watcher = _watcher(connection, metrics)
        await watcher.poll_once()
        await confirm_batch(devnet, signers=(1, 2), quorums=(1,))  # operator 0 is not in it
        await watcher.poll_once()
        assert _counts(metrics) == (0, 0, 0, 1.0)
        # Told to start at an earlier block, a watcher judges what was confirmed since.
        rescan = _watcher(connection, history, from_block=before.reference_block_number)
        await rescan.poll_once()
        assert _counts(history) == (1, 0, 1, 0.0)
    finally:
        await connection.close()


async def test_watcher_without_batch_confirmation_exports_no_batch_series(devnet: Devnet) -> None:
    await devnet.register(0)
    metrics = _metrics()
    connection = devnet.connection()
    try:
        reader = await connection.get_reader()
        # A service manager without batchId() or confirmBatch, as EigenLayer's
        # ServiceManagerBase: here a real contract of the deployment that has neither.
        stand_in = bind(connection.w3, "ServiceManager", devnet.deployment.stake_registry)
        reader.contracts = dataclasses.replace(reader.contracts, service_manager=stand_in)
        watcher = _watcher(connection, metrics)
        # No head read yet: no head series (an age of 0 would say the node is current).
        assert _sample(metrics, "operator_node_chain_head_age_seconds") is None
        with capture_logs() as logs:
            await watcher.poll_once()
            await watcher.poll_once()
        assert [e["event"] for e in logs] == ["chain_watch_no_batches"]
        for name in BATCH_SERIES:
            assert _sample(metrics, name) is None, name
        head = await reader.get_current_block()
        assert _sample(metrics, "operator_node_chain_head_block") == head
        metrics.update_performance_score(1.0)  # no batch data: the health-based score stands
        assert _sample(metrics, "eigen_performance_score", {"avs_name": "test"}) == 100.0
    finally:
        await connection.close()


async def test_head_age_keeps_growing_while_the_rpc_cannot_be_read(devnet: Devnet) -> None:
    # A node whose RPC dies right after a good read must not look current: the age is
    # computed at each scrape from the last head it saw.
    await devnet.register(0)
    metrics = _metrics()
    async with RpcProxy(devnet.rpc_url) as proxy:
        connection = devnet.connection(rpc_url=proxy.url())
        try:
            watcher = _watcher(connection, metrics)
            await watcher.poll_once()
            first = _sample(metrics, "operator_node_chain_head_age_seconds")
            assert first is not None
            proxy.fail_status = 503
            with pytest.raises(ChainError):
                await watcher.poll_once()
            await asyncio.sleep(1.5)
            later = _sample(metrics, "operator_node_chain_head_age_seconds")
            assert later is not None and later >= first + 1.4
        finally:
            await connection.close()
