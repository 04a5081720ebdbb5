"""Read-only contract calls that fail with an error naming the contract, the function and why.

web3 reports a revert as ``ContractLogicError('execution reverted', '0x')`` and a function that
returns nothing as ``BadFunctionCallOutput``, without saying which call it was. Every view call
the node and its client make goes through :func:`call_view`, so an operator reads, for instance,
``RegistryCoordinator.socketRegistry() at 0x… reverted: no reason given (this deployment may not
have the function)``. :func:`probe_view` asks whether an optional function answers at all.

:func:`call_views` makes many calls in JSON-RPC batches: a read per operator (its socket, its key)
costs a few milliseconds each through web3's call path, most of it in Python, and in a batch of
a hundred about as much as one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import (
    function_abi_to_4byte_selector,
    get_abi_input_types,
    get_abi_output_types,
)
from web3.contract.async_contract import AsyncContractFunction
from web3.exceptions import BadFunctionCallOutput, ContractLogicError
from web3.types import RPCEndpoint

from operator_node.chain.errors import ContractRevertError
from operator_node.chain.txmanager import revert_reason

_NO_REASON = "no reason given (this deployment may not have the function)"
_BATCH = 100  # calls per JSON-RPC batch; providers cap batches, commonly at 100 to 1000


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


async def call_views(contract: str, fns: Sequence[AsyncContractFunction]) -> list[Any]:
    """``fn.call()`` for each of ``fns`` (view functions of one contract, at the latest block),
    in JSON-RPC batches of up to 100; the results in order, decoded by each function's output
    types (one output unwrapped, several as a tuple; addresses as eth_abi gives them, lowercase).

    Raises :class:`ContractRevertError` naming the first call that reverted or returned nothing,
    and transport failures as the provider raises them. A provider that refuses batches is asked
    one call at a time.
    """
    return await call_batch([(contract, fn) for fn in fns])


async def call_batch(calls: Sequence[tuple[str, AsyncContractFunction]]) -> list[Any]:
    """:func:`call_views` for view functions of several contracts: ``calls`` are (contract
    name, function) pairs, answered in order, in JSON-RPC batches of up to 100 (one HTTP
    request for reads that would otherwise cost one each)."""
    if len(calls) == 1:  # a batch of one is a plain call
        return [await call_view(*calls[0])]
    results: list[Any] = []
    for start in range(0, len(calls), _BATCH):
        chunk = calls[start : start + _BATCH]
        requests = [
            (RPCEndpoint("eth_call"), [{"to": fn.address, "data": encode_call(fn)}, "latest"])
            for _, fn in chunk
        ]
        responses = await chunk[0][1].w3.provider.make_batch_request(requests)
        if not isinstance(responses, list):  # the batch itself was refused
            results += [await call_view(contract, fn) for contract, fn in chunk]
            continue
        results += [
            _decode(contract, fn, r) for (contract, fn), r in zip(chunk, responses, strict=True)
        ]
    return results


def encode_call(fn: AsyncContractFunction) -> str:
    """``fn``'s calldata (hex), encoded directly by its ABI entry: a tenth of a millisecond,
    against about one through web3's own transaction building."""
    selector = function_abi_to_4byte_selector(fn.abi)
    return "0x" + (selector + abi_encode(get_abi_input_types(fn.abi), fn.args)).hex()


def _decode(contract: str, fn: AsyncContractFunction, response: Any) -> Any:
    if "error" in response:
        message = str(response["error"].get("message", ""))
        for prefix in ("execution reverted: ", "execution reverted"):
            message = message.removeprefix(prefix)
        raise ContractRevertError(describe_call(contract, fn), message.strip() or _NO_REASON)
    types = get_abi_output_types(fn.abi)
    try:
        values = abi_decode(types, bytes.fromhex(str(response["result"])[2:]))
    except DecodingError as exc:  # "0x": no such function, or no contract at the address
        raise ContractRevertError(describe_call(contract, fn), _NO_REASON) from exc
    return values[0] if len(values) == 1 else tuple(values)
