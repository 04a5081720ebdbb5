"""Build the node's parts from the configuration: the one place where things are constructed.

Each ``build_``/``load_`` function takes what it needs and returns a ready part; ``build_node``
puts them together. Nothing here runs at import time.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from eth_account.signers.local import LocalAccount
from prometheus_client import CollectorRegistry

from operator_node import __version__
from operator_node.api.app import (
    make_api_app,
    make_dispersal_app,
    refuse_dispersal_here,
    refuse_public_here,
)
from operator_node.api.clients import ClientAddresses
from operator_node.api.dispersal import StoreChunksHandler, UploadLimits
from operator_node.api.eigen import EigenApi
from operator_node.api.metrics_app import make_metrics_app
from operator_node.api.ratelimit import RateLimiter
from operator_node.api.refusals import RefusalLog
from operator_node.api.retrieval import RetrievalHandler
from operator_node.chain.client import ChainConnection
from operator_node.chain.service import ChainService
from operator_node.chain.view import ConnectionChainView
from operator_node.chain.watcher import BatchWatcher
from operator_node.cli.credentials import load_bls_keypair, load_ecdsa_account
from operator_node.config import Config
from operator_node.crypto.bn254 import g1_backend
from operator_node.crypto.signer import LocalSigner, Signer
from operator_node.dispersal import ChainView, DisperserAllowlist, StoreChunksPipeline
from operator_node.dispersal.capacity import RequestCapacityCheck
from operator_node.dispersal.readiness import DispersalReadiness, Reason
from operator_node.erasure import select_backend
from operator_node.health import Health, ServiceStatus
from operator_node.logging import get_logger
from operator_node.metrics import Metrics
from operator_node.node import API_SERVICE_ID, BackgroundService, Listener, Node
from operator_node.payments.accounts import VaultAccounts
from operator_node.payments.meter import MeterSettings, PaymentMeter
from operator_node.protocol.auth import ReplayGuard
from operator_node.protocol.hashes import keccak_backend
from operator_node.protocol.wire import WireLimits
from operator_node.repair.audit import Auditor
from operator_node.repair.service import Progress, RepairService, RepairSettings
from operator_node.store import AsyncStore, ExpiryService, open_store
from operator_node.systemd import SystemdNotifier

DISPERSAL_SERVICE_ID = "dispersal"


@dataclass
class NodeParts:
    """Everything ``build_node`` made, for the caller to run and for tests to inspect."""

    node: Node
    store: AsyncStore
    health: Health
    metrics: Metrics
    signer: Signer | None
    services: list[BackgroundService] = field(default_factory=list)


async def load_signer(config: Config) -> Signer | None:
    """The BLS signer from ``[keys]``, or None when no BLS keystore is configured.

    The password comes from ``bls_password_file`` or the environment variable
    ``OPERATOR_NODE_BLS_KEY_PASSWORD``. Raises a keystore error (wrong password, bad file,
    unsafe permissions) that stops start-up with its message.
    """
    # scrypt at the standard strength takes about a second: not on the event loop.
    keypair = await asyncio.to_thread(load_bls_keypair, config)
    return None if keypair is None else LocalSigner(keypair)


async def load_account(config: Config) -> LocalAccount | None:
    """The operator's ECDSA account from ``[keys]``, or None when not configured."""
    return await asyncio.to_thread(load_ecdsa_account, config)


def build_chain(
    config: Config, *, metrics: Metrics, account: LocalAccount | None
) -> ChainConnection | None:
    """The chain connection from ``[chain]``, or None when ``rpc_url`` is empty (no I/O yet).

    Once it has found the contracts it logs one line saying what the deployment has (core form,
    where sockets come from, whether dispersers can be checked on chain).
    """
    if not config.chain.rpc_url:
        return None
    log = get_logger("chain")
    return ChainConnection(
        config.chain,
        metrics=metrics,
        account=account,
        on_discovered=lambda contracts: log.info("chain_deployment_probed", **contracts.describe()),
    )


