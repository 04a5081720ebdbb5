"""Read-only access to the AVS's state: registration, quorums, stakes, sockets, dispersers.

Every call goes through :func:`~operator_node.chain.calls.call_view`, so a failure names the
contract and the function. Only functions EigenLayer's own middleware has are called; dispersers
are answered from :attr:`ChainReader.dispersers`, a set kept from the service manager's events
where discovery found its ``isDisperser`` (``contracts.has_disperser_check``), and operators'
BLS keys from :attr:`ChainReader.pubkeys`, kept from the BLSApkRegistry's events.

Operator state at a block — what chunk assignment is computed from — is cached per (quorum,
block) in a bounded LRU: state at a past block never changes, and dispersal asks for the same
reference block once per request. A block the chain has not reached yet is refused rather than
cached.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NamedTuple

from web3 import AsyncWeb3

from operator_node.chain.calls import call_batch, call_view, call_views
from operator_node.chain.contracts import AvsContracts
from operator_node.chain.dispersers import DisperserSet
from operator_node.chain.errors import FutureBlockError
from operator_node.chain.events import EventCursor
from operator_node.chain.pubkeys import PubkeyBook
from operator_node.chain.sockets import SocketBook
from operator_node.crypto.bn254 import G1Point

_STATE_BY_QUORUMS = "getOperatorState(address,bytes,uint32)"
# How old a head the allow-list's scans may stop at: its own refresh age (dispersers.py); the
# chain watcher reads a head every 30 s by default.
RECENT_HEAD_AGE = 30.0
ZERO_ID = b"\x00" * 32


class OperatorStatus(IntEnum):
    """``RegistryCoordinator.OperatorStatus``."""

    NEVER_REGISTERED = 0
    REGISTERED = 1
    DEREGISTERED = 2


class OperatorStake(NamedTuple):
    """One operator of a quorum at a block: ``OperatorStateRetriever.Operator``."""

    address: str
    operator_id: bytes
    stake: int


@dataclass(frozen=True)
class QuorumParams:
    """A quorum's parameters."""

    quorum: int
    max_operator_count: int
    minimum_stake: int
    total_stake: int
    operator_count: int


@dataclass(frozen=True)
class CheckSignaturesIndices:
    """``OperatorStateRetriever.CheckSignaturesIndices``: where, in each history, the entry in
    force at a reference block sits. ``non_signer_stake_indices[i]`` lists, in the non-signers'
    order, those of the non-signers that were in the i-th quorum."""

    non_signer_quorum_bitmap_indices: tuple[int, ...]
    quorum_apk_indices: tuple[int, ...]
    total_stake_indices: tuple[int, ...]
    non_signer_stake_indices: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Registration:
    """Where one operator address stands, read in one pass (``operator-node status``)."""

    address: str
    is_eigenlayer_operator: bool
    operator_id: bytes
    status: OperatorStatus
    quorums: tuple[int, ...]
    stakes: dict[int, int]
    socket: str

    @property
    def registered(self) -> bool:
        """Registered with the AVS in at least one quorum."""
        return self.status is OperatorStatus.REGISTERED


def quorums_from_bitmap(bitmap: int) -> tuple[int, ...]:
    """The quorum numbers set in a quorum bitmap, ascending."""
    return tuple(q for q in range(192) if bitmap >> q & 1)


