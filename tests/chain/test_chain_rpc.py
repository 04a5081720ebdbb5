"""The RPC provider against real anvil processes: fallback URLs (used, logged once, left for the
primary again, refused when they serve another chain), the chain id asked once, failures counted
by kind, and URLs with API keys never shown whole.

A proxy on loopback (``rpc_proxy``) stands in front of anvil where the test needs an endpoint
to fail with an HTTP status, hang, or count calls; a dead port stands for an unreachable one.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from chain.chain_support import FAST_RETRY, Devnet
from chain.rpc_proxy import RpcProxy
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs
from web3.types import RPCEndpoint

from operator_node.chain.calls import probe_view
from operator_node.chain.client import ChainConnection
from operator_node.chain.contracts import bind
from operator_node.chain.errors import RpcUnavailableError
from operator_node.chain.rpc import describe_endpoint
from operator_node.devnet.anvil import Anvil
from operator_node.devnet.ports import free_port
from operator_node.metrics import REGULAR_RPC_METHODS, RPC_ERROR_KINDS, Metrics

# A made-up API key, put in URLs the way providers do: it must never reach a log or an error.
KEY = "k3yK3yk3yK3y0123456789abcdef"


def _metrics() -> Metrics:
    return Metrics(CollectorRegistry(), avs_name="test", version="0")


def _errors(metrics: Metrics, method: str, kind: str) -> float | None:
    return metrics.registry.get_sample_value(
        "operator_node_rpc_errors_total", {"method": method, "kind": kind}
    )


def _connection(
    devnet: Devnet, primary: str, fallbacks: tuple[str, ...], metrics: Metrics, **overrides: Any
) -> ChainConnection:
    config = devnet.chain_config(rpc_url=primary, rpc_fallback_urls=fallbacks, **overrides)
    return ChainConnection(config, metrics=metrics, retry=FAST_RETRY)


def _dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v2/{KEY}"


async def test_rpc_fails_over_to_the_fallback_once_and_never_shows_the_key(
    devnet: Devnet,
) -> None:
    metrics = _metrics()
    async with RpcProxy(devnet.rpc_url) as fallback:
        connection = _connection(devnet, _dead_url(), (fallback.url(f"/v3/{KEY}"),), metrics)
        try:
            with capture_logs() as logs:
                reader = await connection.get_reader()
                for _ in range(5):
                    assert await reader.get_current_block() >= 1
        finally:
            await connection.close()
    used = [e for e in logs if e["event"] == "rpc_fallback_used"]
    assert len(used) == 1 and used[0]["log_level"] == "warning"
    assert used[0]["using"] == f"http://127.0.0.1:{fallback.port}/…"
    assert KEY not in repr(logs)
    # The dead primary was tried once (and retried on no other request): its connection error
    # is counted; the fallback was asked for its chain id once, and never again.
    assert _errors(metrics, "eth_chainId", "connection") == 1
    assert fallback.calls["eth_chainId"] == 1
    assert fallback.calls["eth_blockNumber"] == 5


async def test_rpc_returns_to_the_primary_after_the_retry_delay(devnet: Devnet) -> None:
    metrics = _metrics()
    async with RpcProxy(devnet.rpc_url) as primary, RpcProxy(devnet.rpc_url) as fallback:
        primary.fail_status = 503
        connection = _connection(
            devnet, primary.url(f"/{KEY}"), (fallback.url(),), metrics, rpc_primary_retry_after=1.0
        )
        try:
            with capture_logs() as logs:
                reader = await connection.get_reader()
                await reader.get_current_block()
                assert primary.calls["eth_blockNumber"] == 0  # on the fallback now
                primary.fail_status = None
                await asyncio.sleep(1.1)
                await reader.get_current_block()
                await reader.get_current_block()
        finally:
            await connection.close()
    assert primary.calls["eth_blockNumber"] == 2 and fallback.calls["eth_blockNumber"] == 1
    events = [e["event"] for e in logs if e["event"].startswith("rpc_")]
    assert events == ["rpc_fallback_used", "rpc_primary_restored"]
    assert _errors(metrics, "eth_chainId", "http") == 1  # the 503 that made it leave
    assert KEY not in repr(logs)


async def test_rpc_fallback_serving_another_chain_is_refused_by_name(devnet: Devnet) -> None:
    with Anvil(chain_id=4242) as other:
        fallback = f"{other.rpc_url}/?apikey={KEY}"
        connection = _connection(devnet, _dead_url(), (fallback,), _metrics())
        try:
            with capture_logs() as logs, pytest.raises(RpcUnavailableError) as raised:
                await connection.get_reader()
        finally:
            await connection.close()
    message = str(raised.value)
    assert f"{describe_endpoint(fallback)} serves chain id 4242, not 31337" in message
    assert "rpc_fallback_urls" in message and KEY not in message
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["rpc_endpoint_wrong_chain"]
    assert KEY not in repr(logs)


async def test_rpc_asks_the_chain_id_once_whatever_it_reads(devnet: Devnet) -> None:
    async with RpcProxy(devnet.rpc_url) as proxy:
        connection = _connection(devnet, proxy.url(), (), _metrics())
        try:
            reader = await connection.get_reader()
            for _ in range(10):
                await reader.get_operator_quorums(b"\x01" * 32)  # an eth_call
                await reader.get_current_block()
        finally:
            await connection.close()
    # web3 validates every eth_call against the chain id: answered from memory after the first.
    assert proxy.calls["eth_chainId"] == 1
    assert proxy.calls["eth_call"] >= 10


async def test_rpc_errors_are_counted_by_kind_from_zero(devnet: Devnet) -> None:
    metrics = _metrics()
    for method in REGULAR_RPC_METHODS:
        for kind in RPC_ERROR_KINDS:
            assert _errors(metrics, method, kind) == 0.0  # rate() reads 0 before any error
    async with RpcProxy(devnet.rpc_url) as proxy:
        connection = _connection(devnet, proxy.url(), (), metrics, rpc_timeout=0.3)
        try:
            reader = await connection.get_reader()
            # An error answer: the node refuses the request.
            answer = await connection.w3.provider.make_request(
                RPCEndpoint("eth_getBlockByNumber"), ["not-a-block", False]
            )
            assert "error" in answer
            # A revert is an answer, not an RPC error.
            no_batches = bind(connection.w3, "ServiceManager", devnet.deployment.stake_registry)
            assert await probe_view(no_batches.functions.batchId()) == (False, None)
            assert _errors(metrics, "eth_call", "rpc") == 0
            proxy.fail_status = 502
            with pytest.raises(RpcUnavailableError, match="HTTP 502"):
                await reader.get_current_block()
            proxy.fail_status, proxy.hang = None, True
            with pytest.raises(RpcUnavailableError, match="TimeoutError"):
                await reader.get_current_block()
        finally:
            await connection.close()
    attempts = 1 + FAST_RETRY.retries
    assert _errors(metrics, "eth_blockNumber", "http") == attempts
    assert _errors(metrics, "eth_blockNumber", "timeout") == attempts
    assert _errors(metrics, "eth_getBlockByNumber", "rpc") == 1


async def test_callers_waiting_on_a_failing_discovery_share_its_failure(devnet: Devnet) -> None:
    """A hung RPC fails the contract discovery after every retry; callers that queued behind it
    get that failure, not a second round of retries each (a StoreChunks request would otherwise
    be held twice as long behind the node's own chain service)."""
    async with RpcProxy(devnet.rpc_url) as proxy:
        proxy.hang = True
        connection = _connection(devnet, proxy.url(), (), _metrics(), rpc_timeout=0.3)
        try:
            with pytest.raises(RpcUnavailableError):
                await connection.get_reader()  # alone: one discovery's worth of requests
            alone = proxy.requests
            results = await asyncio.gather(
                *(connection.get_reader() for _ in range(3)), return_exceptions=True
            )
            assert all(isinstance(r, RpcUnavailableError) for r in results), results
            assert proxy.requests - alone == alone  # three callers, one discovery
            proxy.hang = False
            assert (await connection.get_reader()).contracts is not None  # and it recovers
        finally:
            await connection.close()
