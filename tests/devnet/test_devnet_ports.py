"""The devnet's ports cannot be taken by the kernel for an outgoing connection before use."""

from __future__ import annotations

import socket

from operator_node.devnet.ports import ephemeral_range, free_port


def test_ports_lie_outside_the_kernel_ephemeral_range_and_are_never_repeated() -> None:
    low, high = ephemeral_range()
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
    assert not [p for p in ports if low <= p <= high]


def test_a_port_held_by_another_socket_is_not_handed_out() -> None:
    held = []
    try:
        for _ in range(50):
            sock = socket.socket()
            sock.bind(("127.0.0.1", free_port()))
            held.append(sock)
        taken = {s.getsockname()[1] for s in held}
        assert not taken & {free_port() for _ in range(200)}
    finally:
        for sock in held:
            sock.close()


def test_outgoing_connections_do_not_land_on_a_picked_port() -> None:
    """Open many outgoing loopback connections; none gets a picked port as its local end."""
    picked = {free_port() for _ in range(100)}
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(512)
        clients = []
        try:
            for _ in range(300):
                client = socket.create_connection(server.getsockname())
                clients.append(client)
            assert not picked & {c.getsockname()[1] for c in clients}
        finally:
            for client in clients:
                client.close()
