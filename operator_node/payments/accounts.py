"""The vault's accounts as the node meters them: every reservation, every on-demand deposit and
the global parameters, held in memory and refreshed from the chain in the background.

A lookup never waits for the chain: an account the vault has never named costs what a known one
does, so a disperser cannot make the node call its RPC with fresh addresses. The accounts are
found from the vault's ``ReservationSet`` and ``OnDemandDeposited`` events (scanned from
``[chain] events_from_block`` as the disperser allow-list is, then only the blocks since), and
every ``refresh_interval`` the state of all of them is read again at the head (batched
``getReservations`` / ``getOnDemandDeposits`` and ``getGlobalParams``). State read beats events
folded: a change the owner makes is followed within one refresh, and one folded from a block a
reorg then dropped is corrected at the next.

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
from web3.exceptions import Web3Exception

from operator_node.chain.calls import call_batch, call_view
from operator_node.chain.client import ChainConnection
from operator_node.chain.errors import ChainConfigError, ChainError
from operator_node.chain.events import EventCursor
from operator_node.dispersal.readiness import DispersalReadiness, Reason
from operator_node.logging import get_logger
from operator_node.metrics import Metrics
from operator_node.payments.vault import GlobalParams, Reservation, find_vault

_READ_SLICE = 100
_WAITING = Reason(
    "payments_unavailable",
    "the payment vault has not been read yet: blobs cannot be metered",
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
        on_change: Callable[[VaultSnapshot], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._connection = connection
        self._address = address
        self._interval = refresh_interval
        self._readiness = readiness
        self._metrics = metrics
        self._on_change = on_change
        self._clock = clock
        self.snapshot: VaultSnapshot | None = None
        self.absent = False  # the AVS names no vault: nothing to meter
        self._contract: AsyncContract | None = None
        self._cursors: list[EventCursor] = []
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
            except (TimeoutError, ChainError, Web3Exception, OSError) as exc:
                delay = min(self._interval, 0.5 * 2**failures)
                failures = min(failures + 1, 30)
                if self._metrics is not None:
                    self._metrics.count_payment_refresh_error()
                self._log.warning("payments_refresh_failed", error=str(exc), retry_in=delay)
            if self.absent:
                return
            await asyncio.sleep(delay)

    async def refresh(self) -> None:
        """Find new accounts from the vault's events, then read every account's state and the
        parameters at the head. Raises a chain error when the chain cannot be read (the last
        snapshot stays)."""
        contract = await self._find()
        if contract is None:
            return
        for cursor in self._cursors:
            for log in await cursor.fetch_new():
                self._known.add(str(log["args"]["account"]))
        accounts = sorted(self._known)
        raw_params = await call_view("PaymentVault", contract.functions.getGlobalParams())
        reservations: dict[bytes, Reservation] = {}
        deposits: dict[bytes, int] = {}
        for start in range(0, len(accounts), _READ_SLICE):
            part = accounts[start : start + _READ_SLICE]
            found_reservations, found_deposits = await call_batch(
                [
                    ("PaymentVault", contract.functions.getReservations(part)),
                    ("PaymentVault", contract.functions.getOnDemandDeposits(part)),
                ]
            )
            for account, raw, deposit in zip(part, found_reservations, found_deposits, strict=True):
                key = bytes.fromhex(account[2:].lower())
                reservation = Reservation.from_abi(raw)
                if reservation.exists:
                    reservations[key] = reservation
                if int(deposit):
                    deposits[key] = int(deposit)
        minimum, price, period, rate, burst, quorums = raw_params
        params = GlobalParams(
            int(minimum), int(price), int(period), int(rate), int(burst), tuple(bytes(quorums))
        )
        vault = bytes.fromhex(str(contract.address)[2:].lower())
        first = self.snapshot is None
        self.snapshot = VaultSnapshot(vault, params, reservations, deposits)
        if self._readiness is not None:
            self._readiness.set("payments", None)
        if self._metrics is not None:
            self._metrics.set_payment_vault_state(
                reservations=len(reservations), refreshed_at=self._clock()
            )
        if self._on_change is not None:
            self._on_change(self.snapshot)
        if first:
            self._log.info(
                "payments_vault_loaded",
                vault=str(contract.address),
                reservations=len(reservations),
                on_demand_accounts=len(deposits),
                **params.describe(),
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
        self._cursors = [
            EventCursor(
                contract.w3,
                event,
                from_block=config.events_from_block,
                block_range=config.events_block_range,
            )
            for event in (contract.events.ReservationSet(), contract.events.OnDemandDeposited())
        ]
        self._contract = contract
        return contract


def describe(snapshot: VaultSnapshot | None) -> dict[str, Any]:
    """What ``node_ready`` and the log say of the vault."""
    if snapshot is None:
        return {"vault": None}
    return {"vault": "0x" + snapshot.vault.hex(), "reservations": len(snapshot.reservations)}