def build_dispersal(
    config: Config,
    *,
    signer: Signer,
    store: AsyncStore,
    chain: ChainView | None,
    metrics: Metrics,
    readiness: DispersalReadiness,
    meter: PaymentMeter | None = None,
) -> StoreChunksHandler:
    """The StoreChunks handler with its pipeline (metering payments with ``meter``)."""
    source = config.dispersal.disperser_source
    wire_limits = WireLimits(
        max_body_bytes=config.limits.max_request_bytes,
        max_header_bytes=config.limits.max_header_bytes,
    )
    limits = config.limits
    pipeline = StoreChunksPipeline(
        signer=signer,
        store=store,
        chain=chain,
        allowlist=DisperserAllowlist(
            config.dispersal.allowed_dispersers if source != "chain" else (),
            chain if source != "static" else None,
        ),
        replay_guard=ReplayGuard(config.dispersal.replay_window, time.time),
        metrics=metrics,
        wire_limits=wire_limits,
        clock=time.time,
        hash_threads=config.dispersal.hash_threads,
        readiness=readiness,
        max_overhead=config.dispersal.max_overhead or math.inf,
        max_blob_size=config.dispersal.max_blob_size,
        min_margin=config.dispersal.min_margin,
        fingerprint=config.dispersal.fingerprint,
        meter=meter,
    )
    return StoreChunksHandler(
        pipeline,
        metrics,
        RefusalLog(time.monotonic),
        limits=UploadLimits(
            max_request_bytes=limits.max_request_bytes,
            max_inflight=limits.max_inflight,
            max_pending_heads=limits.max_pending_heads,
            max_pending_heads_per_client=limits.max_pending_heads_per_client,
            head_timeout=limits.head_timeout,
            body_timeout=limits.body_timeout,
            body_min_rate=limits.body_min_rate,
        ),
        wire_limits=wire_limits,
        readiness=readiness,
        disperser_limiter=RateLimiter(config.dispersal.rate_limit, config.dispersal.burst),
    )


def build_payments(
    config: Config, connection: ChainConnection, metrics: Metrics, readiness: DispersalReadiness
) -> tuple[VaultAccounts, PaymentMeter]:
    """The payment vault's accounts (a background service) and the meter that uses them."""
    payments = config.payments
    accounts = VaultAccounts(
        connection,
        address=payments.payment_vault,
        refresh_interval=payments.refresh_interval,
        # Observing refuses nothing, not even while the vault is still unread.
        readiness=readiness if payments.mode == "enforce" else None,
        metrics=metrics,
    )
    settings = MeterSettings(
        chain_id=config.chain.chain_id,
        quorums=frozenset(config.chain.quorums),
        enforce=payments.mode == "enforce",
        bucket_window=payments.bucket_window,
        overfill_once=payments.overfill == "once",
        timestamp_window=payments.timestamp_window,
        on_demand_slack=payments.on_demand_slack,
        max_buckets=payments.max_buckets,
        max_charged=payments.max_charged,
    )
    return accounts, PaymentMeter(accounts, settings, metrics)


def build_repair(
    config: Config,
    connection: ChainConnection,
    store: AsyncStore,
    signer: Signer,
    metrics: Metrics,
    health: Health,
    progress: Progress | None = None,
) -> RepairService:
    """The service that rebuilds from peers the confirmed batches the store lacks."""
    repair = config.repair
    return RepairService(
        connection,
        store,
        operator_id=signer.operator_id,
        own_socket=config.advertised_socket,
        metrics=metrics,
        health=health,
        settings=RepairSettings(
            interval=repair.interval,
            lookback_blocks=repair.lookback_blocks,
            rate=repair.rate,
            fanout=repair.fanout,
            timeout=repair.timeout,
            store_duration=config.store.store_duration,
            block_range=config.chain.events_block_range,
        ),
        progress=progress,
    )


def build_api_app(
    config: Config,
    *,
    health: Health,
    metrics: Metrics,
    store: AsyncStore,
) -> web.Application:
    """The public API on ``[api] port``: node-spec routes and retrieval."""
    eigen = EigenApi(health, node_name=config.node.name, node_version=__version__)
    app = make_api_app(
        eigen=eigen, metrics=metrics, max_request_bytes=config.limits.max_request_bytes
    )
    limiter = RateLimiter(config.retrieval.rate_limit, config.retrieval.burst)
    clients = ClientAddresses(config.api.trusted_proxies)
    RetrievalHandler(store, limiter, metrics, clients=clients).add_routes(app)
    return app