class ChainReader:
    """Reads through bound contracts; every call goes through the instrumented provider."""

    def __init__(
        self,
        w3: AsyncWeb3[Any],
        contracts: AvsContracts,
        *,
        cache_size: int = 256,
        events_from_block: int = 0,
        events_block_range: int = 10_000,
    ):
        self.w3 = w3
        self.contracts = contracts

        def cursor(event: Any, head: Callable[[], Awaitable[int]] | None = None) -> EventCursor:
            return EventCursor(
                w3, event, from_block=events_from_block, block_range=events_block_range, head=head
            )

        self.sockets = SocketBook(
            contracts, cursor(contracts.registry_coordinator.events.OperatorSocketUpdate)
        )
        # The allow-list may lag by its refresh age anyway: its scans stop at a recent head.
        self.dispersers = DisperserSet(
            cursor(
                contracts.service_manager.events.DisperserStatusChanged,
                lambda: self.get_recent_head(RECENT_HEAD_AGE),
            )
        )
        self.pubkeys = PubkeyBook(
            cursor(contracts.bls_apk_registry.events.NewPubkeyRegistration),
            self.fetch_operator_pubkeys_g1,
        )
        self._cache: OrderedDict[tuple[int, int], tuple[OperatorStake, ...]] = OrderedDict()
        self._cache_size = cache_size
        self._pubkeys: dict[str, G1Point] = {}
        self._head: tuple[int, float] | None = None  # (block, time.monotonic() when read)

    async def get_current_block(self) -> int:
        """The latest block number (read now)."""
        block = int(await self.w3.eth.block_number)
        self.note_head(block)
        return block

    def note_head(self, block: int) -> None:
        """Remember ``block`` as the chain's latest, read just now (by whoever read it)."""
        self._head = (block, time.monotonic())

    async def get_recent_head(self, max_age: float) -> int:
        """The latest block number read in the last ``max_age`` seconds, else read now: event
        scans can stop at a head the chain watcher has just read instead of asking again."""
        if self._head is not None and time.monotonic() - self._head[1] <= max_age:
            return self._head[0]
        return await self.get_current_block()

    async def get_quorum_count(self) -> int:
        """How many quorums exist (they are numbered 0..count-1)."""
        rc = self.contracts.registry_coordinator
        return int(await call_view("RegistryCoordinator", rc.functions.quorumCount()))

    async def get_quorum_params(self, quorum: int) -> QuorumParams:
        """A quorum's operator cap, minimum stake, total stake and operator count now."""
        rc, stakes = self.contracts.registry_coordinator, self.contracts.stake_registry
        index = self.contracts.index_registry
        params = await call_view("RegistryCoordinator", rc.functions.getOperatorSetParams(quorum))
        minimum = await call_view("StakeRegistry", stakes.functions.minimumStakeForQuorum(quorum))
        total = await call_view("StakeRegistry", stakes.functions.getCurrentTotalStake(quorum))
        count = await call_view("IndexRegistry", index.functions.totalOperatorsForQuorum(quorum))
        return QuorumParams(quorum, int(params[0]), int(minimum), int(total), int(count))

    async def get_operator_state(
        self, quorums: Sequence[int], block_number: int, *, head: int | None = None
    ) -> dict[int, tuple[OperatorStake, ...]]:
        """For each quorum, its operators (address, id, stake) at the end of ``block_number``,
        in the index registry's order.

        Cached per (quorum, block). Raises :class:`FutureBlockError` for a block not yet mined;
        a caller that knows a recent head gives it as ``head`` (saving a call to read it).
        """
        missing = [q for q in dict.fromkeys(quorums) if (q, block_number) not in self._cache]
        if missing:
            await self._fetch_state(missing, block_number, head)
        result = {}
        for q in quorums:
            self._cache.move_to_end((q, block_number))
            result[q] = self._cache[(q, block_number)]
        return result

    async def _fetch_state(self, quorums: list[int], block_number: int, head: int | None) -> None:
        # A block at or below a head already seen is mined: only a later one needs the chain
        # asked (heads only grow).
        seen = max(head if head is not None else -1, self._head[0] if self._head else -1)
        if block_number > seen:
            seen = await self.get_current_block()
            if block_number > seen:
                raise FutureBlockError(f"block {block_number} is ahead of the chain head {seen}")
        fn = self.contracts.operator_state_retriever.get_function_by_signature(_STATE_BY_QUORUMS)
        raw = await call_view(
            "OperatorStateRetriever",
            fn(self.contracts.registry_coordinator.address, bytes(quorums), block_number),
        )
        for q, operators in zip(quorums, raw, strict=True):
            state = tuple(OperatorStake(str(a), bytes(i), int(s)) for a, i, s in operators)
            self._cache[(q, block_number)] = state
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    async def get_check_signatures_indices(
        self, quorums: Sequence[int], block_number: int, non_signer_ids: Sequence[bytes]
    ) -> CheckSignaturesIndices:
        """The history indices a signature check at ``block_number`` needs, from
        ``OperatorStateRetriever.getCheckSignaturesIndices`` (one call). ``non_signer_ids`` must
        be ascending, as the check wants the non-signers' keys."""
        fn = self.contracts.operator_state_retriever.functions.getCheckSignaturesIndices(
            self.contracts.registry_coordinator.address,
            block_number,
            bytes(quorums),
            list(non_signer_ids),
        )
        bitmaps, apks, totals, stakes = await call_view("OperatorStateRetriever", fn)
        return CheckSignaturesIndices(
            tuple(map(int, bitmaps)),
            tuple(map(int, apks)),
            tuple(map(int, totals)),
            tuple(tuple(map(int, per_quorum)) for per_quorum in stakes),
        )

    async def get_operator_socket(self, operator_id: bytes) -> str:
        """The socket registered for ``operator_id`` ("" if none)."""
        return (await self.sockets.fetch_sockets([operator_id]))[operator_id]

    async def get_operator_id(self, address: str) -> bytes:
        """The operator id registered for ``address`` (32 zero bytes if none)."""
        fn = self.contracts.registry_coordinator.functions.getOperatorId(address)
        return bytes(await call_view("RegistryCoordinator", fn))

    async def get_operator_address(self, operator_id: bytes) -> str | None:
        """The address registered with ``operator_id``, or None."""
        fn = self.contracts.registry_coordinator.functions.getOperatorFromId(operator_id)
        address = str(await call_view("RegistryCoordinator", fn))
        return None if int(address, 16) == 0 else address

    async def get_operator_status(self, address: str) -> OperatorStatus:
        """The registry coordinator's status for ``address``."""
        fn = self.contracts.registry_coordinator.functions.getOperatorStatus(address)
        return OperatorStatus(int(await call_view("RegistryCoordinator", fn)))

    async def get_operator_quorums(self, operator_id: bytes) -> tuple[int, ...]:
        """The quorums ``operator_id`` is registered in now."""
        fn = self.contracts.registry_coordinator.functions.getCurrentQuorumBitmap(operator_id)
        return quorums_from_bitmap(int(await call_view("RegistryCoordinator", fn)))

    async def get_current_stake(self, operator_id: bytes, quorum: int) -> int:
        """The stake ``operator_id`` has in ``quorum`` now (0 when not registered in it)."""
        fn = self.contracts.stake_registry.functions.getCurrentStake(operator_id, quorum)
        return int(await call_view("StakeRegistry", fn))

    async def is_eigenlayer_operator(self, address: str) -> bool:
        """Whether ``address`` registered as an operator with the DelegationManager."""
        fn = self.contracts.delegation.functions.isOperator(address)
        return bool(await call_view("DelegationManager", fn))

    async def fetch_standing(
        self, operator_id: bytes, quorums: Sequence[int]
    ) -> tuple[OperatorStatus, tuple[int, ...], dict[int, int]]:
        """A registered-once operator's status, quorums and stake in each of ``quorums``, now,
        in one JSON-RPC batch (what changes of a :class:`Registration`; the address, the key
        and the id it is bound to do not).

        The status is read from the quorum bitmap: the registry coordinator marks an operator
        deregistered exactly when its bitmap becomes empty.
        """
        rc, stakes = self.contracts.registry_coordinator, self.contracts.stake_registry
        bitmap, *amounts = await call_batch(
            [("RegistryCoordinator", rc.functions.getCurrentQuorumBitmap(operator_id))]
            + [("StakeRegistry", stakes.functions.getCurrentStake(operator_id, q)) for q in quorums]
        )
        registered = quorums_from_bitmap(int(bitmap))
        status = OperatorStatus.REGISTERED if registered else OperatorStatus.DEREGISTERED
        by_quorum = {q: int(a) for q, a in zip(quorums, amounts, strict=True) if q in registered}
        return status, registered, by_quorum

    async def get_registration(self, address: str) -> Registration:
        """Everything about ``address``'s registration, read now."""
        address = self.w3.to_checksum_address(address)
        operator_id = await self.get_operator_id(address)
        quorums = await self.get_operator_quorums(operator_id) if operator_id != ZERO_ID else ()
        stakes = {q: await self.get_current_stake(operator_id, q) for q in quorums}
        socket = await self.get_operator_socket(operator_id) if operator_id != ZERO_ID else ""
        return Registration(
            address=address,
            is_eigenlayer_operator=await self.is_eigenlayer_operator(address),
            operator_id=operator_id,
            status=await self.get_operator_status(address),
            quorums=quorums,
            stakes=stakes,
            socket=socket,
        )

    async def get_operator_pubkey_g1(self, address: str) -> G1Point:
        """The G1 public key ``address`` registered (cached: a registered key never changes)."""
        key = self._pubkeys.get(address)
        if key is None:
            fn = self.contracts.bls_apk_registry.functions.operatorToPubkey(address)
            x, y = await call_view("BLSApkRegistry", fn)
            key = G1Point.from_coordinates(int(x), int(y))
            self._pubkeys[address] = key
        return key

    async def fetch_operator_pubkeys_g1(self, addresses: Sequence[str]) -> list[G1Point]:
        """The G1 keys ``addresses`` registered, in order, read in JSON-RPC batches (and cached
        as :meth:`get_operator_pubkey_g1` caches them)."""
        missing = [a for a in dict.fromkeys(addresses) if a not in self._pubkeys]
        fn = self.contracts.bls_apk_registry.functions.operatorToPubkey
        keys = await call_views("BLSApkRegistry", [fn(a) for a in missing])
        for address, (x, y) in zip(missing, keys, strict=True):
            self._pubkeys[address] = G1Point.from_coordinates(int(x), int(y))
        return [self._pubkeys[a] for a in addresses]

    async def get_pubkey_registration_message(self, address: str) -> G1Point:
        """The G1 point ``address`` must sign to register its BLS key."""
        fn = self.contracts.registry_coordinator.functions.pubkeyRegistrationMessageHash(address)
        x, y = await call_view("RegistryCoordinator", fn)
        return G1Point.from_coordinates(int(x), int(y))

    async def get_avs_registration_digest(self, operator: str, salt: bytes, expiry: int) -> bytes:
        """The EIP-712 digest the operator signs to consent to joining this AVS."""
        fn = self.contracts.avs_directory.functions.calculateOperatorAVSRegistrationDigestHash(
            operator, self.contracts.service_manager.address, salt, expiry
        )
        return bytes(await call_view("AVSDirectory", fn))
