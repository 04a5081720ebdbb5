"""An operator's socket: the on-chain text that tells dispersers and retrievers where its node is.

Two forms are read:

- ``host:dispersalPort;retrievalPort``, EigenDA's v1 form: StoreChunks goes to the first port,
  retrieval and the /eigen node API to the second, so an operator can open the first to the
  disperser alone and the second to everyone;
- ``host:port``, the older form of this node: everything on one port.

A node whose two ports are the same registers the short form. ``host`` is a name, an IPv4
address or a bracketed IPv6 address (``[2001:db8::1]:32004;32005``). The text is what another
operator wrote on chain, so a malformed one raises :class:`SocketError`, which callers turn into
a failure for that operator alone.

Where sockets are *read* from the chain (a socket registry or events) is
:mod:`operator_node.chain.sockets`; this leaf module only gives their text a meaning, and imports
nothing, so the configuration can check ``[api] socket`` without loading the protocol.
"""

from __future__ import annotations

from dataclasses import dataclass

from operator_node.errors import OperatorNodeError

_FORMS = '"host:port" or "host:dispersal_port;retrieval_port"'


class SocketError(OperatorNodeError, ValueError):
    """A socket's text is not one of the forms above; the message quotes it and says why."""


@dataclass(frozen=True)
class OperatorSocket:
    """Where one node listens: StoreChunks on ``dispersal_port``, the rest on
    ``retrieval_port`` (the same port in the one-port form)."""

    host: str
    dispersal_port: int
    retrieval_port: int

    def __str__(self) -> str:
        """The on-chain text: the one-port form when both ports are the same."""
        if self.dispersal_port == self.retrieval_port:
            return f"{self.host}:{self.retrieval_port}"
        return f"{self.host}:{self.dispersal_port};{self.retrieval_port}"

    def dispersal_url(self, path: str) -> str:
        """``http://host:dispersal_port`` followed by ``path``."""
        return f"http://{self.host}:{self.dispersal_port}{path}"

    def retrieval_url(self, path: str) -> str:
        """``http://host:retrieval_port`` followed by ``path`` (retrieval and /eigen)."""
        return f"http://{self.host}:{self.retrieval_port}{path}"


def parse_socket(text: str) -> OperatorSocket:
    """The socket ``text`` describes.

    Raises :class:`SocketError` for anything else: no host, no port, a port outside 1-65535,
    more than two ports (EigenDA's v2 form, which this node does not speak), an IPv6 address
    without brackets, or whitespace.
    """
    if not text:
        raise SocketError("the socket is empty; expected " + _FORMS)
    if text != text.strip() or any(c.isspace() for c in text):
        raise SocketError(f"socket {text!r} contains whitespace; expected {_FORMS}")
    address, _, rest = text.partition(";")
    host, colon, first = address.rpartition(":")
    if not colon:
        raise SocketError(f"socket {text!r} has no port; expected {_FORMS}")
    _check_host(text, host)
    ports = [first, *rest.split(";")] if ";" in text else [first]
    if len(ports) > 2:
        raise SocketError(
            f"socket {text!r} names {len(ports)} ports; this node reads one or two ({_FORMS})"
        )
    numbers = [_port(text, port) for port in ports]
    return OperatorSocket(host, numbers[0], numbers[-1])


def _check_host(text: str, host: str) -> None:
    if not host:
        raise SocketError(f"socket {text!r} has no host; expected {_FORMS}")
    bracketed = host.startswith("[") and host.endswith("]") and len(host) > 2
    if ":" in host and not bracketed:
        raise SocketError(
            f"socket {text!r}: write an IPv6 host in brackets, e.g. [2001:db8::1]:32004;32005"
        )
    if ("[" in host or "]" in host) and not bracketed:
        raise SocketError(f"socket {text!r} has unbalanced brackets around its host")


def _port(text: str, port: str) -> int:
    if not port.isdigit() or not port.isascii():
        raise SocketError(f"socket {text!r}: port {port!r} is not a number; expected {_FORMS}")
    number = int(port)
    if not 1 <= number <= 65535:
        raise SocketError(f"socket {text!r}: port {number} is outside 1-65535")
    return number
