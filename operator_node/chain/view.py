"""The dispersal pipeline's narrow view of the chain (``dispersal.ChainView``), over a connection.

Chain failures become :class:`ChainUnavailable`, which the API answers with a clear 503-class
error instead of a crash. Once a call fails because the RPC is unreachable, a circuit breaker
(``chain.breaker``) fails the next ones at once for a few seconds, so requests do not each hold a
slot through every retry of a dead RPC. Operator state is returned as (operator id, stake)
pairs ordered by operator id, as chunk assignment defines it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from web3.exceptions import Web3Exception

from operator_node.chain.breaker import CircuitBreaker
from operator_node.chain.client import ChainConnection
from operator_node.chain.errors import ChainError, FutureBlockError, RpcUnavailableError
from operator_node.chain.reader import OperatorStake
from operator_node.dispersal.errors import ChainUnavailable, StaleReferenceBlock

_T = TypeVar("_T")


class ConnectionChainView:
    """Implements ``dispersal.ChainView`` with a :class:`ChainConnection`."""

    def __init__(self, connection: ChainConnection, breaker: CircuitBreaker | None = None) -> None:
        self._connection = connection
        self._breaker = CircuitBreaker() if breaker is None else breaker

    async def _call(self, what: str, call: Callable[[], Awaitable[_T]]) -> _T:
        refusal = self._breaker.admit()
        if refusal is not None:
            raise ChainUnavailable(f"cannot read {what}: {refusal}")
        try:
            result = await call()
        except FutureBlockError as exc:
            self._breaker.succeeded()
            raise StaleReferenceBlock(str(exc)) from exc
        except RpcUnavailableError as exc:
            self._breaker.failed(str(exc))
            raise ChainUnavailable(f"cannot read {what}: {exc}") from exc
        except (ChainError, Web3Exception) as exc:
            self._breaker.succeeded()  # the chain answered (a revert, a bad reply): it is up
            raise ChainUnavailable(f"cannot read {what}: {exc}") from exc
        self._breaker.succeeded()
        return result

    async def get_operator_state(
        self, quorums: Sequence[int], block_number: int
    ) -> Mapping[int, list[tuple[bytes, int]]]:
        """Each quorum's (operator id, stake) pairs at ``block_number``, ordered by operator id."""

        async def read() -> Mapping[int, Sequence[OperatorStake]]:
            reader = await self._connection.get_reader()
            return await reader.get_operator_state(quorums, block_number)

        state = await self._call("operator state", read)
        return {
            q: sorted((op.operator_id, op.stake) for op in operators)
            for q, operators in state.items()
        }

    async def get_block_number(self) -> int:
        """The current block number."""

        async def read() -> int:
            reader = await self._connection.get_reader()
            return await reader.get_current_block()

        return await self._call("the block number", read)

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
