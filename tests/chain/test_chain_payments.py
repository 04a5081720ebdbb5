"""The payment vault on a real anvil: the AVS's owner sets reservations and global limits,
anyone deposits, every change is checked and emits its event; the CLI's admin commands drive it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from chain.chain_support import DEPLOYER, OPERATORS, Devnet, write_cli_config

from operator_node.chain.errors import ChainConfigError, ContractRevertError
from operator_node.chain.writer import ChainWriter
from operator_node.cli import main
from operator_node.payments.vault import (
    GlobalParams,
    Reservation,
    deposit_on_demand,
    find_vault,
    read_deposit,
    read_global_params,
    read_reservation,
    remove_reservation,
    set_global_params,
    set_reservation,
)

PAYER = OPERATORS[3]


def _reservation(**changes: object) -> Reservation:
    now = int(time.time())
    fields: dict[str, object] = {
        "symbols_per_second": 4096,
        "start": now,
        "end": now + 86400,
        "quorums": (0, 1),
        "splits": (60, 40),
    }
    fields.update(changes)
    return Reservation(**fields)  # type: ignore[arg-type]


async def test_owner_sets_and_removes_reservations_with_events(devnet: Devnet) -> None:
    connection = devnet.connection(DEPLOYER)
    try:
        owner = await connection.get_writer()
        vault = await find_vault(owner.reader.contracts)
        assert vault.address == devnet.deployment.payment_vault
        assert not (await read_reservation(vault, PAYER.address)).exists
        receipt = await set_reservation(owner, vault, PAYER.address, _reservation())
        (event,) = vault.events.ReservationSet().process_receipt(receipt)
        assert event["args"]["account"] == PAYER.address
        stored = await read_reservation(vault, PAYER.address)
        assert stored == _reservation(start=stored.start, end=stored.end)
        assert stored.active(time.time()) and stored.bytes_per_second() == 4096 * 32

        receipt = await remove_reservation(owner, vault, PAYER.address)
        assert vault.events.ReservationRemoved().process_receipt(receipt)
        assert not (await read_reservation(vault, PAYER.address)).exists
        with pytest.raises(ContractRevertError, match="account has no reservation"):
            await remove_reservation(owner, vault, PAYER.address)
    finally:
        await connection.close()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"symbols_per_second": 0}, "zero rate"),
        ({"start": 2_000_000_000, "end": 2_000_000_000}, "start must be before end"),
        ({"quorums": (), "splits": ()}, "no quorums"),
        ({"quorums": (1, 0)}, "quorums not strictly ascending"),
        ({"quorums": (0, 5)}, "quorum does not exist"),
        ({"splits": (60,)}, "one split per quorum"),
        ({"splits": (60, 30)}, "splits must sum to 100"),
        ({"splits": (100, 0)}, "zero split"),
    ],
)
async def test_bad_reservations_are_refused_and_change_nothing(
    devnet: Devnet, changes: dict[str, object], reason: str
) -> None:
    connection = devnet.connection(DEPLOYER)
    try:
        owner = await connection.get_writer()
        vault = await find_vault(owner.reader.contracts)
        with pytest.raises(ContractRevertError, match=reason):
            await set_reservation(owner, vault, PAYER.address, _reservation(**changes))
        assert not (await read_reservation(vault, PAYER.address)).exists
    finally:
        await connection.close()


async def test_only_the_avs_owner_may_set_and_anyone_may_deposit(devnet: Devnet) -> None:
    connection = devnet.connection(PAYER)
    try:
        payer: ChainWriter = await connection.get_writer()
        vault = await find_vault(payer.reader.contracts)
        with pytest.raises(ContractRevertError, match="not the owner of the registryCoordinator"):
            await set_reservation(payer, vault, PAYER.address, _reservation())
        params = GlobalParams(32, 10**9, 60, 16384, 10, (0,))
        with pytest.raises(ContractRevertError, match="not the owner"):
            await set_global_params(payer, vault, params)
        # Deposits accumulate, by call and by plain transfer.
        receipt = await deposit_on_demand(payer, vault, OPERATORS[0].address, 10**15)
        (event,) = vault.events.OnDemandDeposited().process_receipt(receipt)
        assert event["args"]["totalDeposit"] == 10**15
        await deposit_on_demand(payer, vault, OPERATORS[0].address, 2 * 10**15)
        assert await read_deposit(vault, OPERATORS[0].address) == 3 * 10**15
        with pytest.raises(ContractRevertError, match="nothing sent"):
            await deposit_on_demand(payer, vault, OPERATORS[0].address, 0)
    finally:
        await connection.close()
    owner_connection = devnet.connection(DEPLOYER)
    try:
        owner = await owner_connection.get_writer()
        vault = await find_vault(owner.reader.contracts)
        await set_global_params(owner, vault, params)
        assert await read_global_params(vault) == params
    finally:
        await owner_connection.close()


async def test_an_m2_shaped_service_manager_names_no_vault(devnet: Devnet) -> None:
    m2 = await devnet.deploy_m2()
    connection = devnet.connection_to(m2)
    try:
        reader = await connection.get_reader()
        with pytest.raises(ChainConfigError, match="names no payment vault"):
            await find_vault(reader.contracts)
    finally:
        await connection.close()


def test_cli_payments_admin_commands(
    devnet: Devnet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(write_cli_config(tmp_path, devnet, account=DEPLOYER))
    payer = PAYER.address

    def payments(command: str, *args: str) -> int:
        return main(["payments", command, "--config", config, *args])

    params = ["--min-symbols", "32", "--price", "1gwei", "--reservation-period", "60"]
    params += ["--on-demand-rate", "16384", "--on-demand-burst", "10", "--on-demand-quorums", "0"]
    assert payments("set-params", *params) == 0
    assert "global parameters set" in capsys.readouterr().out
    rate = ["--account", payer, "--symbols-per-second", "32768", "--quorums", "0,1"]
    assert payments("set-reservation", *rate, "--end", "+2d") == 0
    out = capsys.readouterr().out
    assert f"reservation of {payer}: 32768 symbols/s (1048576 bytes/s) on quorums [0, 1]" in out
    assert "split [50, 50]" in out and "(tx 0x" in out
    assert payments("deposit", "--account", payer, "--amount", "0.01eth") == 0
    assert "its on-demand deposit is 10000000000000000 wei" in capsys.readouterr().out

    assert payments("show", "--account", payer, "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["vault"] == devnet.deployment.payment_vault
    assert document["global"]["price_per_symbol_wei"] == str(10**9)
    assert document["global"]["on_demand_quorums"] == [0]
    reservation = document["account"]["reservation"]
    assert reservation["symbols_per_second"] == 32768 and reservation["active"] is True
    assert reservation["end"] - reservation["start"] == 2 * 86400
    assert document["account"]["on_demand_deposit_wei"] == str(10**16)

    assert payments("remove-reservation", "--account", payer) == 0
    assert payments("show", "--account", payer) == 0
    assert "reservation:               none" in capsys.readouterr().out
    # A bad request is the contract's reason in one line, exit 1; a bad flag is a usage error.
    assert payments("set-reservation", *rate, "--splits", "70,20") == 1
    assert "splits must sum to 100" in capsys.readouterr().err
    assert payments("deposit", "--account", payer, "--amount", "1.5wei") == 2
