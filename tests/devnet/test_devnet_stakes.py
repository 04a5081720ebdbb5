"""The scale devnet's parts that need no chain: the stake profile, the derived operators and the
ports where nothing listens."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from operator_node.devnet.bulk import SilentPorts, derive_idle_operator
from operator_node.devnet.network import Devnet, DevnetError
from operator_node.devnet.stakes import StakeProfile


def test_stakes_follow_the_power_law_largest_first() -> None:
    stakes = StakeProfile(alpha=1.5, top=100_000).compute_stakes(250)
    assert stakes[:4] == [100_000, 35_355, 19_245, 12_500]
    assert stakes == sorted(stakes, reverse=True)
    assert stakes[-1] == round(100_000 / 250**1.5) == 25


def test_stakes_never_below_the_minimum() -> None:
    assert StakeProfile(alpha=3.0, top=1000, minimum=5).compute_stakes(20)[-1] == 5


def test_stakes_default_profile_gives_four_nodes_of_250_a_confirming_majority() -> None:
    nodes, idle = StakeProfile().split(250, 4)
    share = sum(nodes) / (sum(nodes) + sum(idle))
    # Above the default confirmation threshold (50%), so the nodes alone confirm and rebuild.
    assert 0.65 < share < 0.70
    assert min(nodes) > max(idle)


@pytest.mark.parametrize(("operators", "nodes"), [(10, 0), (3, 4)])
def test_stakes_split_refuses_impossible_counts(operators: int, nodes: int) -> None:
    with pytest.raises(ValueError, match="nodes"):
        StakeProfile().split(operators, nodes)


@pytest.mark.parametrize("fields", [{"alpha": -1.0}, {"top": 0}, {"minimum": 0}])
def test_stakes_profile_refuses_bad_parameters(fields: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="stake profile"):
        StakeProfile(**fields)  # type: ignore[arg-type]


def test_devnet_scale_puts_the_nodes_on_top_in_ascending_order(tmp_path: Path) -> None:
    net = Devnet.scale(tmp_path, operators=50, nodes=3)
    assert list(net.stakes) == sorted(net.stakes)
    assert min(net.stakes) > max(net.idle_stakes)
    assert net.operator_count == 50
    with pytest.raises(DevnetError, match="nodes"):
        Devnet.scale(tmp_path, operators=50, nodes=9)


def test_derived_operators_are_reproducible_and_distinct() -> None:
    first = [derive_idle_operator(i, 10, "127.0.0.1:1") for i in range(3)]
    again = derive_idle_operator(1, 10, "127.0.0.1:1")
    assert again.account.address == first[1].account.address
    assert again.operator_id == first[1].operator_id
    assert len({op.account.address for op in first}) == len({op.operator_id for op in first}) == 3
    other_seed = derive_idle_operator(1, 10, "127.0.0.1:1", seed=b"another devnet")
    assert other_seed.operator_id != first[1].operator_id


def test_silent_ports_refuse_connections_at_once_and_are_not_handed_out() -> None:
    ports = SilentPorts(3)
    try:
        sockets = ports.sockets
        assert len(set(sockets)) == 3
        for address in sockets:
            host, port = address.rsplit(":", 1)
            started = time.monotonic()
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((host, int(port)), timeout=5).close()
            assert time.monotonic() - started < 1.0
            with socket.socket() as other, pytest.raises(OSError):
                other.bind((host, int(port)))
    finally:
        ports.close()
    ports.close()  # idempotent
