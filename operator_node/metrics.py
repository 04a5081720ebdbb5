"""Every metric the node exports, behind one object with intent-named methods.

The registry is created by the caller (``cli``) and passed in: nothing here touches the default
Prometheus registry. Names under ``eigen_`` are the EigenLayer metrics specification's, copied
exactly, each with the constant ``avs_name`` label the reference SDK adds; everything else is
ours and carries the ``operator_node_`` prefix.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)

# Request latencies from sub-millisecond reads to multi-second batch stores.
_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
# Disk writes: a group commit (segment append and fsyncs) takes from a fraction of a millisecond
# to tens of milliseconds on a slow or busy disk.
_DISK_BUCKETS = (
    0.00025,
    0.0005,
    0.001,
    0.002,
    0.004,
    0.008,
    0.016,
    0.032,
    0.064,
    0.128,
    0.256,
    0.512,
    1.0,
    2.5,
    10.0,
)
# Batches per group commit: at most store.async_store.MAX_GROUP_BATCHES.
_GROUP_BUCKETS = (1, 2, 4, 8, 16)
# Label of each blob header code (protocol.headers CODE_GF8, CODE_GF16), in code order.
CODE_LABELS = ("gf8", "gf16")
# How a JSON-RPC request failed: no answer in time, no connection, an HTTP error status, an
# error answer from the node (a revert is an answer, not an error), anything else.
RPC_ERROR_KINDS = ("timeout", "connection", "http", "rpc", "other")
# The methods an idle node calls regularly: their error series exist at 0 from the start.
REGULAR_RPC_METHODS = (
    "eth_call",
    "eth_blockNumber",
    "eth_getBlockByNumber",
    "eth_getLogs",
    "eth_getTransactionByHash",
)
# What a repair makes of a batch the store lacks, and why one fails (repair.service).
REPAIR_OUTCOMES = ("repaired", "not_assigned", "expired", "failed")
REPAIR_CAUSES = ("no_peer", "too_few_chunks", "invalid", "chain", "store")
# Confirmed batches the signing rate is computed over.
SIGNING_WINDOW = 100


class Metrics:
    """The node's metrics. One instance per process, built in ``cli`` and handed to components."""

    def __init__(self, registry: CollectorRegistry, *, avs_name: str, version: str) -> None:
        self.registry = registry
        self._avs_name = avs_name
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        self._build_spec_metrics(registry)
        self._build_node_metrics(registry)
        self._build_component_metrics(registry)
        self._build_chain_metrics(registry)
        self._build_payment_metrics(registry)
        self._build_repair_metrics(registry)
        self._build_info.info({"version": version, "avs_name": avs_name})

    def _build_spec_metrics(self, registry: CollectorRegistry) -> None:
        self._performance_score = Gauge(
            "eigen_performance_score",
            "The performance metric is a score between 0 and 100 and each developer can define "
            "their own way of calculating the score. Here: 100 x the fraction of the node's "
            "services that are Up, and, once the chain watcher has seen a confirmed batch this "
            "operator was expected to sign, at most 100 x operator_node_signing_rate (the "
            "smaller of the two).",
            ["avs_name"],
            registry=registry,
        )
        self._registered_stakes = Gauge(
            "eigen_registered_stakes",
            "Operator stake in <quorum> of <avs_name>'s StakeRegistry contract",
            ["avs_name", "quorum_number", "quorum_name"],
            registry=registry,
        )
        self._quorum_registered = Gauge(
            "operator_node_quorum_registered",
            "1 while this operator is registered in <quorum> (of the configured quorums and "
            "those it joined), 0 once it is not (deregistered, ejected, or kicked below the "
            "minimum stake); <kind> is how the quorum is joined: m2, or an operator set counting "
            "delegated or slashable stake",
            ["quorum", "kind"],
            registry=registry,
        )
        self._rpc_duration = Histogram(
            "eigen_rpc_request_duration_seconds",
            "Duration of json-rpc <method> in seconds",
            ["avs_name", "method", "client_version"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self._rpc_total = Counter(
            "eigen_rpc_request_total",
            "Total number of json-rpc <method> requests",
            ["avs_name", "method", "client_version"],
            registry=registry,
        )
        self._rpc_errors = Counter(
            "operator_node_rpc_errors_total",
            "JSON-RPC requests that failed, by method and kind: timeout, connection (refused, "
            "reset), http (an error status), rpc (an error answer; a revert is an answer and is "
            "not counted), other. Every attempt counts, retries and fallbacks included",
            ["method", "kind"],
            registry=registry,
        )
        for method in REGULAR_RPC_METHODS:
            for kind in RPC_ERROR_KINDS:
                self._rpc_errors.labels(method, kind)

    def _build_node_metrics(self, registry: CollectorRegistry) -> None:
        self._build_info = Info(
            "operator_node_build", "Version of the running operator-node", registry=registry
        )
        self._http_requests = Counter(
            "operator_node_http_requests_total",
            "HTTP requests served, by route and status code",
            ["route", "method", "status"],
            registry=registry,
        )
        self._http_latency = Histogram(
            "operator_node_http_request_duration_seconds",
            "HTTP request latency, by route",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self._http_inflight = Gauge(
            "operator_node_http_requests_in_flight",
            "HTTP requests being served now",
            registry=registry,
        )
        self._backends = Gauge(
            "operator_node_backend_info",
            "Implementation in use per component: erasure (codec kernel), bn254 (BLS signing), "
            "keccak (chunk hashing); value 1 on the active backend's label",
            ["component", "backend"],
            registry=registry,
        )

    def _build_component_metrics(self, registry: CollectorRegistry) -> None:
        self._stage_latency = Histogram(
            "operator_node_store_chunks_stage_seconds",
            "StoreChunks latency by stage (validate, operator_state, store, sign, ...)",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self._store_chunks = Counter(
            "operator_node_store_chunks_requests_total",
            "StoreChunks requests by outcome (ok, or the refusal's error code)",
            ["outcome"],
            registry=registry,
        )
        self._retrievals = Counter(
            "operator_node_retrieval_requests_total",
            "Retrieval requests by outcome",
            ["outcome"],
            registry=registry,
        )
        self._store_write = Histogram(
            "operator_node_store_write_seconds",
            "Time a shard's writer took to store one group of batches durably (segment append, "
            "fsyncs, index commit)",
            buckets=_DISK_BUCKETS,
            registry=registry,
        )
        self._store_write_batches = Histogram(
            "operator_node_store_write_batches",
            "Batches stored together in one group commit",
            buckets=_GROUP_BUCKETS,
            registry=registry,
        )
        self._store_write_wait = Histogram(
            "operator_node_store_write_wait_seconds",
            "Time a batch waited for its shard's writer before its group commit began",
            buckets=_DISK_BUCKETS,
            registry=registry,
        )
        self._store_bytes = Gauge(
            "operator_node_store_used_bytes", "Bytes used by the chunk store", registry=registry
        )
        self._store_entries = Gauge(
            "operator_node_store_entries", "Key-value entries in the chunk store", registry=registry
        )
        self._store_free = Gauge(
            "operator_node_store_free_bytes",
            "Bytes the chunk store can still grow by (the smaller of its size cap and free disk)",
            registry=registry,
        )
        self._stored_blobs = Counter(
            "operator_node_stored_blobs_total",
            "Blobs newly stored, by erasure code (gf8: GF(2^8), n <= 255; gf16: GF(2^16))",
            ["code"],
            registry=registry,
        )
        self._stored_chunks = Counter(
            "operator_node_stored_chunks_total",
            "Chunks newly stored (this node's share of each blob), by erasure code",
            ["code"],
            registry=registry,
        )
        self._stored_bytes = Counter(
            "operator_node_stored_bytes_total",
            "Bytes of chunk data newly stored (this node's share of each blob), by erasure code",
            ["code"],
            registry=registry,
        )
        for code in CODE_LABELS:  # present from the start, so rates read 0, not nothing
            self._stored_blobs.labels(code)
            self._stored_chunks.labels(code)
            self._stored_bytes.labels(code)
        self._last_signed = Gauge(
            "operator_node_last_batch_signed_timestamp_seconds",
            "Unix time this node last signed a batch (a StoreChunks request answered ok); 0 "
            "before the first since start",
            registry=registry,
        )
        self._retrieval_bytes = Counter(
            "operator_node_retrieval_bytes_total",
            "Chunk bytes served by retrieval",
            registry=registry,
        )
        self._expired_batches = Counter(
            "operator_node_store_expired_batches_total",
            "Batches deleted by the expiry loop",
            registry=registry,
        )
        self._expired_bytes = Counter(
            "operator_node_store_expired_bytes_total",
            "Bytes freed by the expiry loop",
            registry=registry,
        )

    def _build_payment_metrics(self, registry: CollectorRegistry) -> None:
        # Labelled by payment kind and outcome, never by account: the cardinality stays fixed.
        self._payment_blobs = Counter(
            "operator_node_payment_blobs_total",
            "Blobs metered, by payment kind (reservation, on_demand) and outcome (accepted; "
            "already_charged: a blob paid for before, e.g. a retry; refused; observed: refused "
            "but let through in observe mode)",
            ["kind", "outcome"],
            registry=registry,
        )
        self._payment_symbols = Counter(
            "operator_node_payment_symbols_total",
            "Symbols (32 bytes) charged to accounts, by payment kind; a blob to several of "
            "this node's quorums counts once here",
            ["kind"],
            registry=registry,
        )
        self._payment_children: dict[tuple[str, str], tuple[Counter, Counter]] = {}
        self._payment_refusals = Counter(
            "operator_node_payment_refusals_total",
            "Batches refused for payment, by the refusal's code (reservation_exhausted, "
            "on_demand_exhausted, no_reservation, bad_account_signature, ...)",
            ["code"],
            registry=registry,
        )
        self._payment_reservations = Gauge(
            "operator_node_payment_reservations",
            "Accounts with a reservation in the payment vault, at the last refresh",
            registry=registry,
        )
        self._payment_buckets = Gauge(
            "operator_node_payment_buckets",
            "(account, quorum) reservation buckets held in memory",
            registry=registry,
        )
        self._payment_on_demand_fill = Gauge(
            "operator_node_payment_on_demand_fill_ratio",
            "Level / capacity of the global on-demand bucket (1: on-demand blobs are refused)",
            registry=registry,
        )
        self._payment_refreshed = Gauge(
            "operator_node_payment_vault_refreshed_timestamp_seconds",
            "When the payment vault was last read successfully (Unix seconds; 0: never)",
            registry=registry,
        )
        self._payment_refresh_errors = Counter(
            "operator_node_payment_vault_refresh_errors_total",
            "Failed reads of the payment vault (the node meters from the last state read)",
            registry=registry,
        )

    def _build_repair_metrics(self, registry: CollectorRegistry) -> None:
        self._repair_batches = Counter(
            "operator_node_repair_batches_total",
            "Confirmed batches the store lacked, by what the repair made of them: repaired "
            "(rebuilt from peers and stored), not_assigned (no chunks for this operator), "
            "expired, failed (tried again at the next pass)",
            ["outcome"],
            registry=registry,
        )
        self._repair_failures = Counter(
            "operator_node_repair_failures_total",
            "Failed repairs by cause: no_peer, too_few_chunks, invalid (peers' chunks rebuilt "
            "to something not committed), chain, store",
            ["cause"],
            registry=registry,
        )
        self._repair_chunks = Counter(
            "operator_node_repair_chunks_total",
            "This node's chunks rebuilt from peers and stored",
            registry=registry,
        )
        self._repair_bytes = Counter(
            "operator_node_repair_chunk_bytes_total",
            "This node's chunk bytes rebuilt from peers and stored",
            registry=registry,
        )
        self._repair_fetched = Counter(
            "operator_node_repair_fetched_bytes_total",
            "Chunk bytes fetched from peers to rebuild batches",
            registry=registry,
        )
        self._repair_pending = Gauge(
            "operator_node_repair_pending_batches",
            "Confirmed batches this node should hold and does not, not yet repaired",
            registry=registry,
        )
        self._audit_bytes = Counter(
            "operator_node_audit_chunk_bytes_total",
            "Stored chunk bytes read again and checked against their blob's commitment",
            registry=registry,
        )
        self._audit_damaged = Counter(
            "operator_node_audit_damaged_batches_total",
            "Stored batches the audit found damaged, quarantined and handed to the repair",
            registry=registry,
        )
        for outcome in REPAIR_OUTCOMES:
            self._repair_batches.labels(outcome)
        for cause in REPAIR_CAUSES:
            self._repair_failures.labels(cause)

    def _build_chain_metrics(self, registry: CollectorRegistry) -> None:
        # Registered at the first head read: a node without a chain (or before its first read)
        # has no head, and an age of 0 would say it is perfectly current.
        self._head_block = Gauge(
            "operator_node_chain_head_block",
            "Latest block number the node has seen from its RPC",
            registry=None,
        )
        self._head_age = Gauge(
            "operator_node_chain_head_age_seconds",
            "Seconds between the node's clock now (at the scrape) and the timestamp of the "
            "latest block its RPC served: how far behind the node's view of the chain is. It "
            "keeps growing while no newer block is read, RPC down included",
            registry=None,
        )
        self._head_age.set_function(self._current_head_age)
        self._head_timestamp = 0.0
        self._clock_offset = 0.0  # the watcher's clock minus time.time(), at the last head read
        self._head_seen = False
        # Registered only once the watcher knows the service manager confirms batches: on a
        # deployment that does not, a 0 or a rate of 1 would say something untrue.
        self._watcher_block = Gauge(
            "operator_node_chain_watcher_block",
            "Last block the chain watcher has scanned for BatchConfirmed events",
            registry=None,
        )
        self._batches_confirmed = Counter(
            "operator_node_batches_confirmed_total",
            "Batches confirmed on chain (BatchConfirmed) that this operator was expected to sign: "
            "registered, at the batch's reference block, in at least one of its quorums",
            registry=None,
        )
        self._batches_signed = Counter(
            "operator_node_batches_signed_total",
            "Of the confirmed batches this operator was expected to sign, those it signed (not "
            "among the confirm transaction's non-signers)",
            registry=None,
        )
        self._batches_missed = Counter(
            "operator_node_batches_missed_total",
            "Of the confirmed batches this operator was expected to sign, those confirmed "
            "without its signature (among the non-signers)",
            registry=None,
        )
        self._signing_rate = Gauge(
            "operator_node_signing_rate",
            f"Signed / expected over the last {SIGNING_WINDOW} confirmed batches this operator "
            "was expected to sign (0..1); 1 before the first",
            registry=None,
        )
        self._signing_window: deque[bool] = deque(maxlen=SIGNING_WINDOW)
        self._batch_tracking = False

    # -- spec metrics ---------------------------------------------------------------------------

    def set_performance_score(self, score: float) -> None:
        """Set ``eigen_performance_score`` (clamped to 0..100)."""
        self._performance_score.labels(self._avs_name).set(max(0.0, min(100.0, score)))

    def update_performance_score(self, up_fraction: float) -> None:
        """Set ``eigen_performance_score`` from the share of services Up (0..1) and, once a
        confirmed batch has been judged, the signing rate: 100 x the smaller."""
        score = 100.0 * up_fraction
        if self._signing_window:
            score = min(score, 100.0 * self.get_signing_rate())
        self.set_performance_score(score)

    def set_registered_stake(self, quorum_number: int, quorum_name: str, stake: float) -> None:
        """Set ``eigen_registered_stakes`` for one quorum."""
        self._registered_stakes.labels(self._avs_name, str(quorum_number), quorum_name).set(stake)

    def set_quorum_registered(self, quorum: int, kind: str, registered: bool) -> None:
        """Set ``operator_node_quorum_registered`` for one quorum."""
        self._quorum_registered.labels(str(quorum), kind).set(1 if registered else 0)

    def observe_rpc(self, method: str, seconds: float, client_version: str) -> None:
        """Count and time one JSON-RPC request (``eigen_rpc_request_*``)."""
        self._rpc_total.labels(self._avs_name, method, client_version).inc()
        self._rpc_duration.labels(self._avs_name, method, client_version).observe(seconds)

    def count_rpc_error(self, method: str, kind: str) -> None:
        """Count one failed JSON-RPC attempt; ``kind`` is one of ``RPC_ERROR_KINDS``."""
        self._rpc_errors.labels(method, kind).inc()

    # -- HTTP -----------------------------------------------------------------------------------

    def observe_http(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count and time one HTTP request. ``route`` is the route pattern, never the raw path."""
        self._http_requests.labels(route, method, str(status)).inc()
        self._http_latency.labels(route, method).observe(seconds)

    def http_request_started(self) -> None:
        """One more request in flight."""
        self._http_inflight.inc()

    def http_request_finished(self) -> None:
        """One fewer request in flight."""
        self._http_inflight.dec()

    # -- components -----------------------------------------------------------------------------

    def set_backend(self, component: str, backend: str) -> None:
        """Record which implementation ``component`` ("erasure", "bn254", "keccak") runs on.

        Called once per component at start: backends are chosen once per process.
        """
        self._backends.labels(component, backend).set(1)

    def count_repair(
        self,
        outcome: str,
        *,
        cause: str = "",
        chunks: int = 0,
        chunk_bytes: int = 0,
        fetched_bytes: int = 0,
    ) -> None:
        """Count one batch's repair by outcome (and a failure's cause, a success's sizes)."""
        self._repair_batches.labels(outcome).inc()
        if cause:
            self._repair_failures.labels(cause).inc()
        self._repair_chunks.inc(chunks)
        self._repair_bytes.inc(chunk_bytes)
        self._repair_fetched.inc(fetched_bytes)

    def count_audit(self, chunk_bytes: int) -> None:
        """Count stored chunk bytes the audit checked."""
        self._audit_bytes.inc(chunk_bytes)

    def count_audit_damaged(self) -> None:
        """Count one damaged batch the audit found."""
        self._audit_damaged.inc()

    def set_repair_pending(self, batches: int) -> None:
        """Set the number of batches waiting for repair."""
        self._repair_pending.set(batches)

    def count_payment(self, kind: str, outcome: str, symbols: int = 0) -> None:
        """Count one metered blob (and the symbols charged for it, if accepted)."""
        # Per blob on the request path: the labelled children are looked up once.
        children = self._payment_children.get((kind, outcome))
        if children is None:
            children = (
                self._payment_blobs.labels(kind, outcome),
                self._payment_symbols.labels(kind),
            )
            self._payment_children[(kind, outcome)] = children
        children[0].inc()
        if symbols:
            children[1].inc(symbols)

    def count_payment_refusal(self, code: str) -> None:
        """Count one batch refused for payment, by code."""
        self._payment_refusals.labels(code).inc()

    def set_payment_buckets(self, buckets: int, on_demand_fill: float) -> None:
        """Set the number of reservation buckets held and the on-demand bucket's fill."""
        self._payment_buckets.set(buckets)
        self._payment_on_demand_fill.set(on_demand_fill)

    def set_payment_vault_state(self, *, reservations: int, refreshed_at: float) -> None:
        """Record a successful read of the payment vault."""
        self._payment_reservations.set(reservations)
        self._payment_refreshed.set(refreshed_at)

    def count_payment_refresh_error(self) -> None:
        """Count one failed read of the payment vault."""
        self._payment_refresh_errors.inc()

    @contextmanager
    def time_stage(self, stage: str) -> Iterator[None]:
        """Time one StoreChunks stage into the stage histogram (also when it raises)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self._stage_latency.labels(stage).observe(time.perf_counter() - start)

    def preset_outcomes(self, kind: str, outcomes: Iterable[str]) -> None:
        """Create the series of every outcome ``kind`` ("store_chunks" or "retrieval") can have,
        at 0, so a rate or an increase over them reads 0 before the first one, not nothing."""
        counter = self._store_chunks if kind == "store_chunks" else self._retrievals
        for outcome in outcomes:
            counter.labels(outcome)

    def count_store_chunks(self, outcome: str) -> None:
        """Count one StoreChunks request by outcome ("ok" or an error code); "ok" means the
        node signed the batch, so it also sets the time of the last batch signed."""
        self._store_chunks.labels(outcome).inc()
        if outcome == "ok":
            self._last_signed.set(time.time())

    def count_retrieval(self, outcome: str) -> None:
        """Count one retrieval request by outcome ("ok" or an error code)."""
        self._retrievals.labels(outcome).inc()

    def count_retrieval_bytes(self, chunk_bytes: int) -> None:
        """Count chunk bytes served by one retrieval."""
        self._retrieval_bytes.inc(chunk_bytes)

    def observe_store_write(self, seconds: float, batches: int, waits: Sequence[float]) -> None:
        """Record one group commit: its duration, its batch count and each batch's wait for it.

        Called from the store's writer threads (prometheus_client is thread-safe).
        """
        self._store_write.observe(seconds)
        self._store_write_batches.observe(batches)
        for wait in waits:
            self._store_write_wait.observe(wait)

    def set_store_usage(self, used_bytes: int, entries: int, free_bytes: int) -> None:
        """Report the store's size figures."""
        self._store_bytes.set(used_bytes)
        self._store_entries.set(entries)
        self._store_free.set(free_bytes)

    def count_stored_blob(self, code: int, chunks: int, chunk_bytes: int) -> None:
        """Count one newly stored blob of erasure code ``code``: this node's chunks of it and
        their bytes."""
        label = CODE_LABELS[code] if 0 <= code < len(CODE_LABELS) else str(code)
        self._stored_blobs.labels(label).inc()
        self._stored_chunks.labels(label).inc(chunks)
        self._stored_bytes.labels(label).inc(chunk_bytes)

    def record_expired(self, batches: int, freed_bytes: int) -> None:
        """Report batches deleted by one pass of the expiry loop."""
        self._expired_batches.inc(batches)
        self._expired_bytes.inc(freed_bytes)

    # -- chain ----------------------------------------------------------------------------------

    def set_chain_head(self, block_number: int, block_timestamp: float, now: float) -> None:
        """Report the latest block the RPC served (read at ``now``); its age is computed at each
        scrape from then on, so it grows while no newer head is read."""
        self._head_block.set(block_number)
        self._head_timestamp = block_timestamp
        self._clock_offset = now - time.time()
        if not self._head_seen:
            self._head_seen = True
            self.registry.register(self._head_block)
            self.registry.register(self._head_age)

    def _current_head_age(self) -> float:
        return max(0.0, time.time() + self._clock_offset - self._head_timestamp)

    def start_batch_tracking(self) -> None:
        """Export the watcher's batch series (called once the service manager is known to
        confirm batches): counters at 0, the signing rate at 1."""
        if self._batch_tracking:
            return
        self._batch_tracking = True
        for collector in (
            self._watcher_block,
            self._batches_confirmed,
            self._batches_signed,
            self._batches_missed,
            self._signing_rate,
        ):
            self.registry.register(collector)
        self._signing_rate.set(1.0)

    def set_watcher_block(self, block_number: int) -> None:
        """Report the last block the chain watcher has scanned."""
        self._watcher_block.set(block_number)

    def record_batch_signing(self, signed: bool) -> None:
        """Count one confirmed batch this operator was expected to sign, signed or missed, and
        update the signing rate over the last ``SIGNING_WINDOW`` of them."""
        # Signed or missed first: a scrape between the two then never sees a confirmed batch
        # that is neither (confirmed <= signed + missed always holds).
        (self._batches_signed if signed else self._batches_missed).inc()
        self._batches_confirmed.inc()
        self._signing_window.append(signed)
        self._signing_rate.set(self.get_signing_rate())

    def get_signing_rate(self) -> float:
        """Signed / expected over the window; 1.0 before the first batch."""
        window = self._signing_window
        return sum(window) / len(window) if window else 1.0
