"""One chain session for a CLI command: the connection, the line saying what the deployment has,
and errors an operator can act on.

Every failure a chain command can meet ends as one line and exit 1 (``cli.main`` prints
:class:`~operator_node.errors.OperatorNodeError`): reverts name the contract and the function
(:mod:`operator_node.chain.calls`, the transaction manager), and whatever web3 raises that our
chain layer did not already translate becomes a :class:`ChainError` with its message, never a
traceback.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from eth_account.signers.local import LocalAccount
from web3.exceptions import Web3Exception

from operator_node.chain.client import ChainConnection
from operator_node.chain.contracts import AvsContracts
from operator_node.chain.errors import ChainError
from operator_node.config import Config

T = TypeVar("T")


def print_deployment(contracts: AvsContracts) -> None:
    """One line on stderr: what the deployment has and what will be used."""
    found = "; ".join(f"{key}: {value}" for key, value in contracts.describe().items())
    print(f"chain: {found}", file=sys.stderr)


def open_connection(config: Config, account: LocalAccount | None = None) -> ChainConnection:
    """A connection for ``[chain]`` that reports the deployment once it has found it."""
    return ChainConnection(
        config.chain, metrics=None, account=account, on_discovered=print_deployment
    )


def run_session(connection: ChainConnection, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` and close the connection; web3's own errors become :class:`ChainError`."""

    async def main() -> T:
        try:
            return await work()
        except Web3Exception as exc:
            raise ChainError(
                f"RPC {connection.config.rpc_url}: {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            await connection.close()

    return asyncio.run(main())
