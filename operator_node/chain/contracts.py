"""Discover the AVS's contracts from the registry coordinator, and probe what the deployment has.

The config names two addresses (registry coordinator and operator state retriever); everything
else is read from them: ``serviceManager()``, ``blsApkRegistry()``, ``stakeRegistry()``,
``indexRegistry()``, then ``avsDirectory()`` from the service manager and ``delegation()`` from
the stake registry — functions every EigenLayer middleware release has.

Optional parts are probed, never assumed (what each release has: docs/eigenlayer-conformance.md):

- the DelegationManager's form: "m2" if it answers ``operatorDetails(address)``, else "slashing"
  (or as configured);
- a socket registry: ``socketRegistry()`` exists only in later middleware; without it (M2, the
  release EigenDA runs) sockets are read from ``OperatorSocketUpdate`` events;
- operator sets: ``allocationManager()`` on the registry coordinator exists only in middleware for
  EigenLayer's current core; where it answers with an address, the AllocationManager is bound and
  ``avs()`` names the AVS whose operator sets the operator-set quorums are;
- an on-chain disperser allow-list: ``isDisperser(address)`` on the service manager is this AVS's
  own function, which EigenLayer's ServiceManagerBase does not have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3 import AsyncWeb3
from web3.contract import AsyncContract

from operator_node.chain.artifacts import load_abi
from operator_node.chain.calls import call_view, probe_view
from operator_node.chain.errors import ChainConfigError

CORE_FORMS = ("slashing", "m2")
_DELEGATION_ABI = {"slashing": "DelegationManager", "m2": "DelegationManagerM2"}
ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True)
class AvsContracts:
    """Bound web3 contract objects for every contract the node talks to, and what was probed.

    ``socket_registry`` is None where the deployment has none; ``has_disperser_check`` says
    whether the service manager answers ``isDisperser(address)``.
    """

    registry_coordinator: AsyncContract
    operator_state_retriever: AsyncContract
    service_manager: AsyncContract
    bls_apk_registry: AsyncContract
    stake_registry: AsyncContract
    index_registry: AsyncContract
    socket_registry: AsyncContract | None
    avs_directory: AsyncContract
    delegation: AsyncContract
    core: str
    has_disperser_check: bool
    allocation_manager: AsyncContract | None = None
    avs: str = ZERO_ADDRESS
    has_m2: bool = True
    """Whether the coordinator has M2 registration (``serviceManager()``); a
    SlashingRegistryCoordinator has operator sets only."""

    def describe(self) -> dict[str, str]:
        """What was found, for the one log line (or status output) that says so."""
        return {
            "eigenlayer_core": self.core,
            "sockets_from": (
                f"SocketRegistry {self.socket_registry.address}"
                if self.socket_registry is not None
                else "OperatorSocketUpdate events (no socket registry)"
            ),
            "registration": (
                "M2 only (no AllocationManager)"
                if self.allocation_manager is None
                else f"{'M2 and operator sets' if self.has_m2 else 'operator sets only'} "
                f"(AllocationManager {self.allocation_manager.address})"
            ),
            "disperser_check": (
                "ServiceManager.isDisperser"
                if self.has_disperser_check
                else "none on chain (ServiceManager has no isDisperser)"
            ),
        }


def bind(w3: AsyncWeb3[Any], name: str, address: str) -> AsyncContract:
    """A web3 contract object for ``address`` with the ABI of artifact ``name``."""
    return w3.eth.contract(address=w3.to_checksum_address(address), abi=load_abi(name))


async def _require_code(w3: AsyncWeb3[Any], address: str, what: str) -> None:
    code = await w3.eth.get_code(w3.to_checksum_address(address))
    if len(code) == 0:
        raise ChainConfigError(f"no contract at {what} address {address}")


async def detect_core(w3: AsyncWeb3[Any], delegation_address: str) -> str:
    """ "m2" if the DelegationManager answers ``operatorDetails(address)``, else "slashing"."""
    probe = bind(w3, "DelegationManagerM2", delegation_address)
    answered, _ = await probe_view(probe.functions.operatorDetails(ZERO_ADDRESS))
    return "m2" if answered else "slashing"


async def probe_socket_registry(w3: AsyncWeb3[Any], coordinator: AsyncContract) -> str | None:
    """The socket registry's address, or None where ``socketRegistry()`` does not answer or is
    zero."""
    answered, address = await probe_view(coordinator.functions.socketRegistry())
    if not answered or int(str(address), 16) == 0:
        return None
    return str(address)


async def probe_allocation_manager(coordinator: AsyncContract) -> tuple[str, str] | None:
    """(AllocationManager, avs) where the coordinator answers ``allocationManager()`` with an
    address, else None."""
    answered, address = await probe_view(coordinator.functions.allocationManager())
    if not answered or int(str(address), 16) == 0:
        return None
    avs = await call_view("RegistryCoordinator", coordinator.functions.avs())
    return str(address), str(avs)


async def _service_manager(
    coordinator: AsyncContract, operator_sets: tuple[str, str] | None
) -> tuple[str, bool]:
    """(the service manager, whether the coordinator has M2 registration): ``serviceManager()``,
    which every coordinator with M2 quorums has; a SlashingRegistryCoordinator (operator sets
    only) has none, and its ``avs()`` is the AVS's service manager."""
    answered, address = await probe_view(coordinator.functions.serviceManager())
    if answered:
        return str(address), True
    if operator_sets is not None:
        return operator_sets[1], False
    fn = coordinator.functions.serviceManager()
    return str(await call_view("RegistryCoordinator", fn)), True


