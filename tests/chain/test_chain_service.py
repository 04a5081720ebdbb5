"""RPC failures, metrics, the chain service's health and socket handling, the tx fee cap."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import structlog
import structlog.testing
from aiohttp import ClientSession, web
from chain.chain_support import (
    BLS_KEYS,
    FAST_RETRY,
    OPERATORS,
    QUORUMS,
    SOCKET,
    WEIGHTS,
    Devnet,
)
from prometheus_client import CollectorRegistry

from operator_node.chain.client import ChainConnection
from operator_node.chain.errors import (
    ChainConfigError,
    FeeCapError,
    RpcUnavailableError,
    TransactionTimeoutError,
)
from operator_node.chain.registration import ensure_registered
from operator_node.chain.service import SERVICE_ID, ChainService
from operator_node.config import ChainSection
from operator_node.devnet.ports import free_port
from operator_node.dispersal.readiness import DispersalReadiness
from operator_node.health import Health, ServiceStatus
from operator_node.metrics import Metrics


def _metrics() -> Metrics:
    return Metrics(CollectorRegistry(), avs_name="test", version="0")


def _service(
    connection: ChainConnection, health: Health, metrics: Metrics, **kw: object
) -> ChainService:
    args: dict[str, object] = {
        "operator_id": BLS_KEYS[0].operator_id,
        "socket": SOCKET,
        "quorums": QUORUMS,
        "update_socket": False,
        "refresh_interval": 0.05,
        "retry_backoff": 0.01,
    }
    args.update(kw)
    return ChainService(
        connection,
        health=health,
        metrics=metrics,
        logger=structlog.get_logger(),
        **args,  # type: ignore[arg-type]
    )


async def test_service_rpc_unreachable_retries_bounded_and_reports_down() -> None:
    metrics, health = _metrics(), Health()
    url = f"http://127.0.0.1:{free_port()}"
    connection = ChainConnection(
        ChainSection(
            rpc_url=url,
            registry_coordinator="0x" + "11" * 20,
            operator_state_retriever="0x" + "22" * 20,
        ),
        metrics=metrics,
        retry=FAST_RETRY,
    )
    try:
        with pytest.raises(RpcUnavailableError, match="unreachable after 3 attempts"):
            await connection.get_reader()
        attempts = metrics.registry.get_sample_value(
            "eigen_rpc_request_total",
            {"avs_name": "test", "method": "web3_clientVersion", "client_version": "unknown"},
        )
        assert attempts == 1 + FAST_RETRY.retries
        service = _service(connection, health, metrics)
        task = asyncio.create_task(service.run())
        await asyncio.sleep(0.3)
        assert not task.done()  # the loop survives RPC failures
        assert health.get_service(SERVICE_ID).status is ServiceStatus.DOWN  # type: ignore[union-attr]
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        await connection.close()


async def test_service_reports_registration_stakes_and_health(devnet: Devnet) -> None:
    metrics, health = _metrics(), Health()
    connection = devnet.connection(OPERATORS[0])
    try:
        service = _service(connection, health, metrics)
        assert await service.check_once() is None
        assert health.get_service(SERVICE_ID).status is ServiceStatus.DOWN  # type: ignore[union-attr]
        writer = await connection.get_writer()
        await ensure_registered(writer, BLS_KEYS[0], QUORUMS, "10.1.1.1:9000")
        reg = await service.check_once()
        assert reg is not None and reg.socket == "10.1.1.1:9000"  # update_socket is off
        assert health.get_service(SERVICE_ID).status is ServiceStatus.UP  # type: ignore[union-attr]
        stake = metrics.registry.get_sample_value(
            "eigen_registered_stakes",
            {"avs_name": "test", "quorum_number": "1", "quorum_name": "1"},
        )
        assert stake == WEIGHTS[0]
    finally:
        await connection.close()


async def test_service_updates_socket_when_enabled(devnet: Devnet) -> None:
    connection = devnet.connection(OPERATORS[0])
    try:
        writer = await connection.get_writer()
        await ensure_registered(writer, BLS_KEYS[0], QUORUMS, "10.1.1.1:9000")
        service = _service(connection, Health(), _metrics(), update_socket=True)
        await service.check_once()
        assert (await writer.reader.get_registration(writer.address)).socket == SOCKET
    finally:
        await connection.close()


async def test_txmanager_refuses_base_fee_above_cap(devnet: Devnet) -> None:
    connection = devnet.connection(OPERATORS[0], max_fee_gwei=0.0)
    try:
        writer = await connection.get_writer()
        with pytest.raises(FeeCapError, match="above max_fee_gwei"):
            await writer.register_as_operator()
        assert not await writer.reader.is_eigenlayer_operator(writer.address)
    finally:
        await connection.close()


async def test_txmanager_times_out_waiting_for_confirmations(devnet: Devnet) -> None:
    connection = devnet.connection(OPERATORS[0], confirmations=3, tx_timeout=1.0)
    try:
        writer = await connection.get_writer()
        # automine: the transaction is mined at once, but nothing mines the two blocks after it.
        with pytest.raises(TransactionTimeoutError, match="not 3 blocks deep"):
            await writer.register_as_operator()
        assert await writer.reader.is_eigenlayer_operator(writer.address)
    finally:
        await connection.close()


async def test_connection_refuses_wrong_chain_id_and_missing_contract(devnet: Devnet) -> None:
    for overrides, message in (
        ({"chain_id": 1}, "RPC serves chain id 31337, config says 1"),
        ({"registry_coordinator": "0x" + "ab" * 20}, "no contract at registry_coordinator"),
    ):
        connection = devnet.connection(**overrides)
        try:
            with pytest.raises(ChainConfigError, match=message):
                await connection.get_reader()
        finally:
            await connection.close()


async def test_service_reports_dispersal_down_when_chain_cannot_check_dispersers(
    devnet: Devnet,
) -> None:
    """An M2-shaped service manager has no isDisperser: with disperser_source "chain" the
    dispersal service goes Down with the reason logged; with "static" it comes Up."""
    m2 = await devnet.deploy_m2({0: 100})
    operator = devnet.connection_to(m2, OPERATORS[0])
    try:
        await ensure_registered(await operator.get_writer(), BLS_KEYS[0], (0,), SOCKET)
    finally:
        await operator.close()
    connection = devnet.connection_to(m2)
    try:
        for needs_check, expected in ((True, ServiceStatus.DOWN), (False, ServiceStatus.UP)):
            health = Health()
            health.register("dispersal", "dispersal", "test", critical=False)
            service = _service(
                connection,
                health,
                _metrics(),
                quorums=(0,),
                dispersal=DispersalReadiness(health, "dispersal"),
                needs_disperser_check=needs_check,
            )
            with structlog.testing.capture_logs() as logs:
                await service.check_once()
                await service.check_once()  # the reason is told once, the status kept
            assert health.get_service("dispersal").status is expected  # type: ignore[union-attr]
            unavailable = [e for e in logs if e["event"] == "dispersal_unavailable"]
            assert len(unavailable) == (1 if needs_check else 0)
            if needs_check:
                assert "isDisperser(address)" in unavailable[0]["reason"]
                assert m2.service_manager in unavailable[0]["reason"]
    finally:
        await connection.close()


async def test_service_reports_dispersal_down_while_key_unregistered(devnet: Devnet) -> None:
    """A node whose BLS key is not registered gets no chunks: dispersal is Down until it is,
    and requests are refused as ``not_registered`` (the node's own state, not the disperser's)."""
    health = Health()
    health.register("dispersal", "dispersal", "test", critical=False)
    readiness = DispersalReadiness(health, "dispersal")
    connection = devnet.connection(OPERATORS[0])
    try:
        service = _service(
            connection,
            health,
            _metrics(),
            dispersal=readiness,
            needs_disperser_check=True,
        )
        await service.check_once()
        assert health.get_service("dispersal").status is ServiceStatus.DOWN  # type: ignore[union-attr]
        refusal = readiness.refusal()
        assert refusal is not None and refusal.code == "not_registered"
        assert BLS_KEYS[0].operator_id.hex() in refusal.message
        await ensure_registered(await connection.get_writer(), BLS_KEYS[0], QUORUMS, SOCKET)
        await service.check_once()
        assert health.get_service("dispersal").status is ServiceStatus.UP  # type: ignore[union-attr]
        assert readiness.refusal() is None
    finally:
        await connection.close()


async def test_service_reports_dispersal_down_while_chain_unreachable() -> None:
    health = Health()
    health.register("dispersal", "dispersal", "test", critical=False)
    connection = ChainConnection(
        ChainSection(
            rpc_url=f"http://127.0.0.1:{free_port()}", registry_coordinator="0x" + "11" * 20
        ),
        metrics=None,
        retry=FAST_RETRY,
    )
    service = _service(
        connection, health, _metrics(), dispersal=DispersalReadiness(health, "dispersal")
    )
    task = asyncio.create_task(service.run())
    try:
        for _ in range(100):
            if health.get_service("dispersal").status is ServiceStatus.DOWN:  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.02)
        assert health.get_service("dispersal").status is ServiceStatus.DOWN  # type: ignore[union-attr]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await connection.close()


async def test_service_failure_log_names_the_call(devnet: Devnet) -> None:
    """``run`` logs chain_check_failed with the contract and function that failed."""
    d = devnet.deployment
    connection = devnet.connection(registry_coordinator=d.index_registry)
    health = Health()
    service = _service(connection, health, _metrics())
    task = asyncio.create_task(service.run())
    try:
        with structlog.testing.capture_logs() as logs:
            for _ in range(100):
                if any(e["event"] == "chain_check_failed" for e in logs):
                    break
                await asyncio.sleep(0.02)
        failed = [e for e in logs if e["event"] == "chain_check_failed"]
        assert failed, logs
        assert (
            f"RegistryCoordinator.serviceManager() at {d.index_registry} reverted"
            in (failed[0]["error"])
        )
        assert health.get_service(SERVICE_ID).status is ServiceStatus.DOWN  # type: ignore[union-attr]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await connection.close()


async def test_service_reports_dispersal_down_while_allow_list_unreadable(devnet: Devnet) -> None:
    """An RPC that answers calls but fails eth_getLogs: the node is registered and the chain
    readable, yet the allow-list cannot be read, so dispersal is Down with that reason."""
    upstream = devnet.rpc_url

    async def relay(request: web.Request) -> web.Response:
        payload = await request.json()
        if payload.get("method") == "eth_getLogs":
            error = {"code": -32005, "message": "logs are not served here"}
            return web.json_response({"jsonrpc": "2.0", "id": payload.get("id"), "error": error})
        async with ClientSession() as session, session.post(upstream, json=payload) as reply:
            return web.json_response(await reply.json())

    app = web.Application()
    app.router.add_post("/", relay)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    writer_connection = devnet.connection(OPERATORS[0])
    connection = devnet.connection(rpc_url=f"http://127.0.0.1:{port}")
    try:
        await ensure_registered(await writer_connection.get_writer(), BLS_KEYS[0], QUORUMS, SOCKET)
        health = Health()
        health.register("dispersal", "dispersal", "test", critical=False)
        readiness = DispersalReadiness(health, "dispersal")
        service = _service(
            connection, health, _metrics(), dispersal=readiness, needs_disperser_check=True
        )
        registration = await service.check_once()
        assert registration is not None and registration.registered
        assert health.get_service("dispersal").status is ServiceStatus.DOWN  # type: ignore[union-attr]
        reasons = readiness.reasons()
        assert [r.code for r in reasons.values()] == ["allowlist_unavailable"]
        assert "logs are not served here" in reasons["chain"].message
        assert readiness.refusal() is None  # requests still try: the set may load meanwhile
    finally:
        await connection.close()
        await writer_connection.close()
        await runner.cleanup()
