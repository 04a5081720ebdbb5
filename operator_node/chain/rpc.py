"""The JSON-RPC connection: an HTTP provider that counts, times and retries every request.

Every request is reported to ``Metrics.observe_rpc`` (``eigen_rpc_request_*``, labelled with the
method and the node's ``web3_clientVersion``; a JSON-RPC batch counts as one request). Transport
failures (refused connection, timeout, HTTP error status) are retried a bounded number of times
with exponential backoff, then raised as :class:`RpcUnavailableError`. A reachability callback
lets the chain service mirror the RPC's state into the node's health without polling.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import ClientError, ClientTimeout
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.types import RPCEndpoint, RPCResponse

from operator_node.chain.errors import RpcUnavailableError
from operator_node.metrics import Metrics

_UNKNOWN_CLIENT = "unknown"
_R = TypeVar("_R")


@dataclass(frozen=True)
class RetryPolicy:
    """How transport failures are retried: ``retries`` more attempts, sleeping
    ``backoff * 2**attempt`` (capped at ``max_backoff``) seconds between them."""

    retries: int = 3
    backoff: float = 0.25
    max_backoff: float = 5.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        return float(min(self.max_backoff, self.backoff * 2**attempt))


DEFAULT_RETRY = RetryPolicy()


class InstrumentedProvider(AsyncHTTPProvider):
    """``AsyncHTTPProvider`` with metrics, bounded retries and a reachability callback."""

    def __init__(
        self,
        url: str,
        *,
        metrics: Metrics | None,
        timeout: float,
        retry: RetryPolicy = DEFAULT_RETRY,
        on_reachable: Callable[[bool], None] | None = None,
    ) -> None:
        # web3's own retry is off: ours also covers HTTP error statuses and reports to metrics.
        super().__init__(
            url,
            request_kwargs={"timeout": ClientTimeout(total=timeout)},
            exception_retry_configuration=None,
        )
        self._metrics = metrics
        self._retry = retry
        self._client_version: str | None = None
        self.on_reachable = on_reachable

    async def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        """Send one request, retrying transport failures; raises :class:`RpcUnavailableError`."""
        if self._client_version is None and method != "web3_clientVersion":
            self._client_version = await self._fetch_client_version()
        return await self._request_with_retries(method, params)

    async def make_batch_request(
        self, batch_requests: list[tuple[RPCEndpoint, Any]]
    ) -> list[RPCResponse] | RPCResponse:
        """Send a JSON-RPC batch in one HTTP request, retrying transport failures as one
        request; observed once, under its requests' method when they share one, else "batch".
        Raises :class:`RpcUnavailableError`."""
        if self._client_version is None:
            self._client_version = await self._fetch_client_version()
        methods = {method for method, _ in batch_requests}
        label = methods.pop() if len(methods) == 1 else "batch"
        return await self._with_retries(
            label, lambda: super(InstrumentedProvider, self).make_batch_request(batch_requests)
        )

    async def _fetch_client_version(self) -> str:
        response = await self._request_with_retries(RPCEndpoint("web3_clientVersion"), [])
        result = response.get("result")
        return str(result) if isinstance(result, str) and result else _UNKNOWN_CLIENT

    async def _request_with_retries(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        return await self._with_retries(
            method, lambda: super(InstrumentedProvider, self).make_request(method, params)
        )

    async def _with_retries(self, label: str, send: Callable[[], Awaitable[_R]]) -> _R:
        attempt = 0
        while True:
            start = time.perf_counter()
            try:
                response = await send()
            except (ClientError, TimeoutError, OSError) as exc:
                self._observe(label, time.perf_counter() - start)
                if attempt >= self._retry.retries:
                    self._set_reachable(False)
                    raise RpcUnavailableError(
                        f"RPC {self.endpoint_uri} unreachable after {attempt + 1} attempts "
                        f"({label}): {type(exc).__name__}: {exc}"
                    ) from exc
                await asyncio.sleep(self._retry.delay(attempt))
                attempt += 1
                continue
            self._observe(label, time.perf_counter() - start)
            self._set_reachable(True)
            return response

    def _observe(self, method: str, seconds: float) -> None:
        if self._metrics is not None:
            self._metrics.observe_rpc(method, seconds, self._client_version or _UNKNOWN_CLIENT)

    def _set_reachable(self, reachable: bool) -> None:
        if self.on_reachable is not None:
            self.on_reachable(reachable)


def connect(
    url: str,
    *,
    metrics: Metrics | None,
    timeout: float = 10.0,
    retry: RetryPolicy = DEFAULT_RETRY,
    on_reachable: Callable[[bool], None] | None = None,
) -> AsyncWeb3[InstrumentedProvider]:
    """An ``AsyncWeb3`` over :class:`InstrumentedProvider`. No request is sent until first use;
    close it with ``await w3.provider.disconnect()``."""
    provider = InstrumentedProvider(
        url, metrics=metrics, timeout=timeout, retry=retry, on_reachable=on_reachable
    )
    return AsyncWeb3(provider)
