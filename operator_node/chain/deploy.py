"""Deploy the whole contract set (EigenLayer core stand-ins + the AVS) and configure it.

Used by the tests' fixture and by ``operator-node devnet``: deploys, wires the AVS contracts to
the registry coordinator, creates the quorums, sets operator weights (stakes) and allows the
dispersers. Returns every address; a node needs only ``registry_coordinator`` and
``operator_state_retriever``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import AsyncWeb3

from operator_node.chain.artifacts import load_artifact
from operator_node.chain.contracts import CORE_FORMS, bind
from operator_node.chain.errors import ChainConfigError
from operator_node.chain.txmanager import TxManager, TxPolicy


@dataclass(frozen=True)
class QuorumSpec:
    """One quorum to create: operator cap and minimum stake (weight units)."""

    max_operator_count: int = 64
    minimum_stake: int = 0


@dataclass(frozen=True)
class OperatorWeight:
    """The weight (stake) an operator gets in one quorum."""

    operator: str
    quorum: int
    weight: int


@dataclass(frozen=True)
class Deployment:
    """Addresses of a deployed contract set."""

    core: str
    delegation_manager: str
    avs_directory: str
    registry_coordinator: str
    bls_apk_registry: str
    stake_registry: str
    index_registry: str
    socket_registry: str
    service_manager: str
    operator_state_retriever: str

    def to_dict(self) -> dict[str, str]:
        """The addresses by name (for a devnet's config or a JSON file)."""
        return asdict(self)


async def _deploy(tx: TxManager, w3: AsyncWeb3[Any], name: str, *args: Any) -> str:
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = await tx.send(factory.constructor(*args), f"deploy {name}")
    return str(receipt["contractAddress"])


async def deploy_contracts(
    w3: AsyncWeb3[Any],
    deployer: LocalAccount,
    *,
    core: str = "slashing",
    quorums: Sequence[QuorumSpec] = (QuorumSpec(),),
    weights: Iterable[OperatorWeight] = (),
    dispersers: Iterable[str] = (),
) -> Deployment:
    """Deploy and configure everything from ``deployer`` (which becomes the owner).

    Raises :class:`ChainConfigError` for an unknown ``core``, or the transaction manager's errors.
    """
    if core not in CORE_FORMS:
        raise ChainConfigError(f"core must be one of {CORE_FORMS}, not {core!r}")
    tx = TxManager(w3, deployer, TxPolicy(timeout=60.0, confirmations=1))
    owner = deployer.address
    delegation = await _deploy(
        tx, w3, "DelegationManager" if core == "slashing" else "DelegationManagerM2"
    )
    directory = await _deploy(tx, w3, "AVSDirectory", delegation)
    coordinator = await _deploy(tx, w3, "RegistryCoordinator", owner)
    bls = await _deploy(tx, w3, "BLSApkRegistry", coordinator)
    stakes = await _deploy(tx, w3, "StakeRegistry", coordinator, delegation)
    index = await _deploy(tx, w3, "IndexRegistry", coordinator)
    sockets = await _deploy(tx, w3, "SocketRegistry", coordinator)
    manager = await _deploy(tx, w3, "ServiceManager", owner, directory, coordinator, stakes, bls)
    retriever = await _deploy(tx, w3, "OperatorStateRetriever")
    rc = bind(w3, "RegistryCoordinator", coordinator)
    await tx.send(rc.functions.initialize(manager, bls, stakes, index, sockets), "initialize")
    deployment = Deployment(
        core, delegation, directory, coordinator, bls, stakes, index, sockets, manager, retriever
    )
    for spec in quorums:
        await create_quorum(w3, deployer, deployment, spec, tx=tx)
    await set_operator_weights(w3, deployer, deployment, weights, tx=tx)
    for disperser in dispersers:
        await set_disperser(w3, deployer, deployment, disperser, True, tx=tx)
    return deployment


async def create_quorum(
    w3: AsyncWeb3[Any],
    owner: LocalAccount,
    deployment: Deployment,
    spec: QuorumSpec,
    *,
    tx: TxManager | None = None,
) -> None:
    """Create one more quorum (numbered in creation order)."""
    tx = tx or TxManager(w3, owner, TxPolicy())
    rc = bind(w3, "RegistryCoordinator", deployment.registry_coordinator)
    params = (spec.max_operator_count, 0, 0)
    await tx.send(rc.functions.createQuorum(params, spec.minimum_stake, []), "createQuorum")


async def set_operator_weights(
    w3: AsyncWeb3[Any],
    owner: LocalAccount,
    deployment: Deployment,
    weights: Iterable[OperatorWeight],
    *,
    tx: TxManager | None = None,
) -> None:
    """Set operators' weights; a registered operator's stake history follows at once."""
    tx = tx or TxManager(w3, owner, TxPolicy())
    registry = bind(w3, "StakeRegistry", deployment.stake_registry)
    for w in weights:
        call = registry.functions.setOperatorWeight(
            w.quorum, w3.to_checksum_address(w.operator), w.weight
        )
        await tx.send(call, "setOperatorWeight")


async def set_disperser(
    w3: AsyncWeb3[Any],
    owner: LocalAccount,
    deployment: Deployment,
    disperser: str,
    allowed: bool,
    *,
    tx: TxManager | None = None,
) -> None:
    """Allow (or disallow) a disperser on the service manager's allow-list."""
    tx = tx or TxManager(w3, owner, TxPolicy())
    manager = bind(w3, "ServiceManager", deployment.service_manager)
    await tx.send(
        manager.functions.setDisperser(w3.to_checksum_address(disperser), allowed), "setDisperser"
    )
