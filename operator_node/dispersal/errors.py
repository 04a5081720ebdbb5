"""Refusals that belong to the node's dispersal handling rather than to the wire protocol."""

from __future__ import annotations

from operator_node.protocol.errors import ProtocolError


class DispersalError(ProtocolError):
    """Base of the node-side dispersal refusals."""

    code = "dispersal_error"


class ChainUnavailable(DispersalError):
    """The node cannot read the operator state it needs (no chain configured, or RPC down)."""

    code = "chain_unavailable"


class StaleReferenceBlock(DispersalError):
    """The batch's reference block is in the future or older than the node accepts."""

    code = "bad_reference_block"
