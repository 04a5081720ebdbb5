"""Operator sets on a real anvil: our AllocationManager, registry coordinator and stake registry
behave as EigenLayer's current contracts do, and ``register`` / ``deregister`` join and leave each
kind of quorum its own way.

Each test deploys a contract set whose quorums are M2 (0), delegated-stake operator set (1) and
slashable-stake operator set (2), in that order (the first operator-set quorum freezes quorum 0
as M2), with operator i's deposit of ``WEIGHTS[i]``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from chain.chain_support import (
    BLS_KEYS,
    DEPLOYER,
    OPERATORS,
    SOCKET,
    WEIGHTS,
    Devnet,
    write_cli_config,
)
from eth_account.signers.local import LocalAccount

from operator_node.chain.deploy import (
    DEALLOCATION_DELAY,
    Deployment,
    QuorumSpec,
    deploy_contracts,
    deposit,
    set_minimum_stake,
    update_operators,
)
from operator_node.chain.errors import ContractRevertError, RegistrationRefusedError
from operator_node.chain.operator_sets import (
    WAD,
    OperatorSets,
    modify_allocations,
    register_for_operator_sets,
    registration_data,
)
from operator_node.chain.reader import OperatorStatus
from operator_node.chain.registration import (
    OperatorSetOptions,
    deregister,
    ensure_registered,
)
from operator_node.chain.writer import ChainWriter
from operator_node.cli import main

KINDS = ("m2", "delegated", "slashable")
ALL = (0, 1, 2)
SETS = (1, 2)


async def _deploy(
    devnet: Devnet, kinds: Sequence[str] = KINDS, form: str = "RegistryCoordinator"
) -> Deployment:
    setup = devnet.connection(DEPLOYER)
    try:
        deployment = await deploy_contracts(
            setup.w3, DEPLOYER, quorums=[QuorumSpec(kind=k) for k in kinds], coordinator_form=form
        )
        for operator, weight in zip(OPERATORS, WEIGHTS, strict=True):
            await deposit(setup.w3, DEPLOYER, deployment, operator, weight)
        return deployment
    finally:
        await setup.close()


@asynccontextmanager
async def _writer(
    devnet: Devnet, deployment: Deployment, account: LocalAccount
) -> AsyncIterator[ChainWriter]:
    connection = devnet.connection_to(deployment, account)
    try:
        yield await connection.get_writer()
    finally:
        await connection.close()


async def _mine(writer: ChainWriter, blocks: int) -> None:
    await writer.reader.w3.provider.make_request("anvil_mine", [hex(blocks)])


async def _stakes(writer: ChainWriter, quorums: Sequence[int]) -> dict[int, dict[str, int]]:
    reader = writer.reader
    state = await reader.get_operator_state(quorums, await reader.get_current_block())
    return {q: {op.address: op.stake for op in ops} for q, ops in state.items()}


async def test_operator_joins_each_kind_its_own_way_and_leaves(devnet: Devnet) -> None:
    deployment = await _deploy(devnet)
    operator = OPERATORS[0]
    async with _writer(devnet, deployment, operator) as writer:
        sets = OperatorSets(writer.reader)
        kinds = await sets.quorum_kinds(ALL)
        assert [kinds[q].kind for q in ALL] == list(KINDS)
        options = OperatorSetOptions(magnitudes={2: WAD // 2})
        result = await ensure_registered(writer, BLS_KEYS[0], ALL, SOCKET, options=options)
        whats = [step.what for step in result.steps]
        assert whats[0] == "registered as an EigenLayer operator, allocation delay 0 blocks"
        assert whats[1] == "registered in M2 quorums [0]"
        assert whats[2].startswith(f"allocated {WAD // 2} to operator set 2, effective at block")
        assert whats[3] == "registered in operator-set quorums [1, 2]"
        assert result.registered_quorums == ALL and result.waiting_for_block is None
        assert result.after.quorums == ALL
        # The state the node assigns chunks from: delegated stake in 0 and 1, half of it
        # (the magnitude allocated) in the slashable quorum.
        stakes = await _stakes(writer, ALL)
        assert [stakes[q][operator.address] for q in ALL] == [
            WEIGHTS[0],
            WEIGHTS[0],
            WEIGHTS[0] // 2,
        ]
        standing = await sets.standing(operator.address, kinds[2])
        assert standing.member and standing.slashable
        assert [a.current for a in standing.allocations] == [WAD // 2]

        again = await ensure_registered(writer, BLS_KEYS[0], ALL, SOCKET, options=options)
        assert again.already_registered

        leaving, steps = await deregister(writer)
        assert leaving == ALL
        assert steps[0].what.startswith("left operator-set quorums [1, 2]; slashable by them")
        assert steps[1].what == "deregistered from M2 quorums [0]"
        after = await writer.reader.get_registration(operator.address)
        assert after.status is OperatorStatus.DEREGISTERED and after.quorums == ()
        standing = await sets.standing(operator.address, kinds[2])
        assert not standing.member and standing.slashable  # for DEALLOCATION_DELAY blocks
        # Rejoining inside the window is refused by the AllocationManager, as EigenLayer's is.
        with pytest.raises(ContractRevertError, match="AlreadyMemberOfSet"):
            await ensure_registered(writer, BLS_KEYS[0], (2,), SOCKET, options=options)
        await _mine(writer, DEALLOCATION_DELAY + 1)
        assert not (await sets.standing(operator.address, kinds[2])).slashable
        rejoined = await ensure_registered(writer, BLS_KEYS[0], (2,), SOCKET, options=options)
        assert rejoined.registered_quorums == (2,)


async def test_operator_set_only_operator_can_leave_only_without_m2(
    devnet: Devnet,
) -> None:
    # On the combined coordinator, leaving an operator set while in no M2 quorum makes the
    # service manager deregister the operator from the AVS directory, where it never registered:
    # refused, as on EigenLayer (OperatorNotRegisteredToAVS), and said plainly. An
    # operator-set-only AVS's coordinator (SlashingRegistryCoordinator) has no such step.
    combined = await _deploy(devnet)
    async with _writer(devnet, combined, OPERATORS[1]) as writer:
        await ensure_registered(
            writer,
            BLS_KEYS[1],
            (1, 2),
            SOCKET,
            mode="operator_sets",
            options=OperatorSetOptions(magnitudes={2: WAD}),
        )
        for quorums in ([2], None):
            with pytest.raises(RegistrationRefusedError, match="in no M2 quorum cannot leave"):
                await deregister(writer, quorums)
        reg = await writer.reader.get_registration(OPERATORS[1].address)
        assert reg.status is OperatorStatus.REGISTERED and reg.quorums == (1, 2)

    sets_only = await _deploy(devnet, ("delegated", "slashable"), "SlashingRegistryCoordinator")
    async with _writer(devnet, sets_only, OPERATORS[2]) as writer:
        sets = OperatorSets(writer.reader)
        assert [k.kind for k in (await sets.quorum_kinds((0, 1))).values()] == [
            "delegated",
            "slashable",
        ]
        assert await sets.m2_registration_disabled()  # it has no M2 registration at all
        options = OperatorSetOptions(magnitudes={1: WAD})
        await ensure_registered(writer, BLS_KEYS[2], (0, 1), SOCKET, options=options)
        leaving, _ = await deregister(writer)
        assert leaving == (0, 1)
        reg = await writer.reader.get_registration(OPERATORS[2].address)
        assert reg.status is OperatorStatus.DEREGISTERED


async def test_pending_allocation_counts_nothing_until_its_block(devnet: Devnet) -> None:
    deployment = await _deploy(devnet)
    delay = 5
    async with _writer(devnet, deployment, OPERATORS[2]) as writer:
        options = OperatorSetOptions(allocation_delay=delay, magnitudes={2: WAD})
        first = await ensure_registered(writer, BLS_KEYS[2], (2,), SOCKET, options=options)
        # Allocated, not yet in effect: register stops and names the block, sending no more.
        assert first.waiting_for_block is not None and first.registered_quorums == ()
        assert first.steps[-1].what.endswith(f"effective at block {first.waiting_for_block}")
        sets = OperatorSets(writer.reader)
        (allocation,) = await sets.allocations(OPERATORS[2].address, 2)
        assert (allocation.current, allocation.pending) == (0, WAD)
        assert allocation.effect_block == first.waiting_for_block

        # register does nothing more while it waits, even allowed zero stake; registered
        # directly (EigenLayer lets it, minimum 0), the operator has weight 0, and the state at
        # that block gives it no stake in the slashable quorum.
        zero = OperatorSetOptions(magnitudes={2: WAD}, allow_zero_stake=True)
        again = await ensure_registered(writer, BLS_KEYS[2], (2,), SOCKET, options=zero)
        assert again.waiting_for_block == first.waiting_for_block and not again.steps
        message = await writer.reader.get_pubkey_registration_message(OPERATORS[2].address)
        params = BLS_KEYS[2].registration_params(message).to_abi()
        await register_for_operator_sets(writer, (2,), SOCKET, params)
        reference = await writer.reader.get_current_block()
        assert reference < allocation.effect_block
        assert (await _stakes(writer, (2,)))[2][OPERATORS[2].address] == 0

        # Once in effect, updateOperators records it.
        await _mine(writer, delay)
        assert (
            await sets.standing(OPERATORS[2].address, (await sets.quorum_kinds((2,)))[2])
        ).live_weight == WEIGHTS[2]
        await update_operators(writer.reader.w3, OPERATORS[2], deployment, [OPERATORS[2].address])
        assert (await _stakes(writer, (2,)))[2][OPERATORS[2].address] == WEIGHTS[2]


async def test_register_refuses_zero_stake_and_unconfigured_magnitude(devnet: Devnet) -> None:
    deployment = await _deploy(devnet)
    async with _writer(devnet, deployment, OPERATORS[3]) as writer:
        with pytest.raises(RegistrationRefusedError, match="no magnitude is configured"):
            await ensure_registered(writer, BLS_KEYS[3], (2,), SOCKET)
        with pytest.raises(
            RegistrationRefusedError, match="quorum\\(s\\) \\[1\\] are operator sets"
        ):
            await ensure_registered(writer, BLS_KEYS[3], (0, 1), SOCKET, mode="m2")
        with pytest.raises(RegistrationRefusedError, match="quorum\\(s\\) \\[0\\] are M2 quorums"):
            await ensure_registered(writer, BLS_KEYS[3], (0, 1), SOCKET, mode="operator_sets")
        with pytest.raises(RegistrationRefusedError, match="needs 1000000000000000001 more"):
            await ensure_registered(
                writer,
                BLS_KEYS[3],
                (2,),
                SOCKET,
                options=OperatorSetOptions(magnitudes={2: WAD + 1}),
            )
        # A magnitude of 0 allocates nothing: zero stake, refused before registering.
        with pytest.raises(RegistrationRefusedError, match="would register with zero stake"):
            await ensure_registered(
                writer, BLS_KEYS[3], (2,), SOCKET, options=OperatorSetOptions(magnitudes={2: 0})
            )
        reg = await writer.reader.get_registration(OPERATORS[3].address)
        assert reg.quorums == ()


async def test_contracts_refuse_what_eigenlayers_refuse(devnet: Devnet) -> None:
    deployment = await _deploy(devnet)
    async with _writer(devnet, deployment, OPERATORS[0]) as writer:
        await ensure_registered(writer, BLS_KEYS[0], (0,), SOCKET)
        sets = OperatorSets(writer.reader)
        strategies = await sets.strategies(2)
        # Ids must ascend (the registrar turns them into quorum numbers).
        with pytest.raises(ContractRevertError, match="not strictly ascending"):
            await _register_raw(writer, [2, 1])
        # M2 registration into an operator-set quorum.
        with pytest.raises(ContractRevertError, match="OnlyM2QuorumsAllowed"):
            await writer.register_operator((1,), SOCKET, BLS_KEYS[0])
        await modify_allocations(writer, [(2, strategies, WAD)])
        with pytest.raises(ContractRevertError, match="SameMagnitude"):
            await modify_allocations(writer, [(2, strategies, WAD)])
        # A minimum stake above the operator's weight: the registrar's revert is the call's.
        await set_minimum_stake(writer.reader.w3, DEPLOYER, deployment, 2, WEIGHTS[0] + 1)
        with pytest.raises(ContractRevertError, match="does not meet minimum stake"):
            await _register_raw(writer, [2])
        await set_minimum_stake(writer.reader.w3, DEPLOYER, deployment, 2, 0)
        await _register_raw(writer, [2])
        # Lowering the magnitude while slashable is delayed by DEALLOCATION_DELAY + 1 blocks.
        receipt = await modify_allocations(writer, [(2, strategies, 0)])
        (allocation,) = await sets.allocations(OPERATORS[0].address, 2)
        assert allocation.pending == -WAD
        assert allocation.effect_block == int(receipt["blockNumber"]) + DEALLOCATION_DELAY + 1
        with pytest.raises(ContractRevertError, match="ModificationAlreadyPending"):
            await modify_allocations(writer, [(2, strategies, WAD // 2)])

    async with _writer(devnet, deployment, DEPLOYER) as owner:
        rc = owner.reader.contracts.registry_coordinator
        # No M2 quorum after the first operator-set quorum; closing M2 registration is one-way.
        with pytest.raises(ContractRevertError, match="OperatorSetQuorum"):
            await owner.tx.send(
                rc.functions.createQuorum((10, 0, 0), 0, [(strategies[0], WAD)]), "createQuorum"
            )
        await owner.tx.send(rc.functions.disableM2QuorumRegistration(), "disable")
    async with _writer(devnet, deployment, OPERATORS[1]) as writer:
        with pytest.raises(RegistrationRefusedError, match="closed M2 registration"):
            await ensure_registered(writer, BLS_KEYS[1], (0,), SOCKET)


async def test_removal_by_the_avs_and_below_minimum_kick_go_through_the_allocation_manager(
    devnet: Devnet,
) -> None:
    # On an operator-set-only AVS (on the combined coordinator these revert for an operator in
    # no M2 quorum, as EigenLayer's do).
    deployment = await _deploy(devnet, ("delegated",), "SlashingRegistryCoordinator")
    for index in (0, 1):
        async with _writer(devnet, deployment, OPERATORS[index]) as writer:
            await ensure_registered(writer, BLS_KEYS[index], (0,), SOCKET)
    async with _writer(devnet, deployment, DEPLOYER) as owner:
        # An ejection: the AVS appoints its owner to remove operators, then does so.
        manager = owner.reader.contracts.service_manager
        selector = bytes.fromhex(
            "6e3492b5"
        )  # deregisterFromOperatorSets((address,address,uint32[]))
        await owner.tx.send(
            manager.functions.setAppointee(
                DEPLOYER.address, deployment.allocation_manager, selector
            ),
            "setAppointee",
        )
        am = owner.reader.contracts.allocation_manager
        assert am is not None
        params = (OPERATORS[0].address, deployment.service_manager, [0])
        await owner.tx.send(am.functions.deregisterFromOperatorSets(params), "eject")
        # Below the minimum at the next update: kicked through the AllocationManager.
        await set_minimum_stake(owner.reader.w3, DEPLOYER, deployment, 0, WEIGHTS[1] + 1)
        await update_operators(owner.reader.w3, DEPLOYER, deployment, [OPERATORS[1].address])
        sets = OperatorSets(owner.reader)
        kind = (await sets.quorum_kinds((0,)))[0]
        for index in (0, 1):
            address = OPERATORS[index].address
            assert not (await sets.standing(address, kind)).member
            assert (await owner.reader.get_registration(address)).quorums == ()


async def _register_raw(writer: ChainWriter, ids: list[int]) -> None:
    """registerForOperatorSets with ``ids`` in the order given (the node always sorts them)."""
    message = await writer.reader.get_pubkey_registration_message(writer.address)
    params = BLS_KEYS[0].registration_params(message).to_abi()
    manager = OperatorSets(writer.reader).manager
    call = manager.functions.registerForOperatorSets(
        writer.address, (writer.reader.contracts.avs, ids, registration_data(SOCKET, params))
    )
    await writer.tx.send(call, "registerForOperatorSets")


def test_registration_data_has_the_middlewares_layout() -> None:
    # The values of eigensdk-go's vector ("unused" socket); the layout EigenLayer's registrar
    # decodes: abi.encode(uint8 NORMAL, string, PubkeyRegistrationParams) — the enum, the
    # string's offset, the params inline, then the string.
    sig = (
        756874975973566196338995715738218418291193261429375530560923897690728869289,
        444340189040315797681399101731743234568891767085799644128199800550863908703,
    )
    g1 = (
        10371454967541283327403832945957227913391851874635485454053224012738342927470,
        5591557118325006940652332791312874698324071372762903093203759620236776485604,
    )
    g2 = (
        [
            1357671944470767405259541876666418155809079857448568479000932998534484593852,
            5283708918582394678225755661661470830476341241033602812294790796852421312310,
        ],
        [
            17411007011468414688052176335308121672943440336543041782092111920184779631952,
            6486088401181402728530570019430319265466049090881984123818353102069786218525,
        ],
    )
    data = registration_data("unused", (sig, g1, g2))
    words = [int.from_bytes(data[i : i + 32], "big") for i in range(0, len(data), 32)]
    assert words[:10] == [0, 0x140, *sig, *g1, *g2[0], *g2[1]]
    assert words[10] == len("unused") and data[11 * 32 : 11 * 32 + 6] == b"unused"
    assert len(data) == 12 * 32


def test_cli_allocate_raises_lowers_and_says_when(
    devnet: Devnet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deployment = asyncio.run(_deploy(devnet))
    config = str(write_cli_config(tmp_path, devnet, deployment=deployment, index=3, quorums=(2,)))
    assert main(["register", "--config", config, "--quorums", "2", "--magnitude", "2=5e17"]) == 0
    assert "registered in operator-set quorums [2]" in capsys.readouterr().out

    # More: effective after the allocation delay (0 here: at once); then the same again.
    assert _allocate(config, "1e18") == 0
    assert f"allocated {WAD} to operator set 2, effective at block" in capsys.readouterr().out
    assert _allocate(config, "1e18") == 0
    assert "already has magnitude" in capsys.readouterr().out
    # Less while registered: delayed DEALLOCATION_DELAY + 1 blocks; a second change waits.
    assert _allocate(config, "0") == 0
    out = capsys.readouterr().out
    block = int(out.split("effective at block ")[1].split(" ")[0])
    assert main(["status", "--config", config, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    (allocation,) = status["operator_sets"]["quorums"]["2"]["allocations"]
    assert allocation == {
        "strategy": allocation["strategy"],
        "current": str(WAD),
        "pending": str(-WAD),
        "effect_block": block,
    }
    assert _allocate(config, "1") == 1
    assert f"pending until block {block}" in capsys.readouterr().err
    # An M2 quorum has nothing to allocate; without --yes and no terminal to ask on: refused.
    assert _allocate(config, "1", quorum=0) == 1
    assert "is an M2 quorum" in capsys.readouterr().err
    asked = ["allocate", "--config", config, "--quorum", "2", "--magnitude", "1"]
    assert main(asked) == 2
    assert "pass --yes" in capsys.readouterr().err


def _allocate(config: str, magnitude: str, quorum: int = 2) -> int:
    return main(
        ["allocate", "--config", config, "--quorum", str(quorum), "--magnitude", magnitude, "--yes"]
    )
