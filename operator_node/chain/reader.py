"""Read-only access to the AVS's state: registration, quorums, stakes, sockets, dispersers.

Operator state at a block — what chunk assignment is computed from — is cached per (quorum,
block) in a bounded LRU: state at a past block never changes, and dispersal asks for the same
reference block once per request. A block the chain has not reached yet is refused rather than
cached.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NamedTuple

from web3 import AsyncWeb3

from operator_node.chain.contracts import AvsContracts
from operator_node.chain.errors import FutureBlockError
from operator_node.crypto.bn254 import G1Point

_STATE_BY_QUORUMS = "getOperatorState(address,bytes,uint32)"
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

    def __init__(self, w3: AsyncWeb3[Any], contracts: AvsContracts, *, cache_size: int = 256):
        self.w3 = w3
        self.contracts = contracts
        self._cache: OrderedDict[tuple[int, int], tuple[OperatorStake, ...]] = OrderedDict()
        self._cache_size = cache_size
        self._pubkeys: dict[str, G1Point] = {}

    async def get_current_block(self) -> int:
        """The latest block number."""
        return int(await self.w3.eth.block_number)

    async def get_quorum_count(self) -> int:
        """How many quorums exist (they are numbered 0..count-1)."""
        return int(await self.contracts.registry_coordinator.functions.quorumCount().call())

    async def get_quorum_params(self, quorum: int) -> QuorumParams:
        """A quorum's operator cap, minimum stake, total stake and operator count now."""
        rc, stakes = self.contracts.registry_coordinator, self.contracts.stake_registry
        max_count, _, _ = await rc.functions.getOperatorSetParams(quorum).call()
        return QuorumParams(
            quorum=quorum,
            max_operator_count=int(max_count),
            minimum_stake=int(await stakes.functions.minimumStakeForQuorum(quorum).call()),
            total_stake=int(await stakes.functions.getCurrentTotalStake(quorum).call()),
            operator_count=int(
                await self.contracts.index_registry.functions.totalOperatorsForQuorum(quorum).call()
            ),
        )

    async def get_operator_state(
        self, quorums: Sequence[int], block_number: int
    ) -> dict[int, tuple[OperatorStake, ...]]:
        """For each quorum, its operators (address, id, stake) at the end of ``block_number``,
        in the index registry's order.

        Cached per (quorum, block). Raises :class:`FutureBlockError` for a block not yet mined.
        """
        missing = [q for q in dict.fromkeys(quorums) if (q, block_number) not in self._cache]
        if missing:
            await self._fetch_state(missing, block_number)
        result = {}
        for q in quorums:
            self._cache.move_to_end((q, block_number))
            result[q] = self._cache[(q, block_number)]
        return result

    async def _fetch_state(self, quorums: list[int], block_number: int) -> None:
        head = await self.get_current_block()
        if block_number > head:
            raise FutureBlockError(f"block {block_number} is ahead of the chain head {head}")
        fn = self.contracts.operator_state_retriever.get_function_by_signature(_STATE_BY_QUORUMS)
        raw = await fn(
            self.contracts.registry_coordinator.address, bytes(quorums), block_number
        ).call()
        for q, operators in zip(quorums, raw, strict=True):
            state = tuple(OperatorStake(str(a), bytes(i), int(s)) for a, i, s in operators)
            self._cache[(q, block_number)] = state
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    async def is_disperser(self, address: str) -> bool:
        """Whether ``address`` is on the service manager's disperser allow-list."""
        checksum = self.w3.to_checksum_address(address)
        return bool(await self.contracts.service_manager.functions.isDisperser(checksum).call())

    async def get_operator_socket(self, operator_id: bytes) -> str:
        """The socket registered for ``operator_id`` ("" if none)."""
        fn = self.contracts.socket_registry.functions.getOperatorSocket(operator_id)
        return str(await fn.call())

    async def get_operator_id(self, address: str) -> bytes:
        """The operator id registered for ``address`` (32 zero bytes if none)."""
        fn = self.contracts.registry_coordinator.functions.getOperatorId(address)
        return bytes(await fn.call())

    async def get_operator_address(self, operator_id: bytes) -> str | None:
        """The address registered with ``operator_id``, or None."""
        fn = self.contracts.registry_coordinator.functions.getOperatorFromId(operator_id)
        address = str(await fn.call())
        return None if int(address, 16) == 0 else address

    async def get_operator_status(self, address: str) -> OperatorStatus:
        """The registry coordinator's status for ``address``."""
        fn = self.contracts.registry_coordinator.functions.getOperatorStatus(address)
        return OperatorStatus(int(await fn.call()))

    async def get_operator_quorums(self, operator_id: bytes) -> tuple[int, ...]:
        """The quorums ``operator_id`` is registered in now."""
        fn = self.contracts.registry_coordinator.functions.getCurrentQuorumBitmap(operator_id)
        return quorums_from_bitmap(int(await fn.call()))

    async def get_current_stake(self, operator_id: bytes, quorum: int) -> int:
        """The stake ``operator_id`` has in ``quorum`` now (0 when not registered in it)."""
        fn = self.contracts.stake_registry.functions.getCurrentStake(operator_id, quorum)
        return int(await fn.call())

    async def is_eigenlayer_operator(self, address: str) -> bool:
        """Whether ``address`` registered as an operator with the DelegationManager."""
        return bool(await self.contracts.delegation.functions.isOperator(address).call())

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
            x, y = await fn.call()
            key = G1Point.from_coordinates(int(x), int(y))
            self._pubkeys[address] = key
        return key

    async def get_pubkey_registration_message(self, address: str) -> G1Point:
        """The G1 point ``address`` must sign to register its BLS key."""
        fn = self.contracts.registry_coordinator.functions.pubkeyRegistrationMessageHash(address)
        x, y = await fn.call()
        return G1Point.from_coordinates(int(x), int(y))

    async def get_avs_registration_digest(self, operator: str, salt: bytes, expiry: int) -> bytes:
        """The EIP-712 digest the operator signs to consent to joining this AVS."""
        fn = self.contracts.avs_directory.functions.calculateOperatorAVSRegistrationDigestHash(
            operator, self.contracts.service_manager.address, salt, expiry
        )
        return bytes(await fn.call())
