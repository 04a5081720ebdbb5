"""Operator sockets: both on-chain forms round-trip, malformed ones are refused with a reason, and
the configuration refuses a socket that cannot reach the ports the node listens on."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.daemon import write_config

from operator_node.config import load_config
from operator_node.errors import ConfigError
from operator_node.sockets import OperatorSocket, SocketError, parse_socket

_PORTS = st.integers(min_value=1, max_value=65535)
_HOSTS = st.one_of(
    st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){0,3}", fullmatch=True),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
)


@given(_HOSTS, _PORTS, _PORTS)
def test_sockets_round_trip_both_forms(host: str, dispersal: int, retrieval: int) -> None:
    socket = OperatorSocket(host, dispersal, retrieval)
    text = str(socket)
    assert parse_socket(text) == socket
    # One port is written in the short form; two in EigenDA's dispersal;retrieval form.
    assert (";" in text) == (dispersal != retrieval)


def test_sockets_forms_and_urls() -> None:
    two = parse_socket("node.example.org:32004;32005")
    assert (two.host, two.dispersal_port, two.retrieval_port) == ("node.example.org", 32004, 32005)
    assert two.dispersal_url("/v1/store-chunks") == "http://node.example.org:32004/v1/store-chunks"
    assert two.retrieval_url("/eigen/node") == "http://node.example.org:32005/eigen/node"
    one = parse_socket("10.0.0.1:32005")  # the older one-port form: everything on that port
    assert one == OperatorSocket("10.0.0.1", 32005, 32005)
    assert one.dispersal_url("/x") == one.retrieval_url("/x") == "http://10.0.0.1:32005/x"
    v6 = parse_socket("[2001:db8::1]:32004;32005")
    assert v6.retrieval_url("/x") == "http://[2001:db8::1]:32005/x"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("node.example.org", "no port"),
        (":32005", "no host"),
        ("node:", "is not a number"),
        ("node:port", "is not a number"),
        ("node:32004;", "is not a number"),
        ("node:;32005", "is not a number"),
        ("node:0", "outside 1-65535"),
        ("node:65536;32005", "outside 1-65535"),
        ("node:-1", "is not a number"),
        ("node:32004;32005;32006;32007", "names 4 ports"),  # EigenDA v2's form
        ("2001:db8::1:32005", "IPv6 host in brackets"),
        ("[2001:db8::1:32005", "IPv6 host in brackets"),
        ("node]:32005", "unbalanced brackets"),
        (" node:32005", "whitespace"),
        ("node:32004; 32005", "whitespace"),
        ("node:\uff13\uff12\uff10\uff10\uff15", "is not a number"),  # full-width: isdigit()
    ],
)
def test_sockets_malformed_are_refused_saying_why(text: str, reason: str) -> None:
    with pytest.raises(SocketError, match=reason) as caught:
        parse_socket(text)
    assert repr(text) in str(caught.value) or not text


def test_sockets_config_advertises_both_ports(tmp_path: Path) -> None:
    api = {"host": "203.0.113.7", "port": 32005, "dispersal_port": 32004}
    config = load_config(write_config(tmp_path / "a.toml", {"api": api}), environ={})
    assert config.advertised_socket == "203.0.113.7:32004;32005"
    assert config.api.separate_ports and config.api.listen_dispersal_port == 32004
    one = load_config(
        write_config(tmp_path / "b.toml", {"api": {**api, "dispersal_port": 0}}), environ={}
    )
    assert one.advertised_socket == "203.0.113.7:32005"
    assert not one.api.separate_ports and one.api.listen_dispersal_port == 32005


@pytest.mark.parametrize(
    ("api", "metrics", "message"),
    [
        ({"socket": "node.example.org"}, {}, "api.socket is not a socket: socket 'node.example"),
        # One port on chain, two listeners: dispersers would knock on the wrong one.
        (
            {"socket": "203.0.113.7:32005"},
            {},
            'write the socket as "203.0.113.7:32004;32005"',
        ),
        ({"dispersal_port": 9091}, {"port": 9091}, "metrics.port must differ"),
        ({"dispersal_port": 70000}, {}, "api.dispersal_port must be at most 65535"),
    ],
)
def test_sockets_config_refuses_what_cannot_work(
    tmp_path: Path, api: dict[str, object], metrics: dict[str, object], message: str
) -> None:
    path = write_config(tmp_path / "c.toml", {"api": api, "metrics": metrics})
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_sockets_config_one_port_socket_is_fine_with_one_port(tmp_path: Path) -> None:
    api = {"socket": "203.0.113.7:32005", "dispersal_port": 0}
    config = load_config(write_config(tmp_path / "d.toml", {"api": api}), environ={})
    assert config.advertised_socket == "203.0.113.7:32005"
    # Behind NAT the public ports may differ from the ones the node binds: that is allowed.
    nat = {"socket": "203.0.113.7:4000;4001"}
    assert load_config(write_config(tmp_path / "e.toml", {"api": nat}), environ={})