def build_listeners(
    config: Config,
    *,
    api_app: web.Application,
    dispersal: StoreChunksHandler | None,
    metrics: Metrics,
) -> list[Listener]:
    """The node's HTTP listeners: the public API, StoreChunks (on its own port, or added to the
    public API with ``[api] dispersal_port = 0``; none without a BLS key), and metrics."""
    api = config.api
    listeners = [Listener("api", api_app, api.host, api.port)]
    if dispersal is None:
        return listeners
    if not api.separate_ports:
        dispersal.add_routes(api_app)
        return listeners
    dispersal_app = make_dispersal_app(
        metrics=metrics, max_request_bytes=config.limits.max_request_bytes
    )
    dispersal.add_routes(dispersal_app)
    refuse_public_here(dispersal_app, api.port)
    refuse_dispersal_here(api_app, api.listen_dispersal_port)
    listeners.append(Listener("dispersal", dispersal_app, api.host, api.listen_dispersal_port))
    return listeners


def describe_node(
    config: Config, *, signer: Signer | None, backends: dict[str, str]
) -> dict[str, object]:
    """What the ``node_ready`` line says of the node: all that is known before the chain is read
    (registration and stake follow in ``node_chain_status`` once the chain service has looked)."""
    if not config.chain.rpc_url:
        registration = "unknown: no chain configured ([chain] rpc_url)"
    elif signer is None:
        registration = "unknown: no BLS key to find the operator by"
    else:
        registration = "checking (see node_chain_status)"
    return {
        "version": __version__,
        "node_name": config.node.name,
        "operator_id": None if signer is None else "0x" + signer.operator_id.hex(),
        "registration": registration,
        "quorums": list(config.chain.quorums),
        "socket": config.advertised_socket,
        "dispersal": "enabled" if signer is not None else "disabled: no BLS key ([keys])",
        "disperser_source": config.dispersal.disperser_source,
        "payments": config.payments.mode,
        "backends": backends,
        "data_dir": str(config.node.data_dir),
        "store_max_size": config.store.max_size,
        "max_request_bytes": config.limits.max_request_bytes,
    }


def build_chain_service(
    config: Config,
    connection: ChainConnection,
    signer: Signer,
    health: Health,
    metrics: Metrics,
    readiness: DispersalReadiness,
) -> ChainService:
    """The chain service, which also keeps the dispersal service's status honest."""
    return ChainService(
        connection,
        operator_id=signer.operator_id,
        socket=config.advertised_socket,
        quorums=config.chain.quorums,
        update_socket=config.chain.update_socket,
        health=health,
        metrics=metrics,
        logger=get_logger("chain"),
        refresh_interval=config.chain.refresh_interval,
        dispersal=readiness,
        needs_disperser_check=config.dispersal.disperser_source != "static",
    )


def build_chain_watcher(
    config: Config, connection: ChainConnection, signer: Signer, metrics: Metrics
) -> BatchWatcher | None:
    """The watcher of the chain head and of this operator's signatures in confirmed batches,
    or None when ``[chain] watch_interval`` is 0."""
    chain = config.chain
    if chain.watch_interval == 0:
        return None
    return BatchWatcher(
        connection,
        operator_id=signer.operator_id,
        metrics=metrics,
        logger=get_logger("chain_watcher"),
        interval=chain.watch_interval,
        from_block=chain.watch_from_block,
        block_range=chain.events_block_range,
    )


def build_capacity_check(
    config: Config, chain: ChainView, signer: Signer, readiness: DispersalReadiness
) -> RequestCapacityCheck:
    """The check that ``[limits] max_request_bytes`` holds this operator's largest share."""
    return RequestCapacityCheck(
        chain,
        readiness,
        operator_id=signer.operator_id,
        quorums=config.chain.quorums,
        max_request_bytes=config.limits.max_request_bytes,
        max_blob_size=config.dispersal.max_blob_size,
        min_margin=config.dispersal.min_margin,
        max_overhead=config.dispersal.max_overhead or math.inf,
    )


