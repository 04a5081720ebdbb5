"""One connection to the chain, discovered lazily so that a node can start while its RPC is down.

:class:`ChainConnection` creates the web3 client at once (no I/O) and discovers the contracts on
first use, retrying on later uses if that failed. The reader, the writer (when an account is
given), the chain service and the dispersal view all share it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import AsyncWeb3

from operator_node.chain.contracts import AvsContracts, discover
from operator_node.chain.errors import ChainConfigError, RpcUnavailableError
from operator_node.chain.reader import ChainReader
from operator_node.chain.rpc import DEFAULT_RETRY, RetryPolicy, connect
from operator_node.chain.txmanager import TxManager, TxPolicy
from operator_node.chain.writer import ChainWriter
from operator_node.config import ChainSection
from operator_node.metrics import Metrics


class ChainConnection:
    """The node's view of the chain configured in ``[chain]``."""

    def __init__(
        self,
        config: ChainSection,
        *,
        metrics: Metrics | None,
        account: LocalAccount | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        on_reachable: Callable[[bool], None] | None = None,
        on_discovered: Callable[[AvsContracts], None] | None = None,
    ) -> None:
        if not config.rpc_url:
            raise ChainConfigError("chain.rpc_url is empty: this node runs without a chain")
        self.config = config
        self.account = account
        self.w3: AsyncWeb3[Any] = connect(
            config.rpc_url,
            metrics=metrics,
            timeout=config.rpc_timeout,
            retry=retry,
            on_reachable=on_reachable,
            fallback_urls=config.rpc_fallback_urls,
            chain_id=config.chain_id,
            primary_retry_after=config.rpc_primary_retry_after,
        )
        self._reader: ChainReader | None = None
        self._writer: ChainWriter | None = None
        self._lock = asyncio.Lock()
        self._on_discovered = on_discovered
        # Each failed discovery, counted, and the last one's error: see get_reader.
        self._discovery_failures = 0
        self._discovery_error: RpcUnavailableError | None = None

    async def get_reader(self) -> ChainReader:
        """The reader, discovering the contracts on first success (and telling
        ``on_discovered`` what the deployment has).

        Raises :class:`RpcUnavailableError` or :class:`ChainConfigError` while that fails.
        """
        if self._reader is None:
            failures = self._discovery_failures
            async with self._lock:
                if self._reader is None:
                    if self._discovery_failures != failures and self._discovery_error:
                        # The RPC failed the discovery this caller waited for: answer with that
                        # failure rather than make it wait through every retry a second time.
                        raise self._discovery_error
                    try:
                        contracts = await discover(
                            self.w3,
                            self.config.registry_coordinator,
                            self.config.operator_state_retriever,
                            core=self.config.eigenlayer_core,
                            chain_id=self.config.chain_id,
                        )
                    except RpcUnavailableError as exc:
                        self._discovery_failures += 1
                        self._discovery_error = exc
                        raise
                    self._reader = ChainReader(
                        self.w3,
                        contracts,
                        events_from_block=self.config.events_from_block,
                        events_block_range=self.config.events_block_range,
                    )
                    if self._on_discovered is not None:
                        self._on_discovered(contracts)
        return self._reader

    async def get_writer(self) -> ChainWriter:
        """The writer for the connection's account; raises :class:`ChainConfigError` without one."""
        if self.account is None:
            raise ChainConfigError("no ECDSA key loaded: cannot send transactions")
        if self._writer is None:
            policy = TxPolicy(
                max_fee_gwei=self.config.max_fee_gwei,
                timeout=self.config.tx_timeout,
                confirmations=self.config.confirmations,
            )
            reader = await self.get_reader()
            self._writer = ChainWriter(reader, TxManager(self.w3, self.account, policy))
        return self._writer

    async def close(self) -> None:
        """Close the HTTP sessions."""
        await self.w3.provider.disconnect()
