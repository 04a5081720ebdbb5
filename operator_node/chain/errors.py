"""Errors raised by the chain side. The CLI prints them as is; the messages say what to do."""

from __future__ import annotations

from operator_node.errors import OperatorNodeError


class ChainError(OperatorNodeError):
    """Base class of every chain error."""


class RpcUnavailableError(ChainError):
    """The JSON-RPC endpoint did not answer (connection refused, timeout, HTTP error) after the
    bounded retries."""


class ChainConfigError(ChainError):
    """The configured chain does not look like what the config says (wrong chain id, no contract
    at an address, an EigenLayer core form that does not match)."""


class ContractRevertError(ChainError):
    """A call or transaction reverted; ``reason`` is the decoded revert string ("" if none)."""

    def __init__(self, action: str, reason: str, *, tx_hash: str = "") -> None:
        where = f" (tx {tx_hash})" if tx_hash else ""
        super().__init__(f"{action} reverted{where}: {reason or 'no reason given'}")
        self.action = action
        self.reason = reason
        self.tx_hash = tx_hash


class TransactionRejectedError(ChainError):
    """The node refused a signed transaction (underpriced, insufficient funds, ...)."""


class TransactionTimeoutError(ChainError):
    """A sent transaction was not mined (or not confirmed) within the configured timeout."""


class FeeCapError(ChainError):
    """The network's base fee is above ``[chain] max_fee_gwei``; nothing was sent."""


class FutureBlockError(ChainError):
    """State was asked for at a block the chain has not reached yet."""


class NotRegisteredError(ChainError):
    """The operator is not registered where an action needs it to be."""


class RegistrationConflictError(ChainError):
    """The operator address is already registered with a different BLS key than the one loaded."""


class RegistrationRefusedError(ChainError):
    """Registration would fail or do what the operator did not ask for; nothing was sent for
    the step named."""
