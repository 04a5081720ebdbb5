"""Discover the AVS's contracts from the registry coordinator, as eigensdk does.

The config names two addresses (registry coordinator and operator state retriever); everything
else is read from them: ``serviceManager()``, ``blsApkRegistry()``, ``stakeRegistry()``,
``indexRegistry()``, ``socketRegistry()``, then ``avsDirectory()`` from the service manager and
``delegation()`` from the stake registry. The DelegationManager's form (current "slashing" release
or the older "m2") is configured or detected by probing ``operatorDetails(address)``, which only
the M2 form has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3 import AsyncWeb3
from web3.contract import AsyncContract
from web3.exceptions import ContractLogicError

from operator_node.chain.artifacts import load_abi
from operator_node.chain.errors import ChainConfigError

CORE_FORMS = ("slashing", "m2")
_DELEGATION_ABI = {"slashing": "DelegationManager", "m2": "DelegationManagerM2"}


@dataclass(frozen=True)
class AvsContracts:
    """Bound web3 contract objects for every contract the node talks to."""

    registry_coordinator: AsyncContract
    operator_state_retriever: AsyncContract
    service_manager: AsyncContract
    bls_apk_registry: AsyncContract
    stake_registry: AsyncContract
    index_registry: AsyncContract
    socket_registry: AsyncContract
    avs_directory: AsyncContract
    delegation: AsyncContract
    core: str


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
    try:
        await probe.functions.operatorDetails("0x" + "00" * 20).call()
    except (ContractLogicError, ValueError):  # ValueError: web3 could not decode an empty return
        return "slashing"
    return "m2"


async def discover(
    w3: AsyncWeb3[Any],
    registry_coordinator: str,
    operator_state_retriever: str,
    *,
    core: str = "auto",
    chain_id: int | None = None,
) -> AvsContracts:
    """Bind every contract, reading the addresses from the registry coordinator.

    Raises :class:`ChainConfigError` for a chain id other than ``chain_id`` (when given), an
    address without code, or a ``core`` that is not "auto", "slashing" or "m2".
    """
    if core not in ("auto", *CORE_FORMS):
        raise ChainConfigError(f"eigenlayer_core must be auto, slashing or m2, not {core!r}")
    if chain_id is not None and (actual := int(await w3.eth.chain_id)) != chain_id:
        raise ChainConfigError(f"RPC serves chain id {actual}, config says {chain_id}")
    await _require_code(w3, registry_coordinator, "registry_coordinator")
    await _require_code(w3, operator_state_retriever, "operator_state_retriever")
    coordinator = bind(w3, "RegistryCoordinator", registry_coordinator)
    fns = coordinator.functions
    service_manager = bind(w3, "ServiceManager", await fns.serviceManager().call())
    stake_registry = bind(w3, "StakeRegistry", await fns.stakeRegistry().call())
    delegation_address = await stake_registry.functions.delegation().call()
    if core == "auto":
        core = await detect_core(w3, delegation_address)
    return AvsContracts(
        registry_coordinator=coordinator,
        operator_state_retriever=bind(w3, "OperatorStateRetriever", operator_state_retriever),
        service_manager=service_manager,
        bls_apk_registry=bind(w3, "BLSApkRegistry", await fns.blsApkRegistry().call()),
        stake_registry=stake_registry,
        index_registry=bind(w3, "IndexRegistry", await fns.indexRegistry().call()),
        socket_registry=bind(w3, "SocketRegistry", await fns.socketRegistry().call()),
        avs_directory=bind(
            w3, "AVSDirectory", await service_manager.functions.avsDirectory().call()
        ),
        delegation=bind(w3, _DELEGATION_ABI[core], delegation_address),
        core=core,
    )
