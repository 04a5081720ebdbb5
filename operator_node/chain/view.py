"""The dispersal pipeline's narrow view of the chain (``dispersal.ChainView``), over a connection.

Chain failures become :class:`ChainUnavailable`, which the API answers with a clear 503-class
error instead of a crash. Operator state is returned as (operator id, stake) pairs ordered by
operator id, as chunk assignment defines it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from web3.exceptions import Web3Exception

from operator_node.chain.client import ChainConnection
from operator_node.chain.errors import ChainError, FutureBlockError
from operator_node.dispersal.errors import ChainUnavailable, StaleReferenceBlock


class ConnectionChainView:
    """Implements ``dispersal.ChainView`` with a :class:`ChainConnection`."""

    def __init__(self, connection: ChainConnection) -> None:
        self._connection = connection

    async def get_operator_state(
        self, quorums: Sequence[int], block_number: int
    ) -> Mapping[int, list[tuple[bytes, int]]]:
        """Each quorum's (operator id, stake) pairs at ``block_number``, ordered by operator id."""
        try:
            reader = await self._connection.get_reader()
            state = await reader.get_operator_state(quorums, block_number)
        except FutureBlockError as exc:
            raise StaleReferenceBlock(str(exc)) from exc
        except (ChainError, Web3Exception) as exc:
            raise ChainUnavailable(f"cannot read operator state: {exc}") from exc
        return {
            q: sorted((op.operator_id, op.stake) for op in operators)
            for q, operators in state.items()
        }

    async def get_block_number(self) -> int:
        """The current block number."""
        try:
            reader = await self._connection.get_reader()
            return await reader.get_current_block()
        except (ChainError, Web3Exception) as exc:
            raise ChainUnavailable(f"cannot read the block number: {exc}") from exc

    async def is_disperser(self, address: str) -> bool:
        """Whether the ServiceManager allows ``address`` to disperse, answered from the set the
        reader keeps (no chain call per request). Raises :class:`ChainUnavailable` where the
        service manager has no allow-list, or while the set cannot be read."""
        try:
            reader = await self._connection.get_reader()
            if not reader.contracts.has_disperser_check:
                raise ChainUnavailable(
                    f"the service manager at {reader.contracts.service_manager.address} has no "
                    "isDisperser(address): this node cannot check dispersers on chain"
                )
            return await reader.dispersers.contains(address)
        except (ChainError, Web3Exception) as exc:
            raise ChainUnavailable(f"cannot read the disperser allow-list: {exc}") from exc
