"""Deploy the whole contract set (EigenLayer core stand-ins + the AVS) and configure it.

Used by the tests' fixture and by ``operator-node devnet``. Stake is made the way it is on
EigenLayer: a token, one ``StrategyBase`` over it whitelisted in the ``StrategyManager``, each
quorum weighing that strategy at multiplier 1e18 (one unit of stake per token unit). An operator
gets stake by depositing tokens (:func:`deposit`) and registering as an operator, which delegates
it to itself; its stake in the AVS is read at registration and by ``updateOperators``.

Two shapes, as EigenLayer's releases: "slashing" (current core with its AllocationManager and
PermissionController, a SocketRegistry, a service manager with the ``isDisperser`` allow-list,
set up as an operator-set AVS) and "m2" (the M2 core form, no socket registry — sockets only as
events — and EigenDA's M2-shaped service manager with batch confirmers and no ``isDisperser``).
A node needs only ``registry_coordinator`` and ``operator_state_retriever``.

Quorums are of three kinds (:class:`QuorumSpec`): "m2" quorums, which operators join at the
registry coordinator, and two kinds of operator-set quorum, which operators join through the
AllocationManager: "delegated" (stake = delegated shares) and "slashable" (stake = the shares
allocated to the set and slashable over the look-ahead window). As on EigenLayer, creating the
first operator-set quorum freezes the quorums before it as M2, so M2 quorums come first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import AsyncWeb3

from operator_node.chain.artifacts import load_artifact
from operator_node.chain.contracts import CORE_FORMS, ZERO_ADDRESS, bind
from operator_node.chain.errors import ChainConfigError
from operator_node.chain.txmanager import TxManager, TxPolicy

STRATEGY_MULTIPLIER = 10**18  # EigenLayer's WEIGHTING_DIVISOR: one unit of stake per share
QUORUM_KINDS = ("m2", "delegated", "slashable")
# EigenLayer's middleware has both: the coordinator of an AVS with M2 quorums (and operator sets
# added since), and the one of an AVS with operator sets only.
COORDINATORS = ("RegistryCoordinator", "SlashingRegistryCoordinator")
# EigenLayer's testnet values (blocks); mainnet has 100800 and 126000.
DEALLOCATION_DELAY = 50
ALLOCATION_CONFIGURATION_DELAY = 75
AVS_METADATA_URI = "https://example.invalid/avs-metadata.json"
_DEPLOY_POLICY = TxPolicy(timeout=60.0, confirmations=1)


@dataclass(frozen=True)
class QuorumSpec:
    """One quorum to create: operator cap, minimum stake (token units), and its kind: "m2",
    "delegated" or "slashable" (with a look-ahead window in blocks)."""

    max_operator_count: int = 64
    minimum_stake: int = 0
    kind: str = "m2"
    look_ahead: int = 0


@dataclass(frozen=True)
class Deployment:
    """Addresses of a deployed contract set (``socket_registry``, ``allocation_manager`` and
    ``permission_controller`` are zero in the "m2" shape)."""

    core: str
    delegation_manager: str
    avs_directory: str
    strategy_manager: str
    token: str
    strategy: str
    registry_coordinator: str
    bls_apk_registry: str
    stake_registry: str
    index_registry: str
    socket_registry: str
    service_manager: str
    operator_state_retriever: str
    allocation_manager: str = ZERO_ADDRESS
    permission_controller: str = ZERO_ADDRESS
    payment_vault: str = ZERO_ADDRESS

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
    dispersers: Iterable[str] = (),
    deallocation_delay: int = DEALLOCATION_DELAY,
    allocation_configuration_delay: int = ALLOCATION_CONFIGURATION_DELAY,
    coordinator_form: str = "RegistryCoordinator",
) -> Deployment:
    """Deploy and configure everything from ``deployer`` (the owner, and the token's minter).

    ``dispersers`` are allowed to disperse ("slashing": ``setDisperser``) or to confirm batches
    ("m2": ``setBatchConfirmer``). ``coordinator_form`` "SlashingRegistryCoordinator" deploys
    the coordinator of an operator-set-only AVS (no M2 functions). Raises
    :class:`ChainConfigError` for an unknown ``core``, form or quorum kind, an operator-set quorum
    on the "m2" core, an M2 quorum after an operator-set one or on the operator-set-only form, or
    the transaction manager's errors.
    """
    if core not in CORE_FORMS:
        raise ChainConfigError(f"core must be one of {CORE_FORMS}, not {core!r}")
    _check_quorum_order(core, quorums)
    if coordinator_form not in COORDINATORS:
        raise ChainConfigError(f"coordinator_form must be one of {COORDINATORS}")
    if coordinator_form != "RegistryCoordinator" and (
        core == "m2" or any(spec.kind == "m2" for spec in quorums)
    ):
        raise ChainConfigError(
            f"a {coordinator_form} has operator-set quorums only, on the current core"
        )
    tx = TxManager(w3, deployer, _DEPLOY_POLICY)
    owner = deployer.address
    m2 = core == "m2"
    delegation = await _deploy(tx, w3, "DelegationManagerM2" if m2 else "DelegationManager")
    strategies = await _deploy(tx, w3, "StrategyManager", owner, delegation)
    await tx.send(
        bind(w3, "DelegationManager", delegation).functions.initialize(strategies),
        "DelegationManager.initialize",
    )
    token = await _deploy(tx, w3, "StakeToken", "Devnet Stake", "STAKE")
    strategy = await _deploy(tx, w3, "StrategyBase", strategies, token)
    await tx.send(
        bind(w3, "StrategyManager", strategies).functions.addStrategiesToDepositWhitelist(
            [strategy]
        ),
        "StrategyManager.addStrategiesToDepositWhitelist",
    )
    permissions = allocations = ZERO_ADDRESS
    if not m2:
        permissions = await _deploy(tx, w3, "PermissionController")
        allocations = await _deploy(
            tx, w3, "AllocationManager", delegation, permissions,
            deallocation_delay, allocation_configuration_delay,
        )  # fmt: skip
        await tx.send(
            bind(w3, "DelegationManager", delegation).functions.initializeAllocationManager(
                allocations
            ),
            "DelegationManager.initializeAllocationManager",
        )
    directory = await _deploy(tx, w3, "AVSDirectory", delegation)
    coordinator = await _deploy(tx, w3, coordinator_form, owner)
    bls = await _deploy(tx, w3, "BLSApkRegistry", coordinator)
    stakes = await _deploy(tx, w3, "StakeRegistry", coordinator, delegation, allocations)
    index = await _deploy(tx, w3, "IndexRegistry", coordinator)
    sockets = ZERO_ADDRESS if m2 else await _deploy(tx, w3, "SocketRegistry", coordinator)
    manager_name = "ServiceManagerM2" if m2 else "ServiceManager"
    manager = await _deploy(tx, w3, manager_name, owner, directory, coordinator, stakes, bls)
    retriever = await _deploy(tx, w3, "OperatorStateRetriever")
    rc = bind(w3, coordinator_form, coordinator)
    await tx.send(
        rc.functions.initialize(bls, stakes, index, sockets, allocations, manager), "initialize"
    )
    vault = ZERO_ADDRESS
    if not m2:
        service_manager = bind(w3, "ServiceManager", manager)
        await tx.send(
            service_manager.functions.setUpOperatorSets(allocations, permissions, AVS_METADATA_URI),
            "ServiceManager.setUpOperatorSets",
        )
        vault = await _deploy(tx, w3, "PaymentVault", coordinator)
        await tx.send(
            service_manager.functions.setPaymentVault(vault), "ServiceManager.setPaymentVault"
        )
    deployment = Deployment(
        core, delegation, directory, strategies, token, strategy,
        coordinator, bls, stakes, index, sockets, manager, retriever,
        allocations, permissions, vault,
    )  # fmt: skip
    for spec in quorums:
        await create_quorum(w3, deployer, deployment, spec, tx=tx)
    for disperser in dispersers:
        await allow_disperser(w3, deployer, deployment, disperser, tx=tx)
    return deployment


async def create_quorum(
    w3: AsyncWeb3[Any],
    owner: LocalAccount,
    deployment: Deployment,
    spec: QuorumSpec,
    *,
    tx: TxManager | None = None,
) -> None:
    """Create one more quorum (numbered in creation order) weighing the deployment's strategy:
    ``createQuorum`` (M2), ``createTotalDelegatedStakeQuorum`` or ``createSlashableStakeQuorum``
    (whose slasher is the owner)."""
    tx = tx or TxManager(w3, owner, _DEPLOY_POLICY)
    rc = bind(w3, "RegistryCoordinator", deployment.registry_coordinator)
    params = (spec.max_operator_count, 0, 0)
    strategies = [(deployment.strategy, STRATEGY_MULTIPLIER)]
    if spec.kind == "m2":
        call = rc.functions.createQuorum(params, spec.minimum_stake, strategies)
    elif spec.kind == "delegated":
        call = rc.functions.createTotalDelegatedStakeQuorum(params, spec.minimum_stake, strategies)
    elif spec.kind == "slashable":
        call = rc.functions.createSlashableStakeQuorum(
            params, spec.minimum_stake, strategies, spec.look_ahead, owner.address
        )
    else:
        raise ChainConfigError(f"quorum kind must be one of {QUORUM_KINDS}, not {spec.kind!r}")
    await tx.send(call, f"create {spec.kind} quorum")


def _check_quorum_order(core: str, quorums: Sequence[QuorumSpec]) -> None:
    kinds = [spec.kind for spec in quorums]
    unknown = sorted(set(kinds) - set(QUORUM_KINDS))
    if unknown:
        raise ChainConfigError(f"quorum kind must be one of {QUORUM_KINDS}, not {unknown[0]!r}")
    if core == "m2" and any(kind != "m2" for kind in kinds):
        raise ChainConfigError("the m2 core has no AllocationManager: every quorum must be m2")
    if any(kinds[i] != "m2" and kinds[i + 1] == "m2" for i in range(len(kinds) - 1)):
        raise ChainConfigError(
            "M2 quorums must come before operator-set quorums (the first operator-set quorum "
            "freezes the quorums before it as M2)"
        )


async def deposit(
    w3: AsyncWeb3[Any],
    owner: LocalAccount,
    deployment: Deployment,
    staker: LocalAccount,
    amount: int,
) -> None:
    """Mint ``amount`` tokens to ``staker`` (from the owner) and deposit them into the strategy
    from ``staker``'s account. They count for the operator ``staker`` is delegated to — itself,
    once it registers as an operator."""
    await TxManager(w3, owner, _DEPLOY_POLICY).send(
        bind(w3, "StakeToken", deployment.token).functions.mint(staker.address, amount),
        "StakeToken.mint",
    )
    tx = TxManager(w3, staker, _DEPLOY_POLICY)
    token = bind(w3, "StakeToken", deployment.token)
    await tx.send(token.functions.approve(deployment.strategy_manager, amount), "approve")
    manager = bind(w3, "StrategyManager", deployment.strategy_manager)
    await tx.send(
        manager.functions.depositIntoStrategy(deployment.strategy, deployment.token, amount),
        "StrategyManager.depositIntoStrategy",
    )


async def update_operators(
    w3: AsyncWeb3[Any], sender: LocalAccount, deployment: Deployment, operators: Iterable[str]
) -> None:
    """``RegistryCoordinator.updateOperators``: re-read registered operators' stakes now."""
    rc = bind(w3, "RegistryCoordinator", deployment.registry_coordinator)
    addresses = [w3.to_checksum_address(a) for a in operators]
    await TxManager(w3, sender, _DEPLOY_POLICY).send(
        rc.functions.updateOperators(addresses), "RegistryCoordinator.updateOperators"
    )


async def set_minimum_stake(
    w3: AsyncWeb3[Any], owner: LocalAccount, deployment: Deployment, quorum: int, minimum: int
) -> None:
    """``StakeRegistry.setMinimumStakeForQuorum`` (the coordinator's owner)."""
    registry = bind(w3, "StakeRegistry", deployment.stake_registry)
    await TxManager(w3, owner, _DEPLOY_POLICY).send(
        registry.functions.setMinimumStakeForQuorum(quorum, minimum),
        "StakeRegistry.setMinimumStakeForQuorum",
    )


async def allow_disperser(
    w3: AsyncWeb3[Any],
    owner: LocalAccount,
    deployment: Deployment,
    disperser: str,
    *,
    tx: TxManager | None = None,
) -> None:
    """Let ``disperser`` disperse and confirm: ``setDisperser(d, true)`` on the "slashing"
    shape's service manager, ``setBatchConfirmer(d)`` (a toggle) on the "m2" shape's."""
    tx = tx or TxManager(w3, owner, _DEPLOY_POLICY)
    address = w3.to_checksum_address(disperser)
    if deployment.core == "m2":
        manager = bind(w3, "ServiceManagerM2", deployment.service_manager)
        await tx.send(manager.functions.setBatchConfirmer(address), "setBatchConfirmer")
    else:
        manager = bind(w3, "ServiceManager", deployment.service_manager)
        await tx.send(manager.functions.setDisperser(address, True), "setDisperser")
