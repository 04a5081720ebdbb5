"""The vault's accounts as the node meters them: every reservation, every on-demand deposit and
the global parameters, held in memory and refreshed from the chain in the background.

A lookup never waits for the chain: an account the vault has never named costs what a known one
does, so a disperser cannot make the node call its RPC with fresh addresses. The accounts are
found from the vault's logs (scanned from ``[chain] events_from_block`` as the disperser
allow-list is, then only the blocks since, one ``eth_getLogs`` for all its events). Every
``refresh_interval`` the node scans the new blocks; when they hold any of the vault's logs it
reads the state of every known account and the parameters again at the head (one batch of
``getGlobalParams``, ``getReservations`` and ``getOnDemandDeposits``). A scan stops at a head
another loop read in the last 1.5 refreshes (the chain watcher's), so a change the owner makes is
followed within two and a half refreshes at worst, and an idle vault costs one call a refresh.
The state is also read every ``FULL_READ_EVERY`` refreshes regardless: a change folded from a
block a reorg then dropped is corrected then.

Until the first refresh succeeds the node cannot meter, and refuses StoreChunks with 503
``payments_unavailable`` (a readiness reason); after a failed refresh it goes on answering from
the last state, and the metric of its age says how old that is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from web3.contract import AsyncContract

from operator_node.addresses import to_checksum_address
from operator_node.chain.calls import call_batch
from operator_node.chain.client import ChainConnection
from operator_node.chain.errors import ChainConfigError
from operator_node.chain.events import EventCursor
from operator_node.dispersal.readiness import DispersalReadiness, Reason
from operator_node.health import ServiceStatus
from operator_node.logging import get_logger
from operator_node.metrics import Metrics
from operator_node.payments.vault import GlobalParams, Reservation, find_vault

_READ_SLICE = 100
# Every this many refreshes the state is read again even without a log: a log folded from a
# block that a reorg then dropped is corrected then (5 minutes at the default interval).
FULL_READ_EVERY = 10
# How old (in refreshes) a head read by another loop may be for a scan to stop at it.
HEAD_AGE_REFRESHES = 1.5
_WAITING = Reason(
    "payments_unavailable",
    "the payment vault has not been read yet: blobs cannot be metered",
    ServiceStatus.INITIALIZING,
    refuses=True,
)


@dataclass
class VaultSnapshot:
    """What the node knows of the vault: its address, parameters and accounts (lower-case raw
    20-byte addresses as keys)."""

    vault: bytes
    params: GlobalParams
    reservations: dict[bytes, Reservation] = field(default_factory=dict)
    deposits: dict[bytes, int] = field(default_factory=dict)


class VaultAccounts:
    """The vault's state for metering, refreshed every ``refresh_interval`` seconds by
    :meth:`run`; ``snapshot`` is None until the first refresh succeeds."""

    def __init__(
        self,
        connection: ChainConnection,
        *,
        address: str = "",
        refresh_interval: float = 30.0,
        readiness: DispersalReadiness | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._connection = connection
        self._address = address
        self._interval = refresh_interval
        self._readiness = readiness
        self._metrics = metrics
        self._clock = clock
        self.snapshot: VaultSnapshot | None = None
        self.absent = False  # the AVS names no vault: nothing to meter
        self._contract: AsyncContract | None = None
        self._cursor: EventCursor | None = None
        self._refreshes = 0
        self._known: set[str] = set()
        self._log = get_logger("payments")
        if readiness is not None:
            readiness.set("payments", _WAITING)

    async def run(self) -> None:
        """Refresh forever; a failed refresh is logged and retried at a shorter interval."""
        failures = 0
        while True:
            try:
                await self.refresh()
                failures, delay = 0, self._interval
            except Exception as exc:  # noqa: BLE001 - a refresh must never stop the node
                # Chain and transport errors, and anything a bad answer raises: the node meters
                # from the last state and tries again.
                delay = min(self._interval, 0.5 * 2**failures)
                failures = min(failures + 1, 30)
                if self._metrics is not None:
                    self._metrics.count_payment_refresh_error()
                self._log.warning("payments_refresh_failed", error=str(exc), retry_in=delay)
            if self.absent:
                return
            await asyncio.sleep(delay)

    async def refresh(self) -> None:
        """Scan the vault's logs since the last scan; read the state again if any (or at the
        first refresh, or every ``FULL_READ_EVERY`` refreshes). Raises a chain error when the
        chain cannot be read (the last snapshot stays)."""
        contract = await self._find()
        if contract is None or self._cursor is None:
            return
        logs = await self._cursor.fetch_new()
        for log in logs:
            topics = log["topics"]
            if len(topics) > 1:  # ReservationSet, ReservationRemoved, OnDemandDeposited
                self._known.add(to_checksum_address(bytes(topics[1])[12:]))
        self._refreshes += 1
        if self.snapshot is not None and not logs and self._refreshes % FULL_READ_EVERY:
            self._loaded(contract, self.snapshot)
            return
        self._loaded(contract, await self._read(contract))

    async def _read(self, contract: AsyncContract) -> VaultSnapshot:
        """The parameters and every known account's reservation and deposit, at the head."""
        accounts = sorted(self._known)
        calls = [("PaymentVault", contract.functions.getGlobalParams())]
        for start in range(0, len(accounts), _READ_SLICE):
            part = accounts[start : start + _READ_SLICE]
            calls += [
                ("PaymentVault", contract.functions.getReservations(part)),
                ("PaymentVault", contract.functions.getOnDemandDeposits(part)),
            ]
        results = await call_batch(calls)
        vault = bytes.fromhex(str(contract.address)[2:].lower())
        snapshot = VaultSnapshot(vault, GlobalParams.from_abi(results[0]))
        slices = [accounts[s : s + _READ_SLICE] for s in range(0, len(accounts), _READ_SLICE)]
        for number, part in enumerate(slices):
            found, deposits = results[1 + 2 * number], results[2 + 2 * number]
            for account, raw, deposit in zip(part, found, deposits, strict=True):
                key = bytes.fromhex(account[2:].lower())
                reservation = Reservation.from_abi(raw)
                if reservation.exists:
                    snapshot.reservations[key] = reservation
                if int(deposit):
                    snapshot.deposits[key] = int(deposit)
        return snapshot

    def _loaded(self, contract: AsyncContract, snapshot: VaultSnapshot) -> None:
        first = self.snapshot is None
        self.snapshot = snapshot
        if self._readiness is not None:
            self._readiness.set("payments", None)
        if self._metrics is not None:
            self._metrics.set_payment_vault_state(
                reservations=len(snapshot.reservations), refreshed_at=self._clock()
            )
        if first:
            self._log.info(
                "payments_vault_loaded",
                vault=str(contract.address),
                reservations=len(snapshot.reservations),
                on_demand_accounts=len(snapshot.deposits),
                **snapshot.params.describe(),
            )

    async def _find(self) -> AsyncContract | None:
        if self._contract is not None:
            return self._contract
        reader = await self._connection.get_reader()
        try:
            contract = await find_vault(reader.contracts, self._address or None)
        except ChainConfigError as exc:
            if self._address:
                raise
            # The AVS has no vault: nothing is metered (said once, at start).
            self.absent = True
            if self._readiness is not None:
                self._readiness.set("payments", None)
            self._log.info("payments_not_metered", reason=str(exc))
            return None
        config = self._connection.config
        self._cursor = EventCursor(
            contract.w3,
            _AllLogs(contract),
            from_block=config.events_from_block,
            block_range=config.events_block_range,
            # A head another loop read in the last 1.5 refreshes will do: with the chain
            # watcher's default 30 s polls the scan costs no eth_blockNumber of its own.
            head=lambda: reader.get_recent_head(HEAD_AGE_REFRESHES * self._interval),
        )
        self._contract = contract
        return contract


class _AllLogs:
    """Every log of one contract, as an event's ``get_logs`` gives its own (one call for all
    of the vault's events)."""

    def __init__(self, contract: AsyncContract) -> None:
        self._contract = contract

    async def get_logs(self, *, from_block: int, to_block: int) -> list[Any]:
        return list(
            await self._contract.w3.eth.get_logs(
                {"address": self._contract.address, "fromBlock": from_block, "toBlock": to_block}
            )
        )