async def build_node(config: Config, registry: CollectorRegistry) -> NodeParts:
    """Open the store, load the keys, connect the chain and assemble the node (not listening).

    The chain connection does no I/O here: a node whose RPC is down still starts, serves
    retrieval and reports the chain service Down (206) while its service retries.
    """
    log = get_logger("build")
    metrics = Metrics(registry, avs_name=config.node.avs_name, version=__version__)
    health = Health()
    health.register(API_SERVICE_ID, "api", "Dispersal, retrieval and node API", critical=True)
    health.register(
        DISPERSAL_SERVICE_ID,
        "dispersal",
        "Accepts, checks, stores and attests to dispersed chunks",
        critical=False,
    )
    # Resolving the backends now (OPERATOR_NODE_*_BACKEND included) fails fast on a bad choice.
    backends = {"erasure": select_backend(), "bn254": g1_backend(), "keccak": keccak_backend()}
    for component, backend in backends.items():
        metrics.set_backend(component, backend)
    signer = await load_signer(config)
    connection = build_chain(config, metrics=metrics, account=await load_account(config))
    chain = ConnectionChainView(connection) if connection is not None else None
    store = await open_store(
        _store_path(config.node.data_dir),
        store_duration=config.store.store_duration,
        max_size=config.store.max_size,
        health=health,
        shards=config.store.shards,
        metrics=metrics,
    )
    readiness = DispersalReadiness(health, DISPERSAL_SERVICE_ID)
    dispersal = None
    accounts = meter = None
    if connection is not None and signer is not None and config.payments.mode != "off":
        accounts, meter = build_payments(config, connection, metrics, readiness)
    if signer is None:
        log.warning("dispersal_disabled", reason="no BLS keystore configured ([keys] bls_keystore)")
        readiness.set("keys", Reason("no_key", "no BLS keystore configured ([keys] bls_keystore)"))
    else:
        dispersal = build_dispersal(
            config,
            signer=signer,
            store=store,
            chain=chain,
            metrics=metrics,
            readiness=readiness,
            meter=meter,
        )
    if chain is None:
        readiness.set("chain", Reason("chain_unavailable", "no chain configured ([chain] rpc_url)"))
    else:
        # Dispersal waits for the chain service's first pass to say whether it can work.
        waiting = Reason(
            "initializing", "waiting for the first chain check", ServiceStatus.INITIALIZING
        )
        readiness.set("chain", waiting)
    services: list[BackgroundService] = [
        ExpiryService(store, metrics, time.time, interval=config.store.expiry_interval)
    ]
    closers: list[Callable[[], Any]] = [store.close]
    if connection is not None:
        closers.append(connection.close)
        if accounts is not None:
            services.append(accounts)
        if signer is not None:
            parts = (config, connection, signer, store, metrics, health, readiness)
            services += _chain_services(*parts)
    if chain is not None and signer is not None:
        services.append(build_capacity_check(config, chain, signer, readiness))
    listeners = build_listeners(
        config,
        api_app=build_api_app(config, health=health, metrics=metrics, store=store),
        dispersal=dispersal,
        metrics=metrics,
    )
    if config.metrics.enabled:
        listeners.append(
            Listener(
                "metrics",
                make_metrics_app(
                    registry,
                    lambda: metrics.update_performance_score(health.compute_up_fraction()),
                ),
                config.metrics.host,
                config.metrics.port,
            )
        )
    node = Node(
        listeners=listeners,
        services=services,
        health=health,
        notifier=SystemdNotifier(),
        shutdown_grace=config.api.shutdown_grace,
        on_close=closers,
        on_stopping=[dispersal.drain] if dispersal is not None else [],
        summary=describe_node(config, signer=signer, backends=backends),
    )
    return NodeParts(node, store, health, metrics, signer, services)


def _chain_services(
    config: Config,
    connection: ChainConnection,
    signer: Signer,
    store: AsyncStore,
    metrics: Metrics,
    health: Health,
    readiness: DispersalReadiness,
) -> list[BackgroundService]:
    """The services of a node with a chain and a key: its registration, the chain watcher, the
    repair of missing batches and the audit of stored ones."""
    services: list[BackgroundService] = [
        build_chain_service(config, connection, signer, health, metrics, readiness)
    ]
    watcher = build_chain_watcher(config, connection, signer, metrics)
    if watcher is not None:
        services.append(watcher)
    if config.repair.enabled:
        repair = build_repair(config, connection, store, signer, metrics, health)
        services.append(repair)
        if config.repair.audit:
            services.append(
                Auditor(
                    store,
                    metrics,
                    rate=config.repair.audit_rate,
                    interval=config.repair.audit_interval,
                    on_damaged=repair.enqueue,
                )
            )
    return services


def _store_path(data_dir: Path) -> Path:
    return data_dir / "chunks"
