"""Operators' sockets ("host:port"), wherever the deployment keeps them.

Later EigenLayer middleware has a SocketRegistry answering ``getOperatorSocket(operatorId)``. The
M2 middleware, which EigenDA runs, has none: a socket exists only as the registry coordinator's
``OperatorSocketUpdate(bytes32 indexed operatorId, string socket)`` event, emitted at
registration and on every ``updateSocket``. :class:`SocketBook` reads the registry where there is
one, in JSON-RPC batches (250 calls one by one took 0.7 s, in batches 0.02 s), and otherwise
scans those events: from ``[chain] events_from_block`` in ranges of at most
``events_block_range`` blocks (providers cap ``eth_getLogs``), keeping each operator's latest
socket and the last block scanned, so a later lookup scans only the blocks since.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from operator_node.chain.calls import call_views
from operator_node.chain.contracts import AvsContracts
from operator_node.chain.events import EventCursor


class SocketBook:
    """Looks up operators' sockets; "" for an operator with none on chain."""

    def __init__(self, contracts: AvsContracts, cursor: EventCursor) -> None:
        """``cursor`` scans the registry coordinator's ``OperatorSocketUpdate`` events (used
        only where the deployment has no socket registry)."""
        self._contracts = contracts
        self._cursor = cursor
        self._latest: dict[bytes, str] = {}
        self._lock = asyncio.Lock()

    @property
    def source(self) -> str:
        """Where sockets come from, for messages: the registry or the events."""
        if self._contracts.socket_registry is not None:
            return "SocketRegistry.getOperatorSocket"
        return (
            f"RegistryCoordinator OperatorSocketUpdate events from block {self._cursor.from_block}"
        )

    async def fetch_sockets(self, operator_ids: Iterable[bytes]) -> dict[bytes, str]:
        """Each operator's current socket ("" where none is on chain)."""
        ids = list(dict.fromkeys(operator_ids))
        registry = self._contracts.socket_registry
        if registry is None:
            await self._scan_events()
            return {i: self._latest.get(i, "") for i in ids}
        fns = [registry.functions.getOperatorSocket(i) for i in ids]
        return dict(zip(ids, map(str, await call_views("SocketRegistry", fns)), strict=True))

    async def _scan_events(self) -> None:
        async with self._lock:  # one scan at a time; the next caller finds it done
            for log in await self._cursor.fetch_new():
                # Logs come in chain order: the last one for an operator is its socket now.
                self._latest[bytes(log["args"]["operatorId"])] = str(log["args"]["socket"])
