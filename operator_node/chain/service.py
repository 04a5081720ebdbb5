"""The chain service the node runs: registration and socket check, stake metrics, chain health.

At start it finds the operator by its BLS operator id, checks that it is registered in the
configured quorums and that the on-chain socket is the configured one (sending ``updateSocket``
only when ``[chain] update_socket`` is true and an ECDSA key is loaded). Then, every
``refresh_interval`` seconds, it re-reads what can change, the operator's quorums and stakes (one
JSON-RPC batch: the address its key is bound to never changes), and refreshes
``eigen_registered_stakes``. The "chain" service of the
node's health is Up while the RPC answers and the operator is registered in every configured
quorum, Down otherwise (non-critical: the node keeps serving retrieval and answers 206). RPC
failures never end the loop: it retries with exponential backoff, capped.

When dispersal depends on the chain (``dispersal`` given), the service also reports the chain's
reasons why dispersal cannot work (see ``dispersal.readiness``): the chain or the disperser
allow-list cannot be read; the operator is not registered (no disperser would send its key
chunks, so requests are refused at once as ``not_registered``, and the check is repeated every
``unregistered_interval`` seconds until it is); dispersers are to be checked on chain and the
service manager has no ``isDisperser`` (logged once, as an error). Each pass also brings the
allow-list set up to date, so requests find it loaded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from web3.exceptions import Web3Exception

from operator_node.chain.client import ChainConnection
from operator_node.chain.errors import ChainConfigError, ChainError
from operator_node.chain.operator_sets import OperatorSets
from operator_node.chain.reader import ChainReader, Registration
from operator_node.dispersal.readiness import DispersalReadiness, Reason
from operator_node.health import Health, ServiceStatus
from operator_node.metrics import Metrics

SERVICE_ID = "chain"


class ChainService:
    """Keeps the operator's registration, socket, stake metrics and chain health current."""

    def __init__(
        self,
        connection: ChainConnection,
        *,
        operator_id: bytes,
        socket: str,
        quorums: Sequence[int],
        update_socket: bool,
        health: Health,
        metrics: Metrics,
        logger: Any,
        refresh_interval: float = 60.0,
        retry_backoff: float = 1.0,
        dispersal: DispersalReadiness | None = None,
        needs_disperser_check: bool = False,
        unregistered_interval: float = 10.0,
    ) -> None:
        self._connection = connection
        self._operator_id = operator_id
        self._socket = socket
        self._quorums = tuple(quorums)
        self._update_socket = update_socket
        self._health = health
        self._metrics = metrics
        self._log = logger
        self._refresh_interval = refresh_interval
        self._retry_backoff = retry_backoff
        self._socket_checked = False
        self._known: Registration | None = None
        self._status_reported = False
        self._dispersal = dispersal
        self._unregistered_interval = unregistered_interval
        self._needs_disperser_check = needs_disperser_check
        self._told_no_disperser_check = False
        self._kinds: dict[int, str] = {}  # how each quorum is joined: "m2", "delegated", ...
        self._in_quorums: set[int] = set()  # the quorums the operator was in at the last pass
        health.register(
            SERVICE_ID, "chain", "JSON-RPC endpoint and on-chain registration", critical=False
        )

    async def run(self) -> None:
        """Check, then refresh forever; errors mark the service Down and back off, capped."""
        failures = 0
        while True:
            try:
                reg = await self.check_once()
                failures = 0
                delay = self._refresh_interval
                if reg is None or not reg.registered:
                    delay = min(delay, self._unregistered_interval)
            except (ChainError, Web3Exception) as exc:
                self._health.set_status(SERVICE_ID, ServiceStatus.DOWN)
                self._set_dispersal(Reason("chain_unavailable", f"cannot read the chain: {exc}"))
                delay = min(self._refresh_interval, self._retry_backoff * 2**failures)
                failures = min(failures + 1, 30)  # the delay is capped anyway
                self._log.warning("chain_check_failed", error=str(exc), retry_in=delay)
            await asyncio.sleep(delay)

    async def check_once(self) -> Registration | None:
        """One pass: registration, socket (first successful pass only), stakes, health.

        Returns the registration, or None when the operator id is not registered at all.
        Raises :class:`ChainError` (or a web3 error) when the chain cannot be read.
        """
        reader = await self._connection.get_reader()
        dispersal_blocked = await self._check_dispersal(reader)
        reg = await self._read_registration(reader)
        if reg is None:
            self._set_dispersal(self._not_registered("is not registered"))
            self._set_registered(False, "operator id not registered; run `operator-node register`")
            self._report_status_once(None)
            return None
        if not self._socket_checked:
            await self._check_socket(reg)
            self._socket_checked = True
        await self._follow_quorums(reader, reg)
        for quorum in sorted(set(self._quorums) | set(reg.quorums)):
            self._metrics.set_registered_stake(quorum, str(quorum), reg.stakes.get(quorum, 0))
        missing = sorted(set(self._quorums) - set(reg.quorums))
        self._set_registered(not missing, f"not registered in quorum(s) {missing}")
        if not reg.registered:
            dispersal_blocked = self._not_registered("is deregistered from every quorum")
        self._set_dispersal(dispersal_blocked)
        self._report_status_once(reg)
        return reg

    async def _follow_quorums(self, reader: ChainReader, reg: Registration) -> None:
        """Export, per quorum, whether the operator is in it (with how the quorum is joined),
        and log each quorum it has left since the last pass — deregistered by itself, ejected
        by the AVS, or kicked below the minimum stake."""
        quorums = sorted(set(self._quorums) | set(reg.quorums) | self._in_quorums)
        unknown = [q for q in quorums if q not in self._kinds]
        if unknown:
            kinds = await OperatorSets(reader).quorum_kinds(unknown)
            self._kinds.update({q: kind.kind for q, kind in kinds.items()})
        for quorum in quorums:
            self._metrics.set_quorum_registered(quorum, self._kinds[quorum], quorum in reg.quorums)
        for quorum in sorted(self._in_quorums - set(reg.quorums)):
            self._log.warning(
                "chain_removed_from_quorum",
                quorum=quorum,
                kind=self._kinds[quorum],
                quorums=list(reg.quorums),
            )
        self._in_quorums = set(reg.quorums)

    async def _read_registration(self, reader: ChainReader) -> Registration | None:
        """The operator's registration (None while its id is not registered): read whole until
        found, then only what can change, status, quorums and stakes, in one JSON-RPC batch
        (the address a BLS key is registered with, and so the socket's owner, never change)."""
        if self._known is None:
            address = await reader.get_operator_address(self._operator_id)
            if address is None:
                return None
            self._known = await reader.get_registration(address)
            return self._known
        quorums = sorted(set(self._quorums) | set(self._known.quorums))
        status, registered, stakes = await reader.fetch_standing(self._operator_id, quorums)
        self._known = replace(self._known, status=status, quorums=registered, stakes=stakes)
        return self._known

    def _report_status_once(self, reg: Registration | None) -> None:
        """The second start-up line (after ``node_ready``): what the first pass found on chain."""
        if self._status_reported:
            return
        self._status_reported = True
        self._log.info(
            "node_chain_status",
            registered=reg is not None and reg.registered,
            address=None if reg is None else reg.address,
            quorums=[] if reg is None else list(reg.quorums),
            configured_quorums=list(self._quorums),
            # Stakes are token amounts (often past 2^53): text, so no JSON reader rounds them.
            stakes={} if reg is None else {str(q): str(s) for q, s in sorted(reg.stakes.items())},
            socket=None if reg is None else reg.socket,
            socket_matches=reg is not None and reg.socket == self._socket,
        )

    async def _check_socket(self, reg: Registration) -> None:
        if not reg.registered or reg.socket == self._socket:
            return
        if not self._update_socket:
            self._log.warning("chain_socket_mismatch", onchain=reg.socket, configured=self._socket)
            return
        try:
            writer = await self._connection.get_writer()
        except ChainConfigError as exc:
            self._log.warning("chain_socket_not_updated", reason=str(exc))
            return
        await writer.update_socket(self._socket)
        self._log.info("chain_socket_updated", old=reg.socket, new=self._socket)

    async def _check_dispersal(self, reader: ChainReader) -> Reason | None:
        """Why dispersers cannot be checked as configured (None: they can); logs it too."""
        contracts = reader.contracts
        if self._needs_disperser_check and contracts.has_disperser_check:
            await reader.dispersers.refresh()  # at start, so requests find the set loaded
            if not reader.dispersers.loaded:
                error = reader.dispersers.last_error
                self._log.warning("dispersal_allowlist_unreadable", error=error)
                return Reason("allowlist_unavailable", f"cannot read the allow-list: {error}")
        if self._needs_disperser_check and not contracts.has_disperser_check:
            reason = (
                f"dispersal.disperser_source needs ServiceManager.isDisperser(address), "
                f"which the service manager at {contracts.service_manager.address} does not "
                'have; set dispersal.disperser_source = "static" and list '
                "dispersal.allowed_dispersers"
            )
            if not self._told_no_disperser_check:
                self._told_no_disperser_check = True
                self._log.error("dispersal_unavailable", reason=reason)
            return Reason("no_disperser_check", reason)
        return None

    def _not_registered(self, what: str) -> Reason:
        # No disperser assigns chunks to an operator that is not registered: refuse at once,
        # saying so, rather than blaming the disperser further on.
        return Reason(
            "not_registered",
            f"this node's operator id 0x{self._operator_id.hex()} {what} on chain; "
            "run `operator-node register`",
            refuses=True,
        )

    def _set_dispersal(self, reason: Reason | None) -> None:
        if self._dispersal is not None:
            self._dispersal.set(SERVICE_ID, reason)

    def _set_registered(self, registered: bool, why_not: str) -> None:
        self._health.set_status(SERVICE_ID, ServiceStatus.UP if registered else ServiceStatus.DOWN)
        if not registered:
            self._log.warning("chain_not_registered", reason=why_not)