async def probe_disperser_check(service_manager: AsyncContract) -> bool:
    """Whether the service manager answers ``isDisperser(address)``."""
    answered, _ = await probe_view(service_manager.functions.isDisperser(ZERO_ADDRESS))
    return answered


async def discover(
    w3: AsyncWeb3[Any],
    registry_coordinator: str,
    operator_state_retriever: str,
    *,
    core: str = "auto",
    chain_id: int | None = None,
) -> AvsContracts:
    """Bind every contract, reading the addresses from the registry coordinator, and probe the
    optional parts.

    Raises :class:`ChainConfigError` for a chain id other than ``chain_id`` (when given), an
    address without code, or a ``core`` that is not "auto", "slashing" or "m2";
    :class:`ContractRevertError` naming the call when a function every release has reverts.
    """
    if core not in ("auto", *CORE_FORMS):
        raise ChainConfigError(f"eigenlayer_core must be auto, slashing or m2, not {core!r}")
    if chain_id is not None and (actual := int(await w3.eth.chain_id)) != chain_id:
        raise ChainConfigError(f"RPC serves chain id {actual}, config says {chain_id}")
    await _require_code(w3, registry_coordinator, "registry_coordinator")
    await _require_code(w3, operator_state_retriever, "operator_state_retriever")
    coordinator = bind(w3, "RegistryCoordinator", registry_coordinator)

    async def from_coordinator(name: str, call: Any) -> AsyncContract:
        return bind(w3, name, await call_view("RegistryCoordinator", call))

    operator_sets = await probe_allocation_manager(coordinator)
    manager_address, has_m2 = await _service_manager(coordinator, operator_sets)
    service_manager = bind(w3, "ServiceManager", manager_address)
    stake_registry = await from_coordinator("StakeRegistry", coordinator.functions.stakeRegistry())
    delegation_address = await call_view("StakeRegistry", stake_registry.functions.delegation())
    if core == "auto":
        core = await detect_core(w3, delegation_address)
    socket_registry = await probe_socket_registry(w3, coordinator)
    directory = await call_view("ServiceManager", service_manager.functions.avsDirectory())
    return AvsContracts(
        registry_coordinator=coordinator,
        operator_state_retriever=bind(w3, "OperatorStateRetriever", operator_state_retriever),
        service_manager=service_manager,
        bls_apk_registry=await from_coordinator(
            "BLSApkRegistry", coordinator.functions.blsApkRegistry()
        ),
        stake_registry=stake_registry,
        index_registry=await from_coordinator(
            "IndexRegistry", coordinator.functions.indexRegistry()
        ),
        socket_registry=(
            None if socket_registry is None else bind(w3, "SocketRegistry", socket_registry)
        ),
        avs_directory=bind(w3, "AVSDirectory", directory),
        delegation=bind(w3, _DELEGATION_ABI[core], delegation_address),
        core=core,
        has_disperser_check=await probe_disperser_check(service_manager),
        allocation_manager=(
            None if operator_sets is None else bind(w3, "AllocationManager", operator_sets[0])
        ),
        avs=ZERO_ADDRESS if operator_sets is None else operator_sets[1],
        has_m2=has_m2,
    )
