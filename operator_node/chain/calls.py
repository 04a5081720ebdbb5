"""Read-only contract calls that fail with an error naming the contract, the function and why.

web3 reports a revert as ``ContractLogicError('execution reverted', '0x')`` and a function that
returns nothing as ``BadFunctionCallOutput``, without saying which call it was. Every view call
the node and its client make goes through :func:`call_view`, so an operator reads, for instance,
``RegistryCoordinator.socketRegistry() at 0x… reverted: no reason given (this deployment may not
have the function)``. :func:`probe_view` asks whether an optional function answers at all.
"""

from __future__ import annotations

from typing import Any

from web3.contract.async_contract import AsyncContractFunction
from web3.exceptions import BadFunctionCallOutput, ContractLogicError

from operator_node.chain.errors import ContractRevertError
from operator_node.chain.txmanager import revert_reason

_NO_REASON = "no reason given (this deployment may not have the function)"


def describe_call(contract: str, fn: AsyncContractFunction) -> str:
    """``Contract.function() at 0x…``: how errors name a call."""
    return f"{contract}.{fn.fn_name}() at {fn.address}"


async def call_view(contract: str, fn: AsyncContractFunction) -> Any:
    """``fn.call()``; raises :class:`ContractRevertError` naming ``contract`` and the function
    when it reverts or returns nothing. Transport failures raise as the provider raises them
    (:class:`RpcUnavailableError`)."""
    try:
        return await fn.call()
    except ContractLogicError as exc:
        raise ContractRevertError(
            describe_call(contract, fn), revert_reason(exc) or _NO_REASON
        ) from exc
    except BadFunctionCallOutput as exc:
        raise ContractRevertError(describe_call(contract, fn), _NO_REASON) from exc


async def probe_view(fn: AsyncContractFunction) -> tuple[bool, Any]:
    """(True, result) if ``fn`` answers; (False, None) if it reverts or returns nothing, as a
    function the contract does not have does. Transport failures propagate."""
    try:
        return True, await fn.call()
    except (ContractLogicError, BadFunctionCallOutput):
        return False, None
