"""The JSON-RPC connection: an HTTP provider that counts, times, retries and fails over.

Every request is reported to ``Metrics.observe_rpc`` (``eigen_rpc_request_*``, labelled with the
method and the node's ``web3_clientVersion``; a JSON-RPC batch counts as one request), and every
failed attempt to ``Metrics.count_rpc_error`` by kind: timeout, connection, http (an error
status), rpc (an error answer other than a revert), other. Transport failures are retried a
bounded number of times with exponential backoff, then raised as :class:`RpcUnavailableError`. A
reachability callback lets the chain service mirror the RPC's state into the node's health
without polling.

Fallbacks (``[chain] rpc_fallback_urls``): when the endpoint in use fails for the transport, the
request goes at once to the next one, which the node keeps using (one warning says so); after
``primary_retry_after`` seconds the next request tries the primary again. A fallback is used only
once it has answered ``eth_chainId`` with the chain id expected (the configured one), so a
misconfigured fallback cannot feed the node another chain's state; one that does not is refused
with an error naming it.

The chain id does not change: the first answer to ``eth_chainId`` is kept and every later
``eth_chainId`` (web3's validation asks for it before each ``eth_call``) is answered from memory.

RPC URLs often carry an API key in their path or query: the provider only ever names an endpoint
as :func:`describe_endpoint` shows it (scheme, host and port).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from aiohttp import ClientConnectionError, ClientError, ClientResponseError, ClientTimeout
from eth_typing import URI
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.types import RPCEndpoint, RPCResponse

from operator_node.chain.errors import RpcUnavailableError
from operator_node.logging import get_logger
from operator_node.metrics import Metrics

_UNKNOWN_CLIENT = "unknown"
_CHAIN_ID = RPCEndpoint("eth_chainId")
_CLIENT_VERSION = RPCEndpoint("web3_clientVersion")
# What makes an endpoint unusable for now (and a fallback worth trying): no answer at all.
_TRANSPORT_ERRORS = (ClientError, TimeoutError, OSError)
DEFAULT_PRIMARY_RETRY_AFTER = 300.0


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


def describe_endpoint(url: str) -> str:
    """``url`` as logs and errors may show it: scheme, host and port, with ``/…`` standing for
    any path, query or credentials (where RPC providers put API keys)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return "<unparsable URL>"
    if not parts.scheme or not host:
        return "<unparsable URL>"
    shown = f"{parts.scheme}://{f'[{host}]' if ':' in host else host}"
    if port is not None:
        shown += f":{port}"
    hidden = parts.path.strip("/") or parts.query or parts.fragment or "@" in parts.netloc
    return shown + ("/…" if hidden else "")


def classify_failure(exc: BaseException) -> str:
    """The ``kind`` label of a failed attempt (see ``metrics.RPC_ERROR_KINDS``)."""
    if isinstance(exc, TimeoutError):  # aiohttp's timeouts are TimeoutErrors too
        return "timeout"
    if isinstance(exc, ClientResponseError):
        return "http"
    if isinstance(exc, ClientConnectionError | OSError):
        return "connection"
    return "other"


def describe_failure(exc: BaseException, url: str) -> str:
    """What went wrong, without the URL (aiohttp's HTTP errors quote it whole)."""
    if isinstance(exc, ClientResponseError):
        return f"HTTP {exc.status} {exc.message}".strip()
    text = str(exc).replace(url, describe_endpoint(url))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def is_error_answer(response: Any) -> bool:
    """Whether a JSON-RPC answer is an error other than a revert (a revert is the chain's
    answer to the call, not a failure of the RPC)."""
    if not isinstance(response, dict) or "error" not in response:
        return False
    error = response["error"]
    message = str(error.get("message", "")) if isinstance(error, dict) else str(error)
    return "revert" not in message.lower()


class WrongChainError(RpcUnavailableError):
    """An RPC endpoint serves another chain than the one configured."""


@dataclass
class _Endpoint:
    """One RPC URL and what the provider knows of it."""

    url: str
    shown: str
    chain_checked: bool  # answered eth_chainId with the expected id (the primary: not needed)
    refusal: str = ""  # why it must not be used ("" if it may)


class InstrumentedProvider(AsyncHTTPProvider):
    """``AsyncHTTPProvider`` with metrics, bounded retries, fallbacks, a cached chain id and a
    reachability callback."""

    def __init__(
        self,
        url: str,
        *,
        metrics: Metrics | None,
        timeout: float,
        retry: RetryPolicy = DEFAULT_RETRY,
        on_reachable: Callable[[bool], None] | None = None,
        fallback_urls: Sequence[str] = (),
        chain_id: int | None = None,
        primary_retry_after: float = DEFAULT_PRIMARY_RETRY_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``chain_id`` is what fallbacks must serve (without it, the primary's answer)."""
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
        # With fallbacks, the primary too must show it serves the chain they are checked against
        # (without, discovery checks it).
        primary_checked = not fallback_urls or chain_id is None
        self._endpoints = [_Endpoint(url, describe_endpoint(url), primary_checked)]
        self._endpoints += [_Endpoint(u, describe_endpoint(u), False) for u in fallback_urls]
        self._current = 0
        self._left_primary_at = 0.0
        self._primary_retry_after = primary_retry_after
        self._clock = clock
        self._expected_chain_id = chain_id
        self._chain_id_hex: str | None = None
        self._log = get_logger("chain")

    @property
    def current_endpoint(self) -> str:
        """The endpoint requests go to now, as logs show it."""
        return self._endpoints[self._current].shown

    async def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        """Send one request (``eth_chainId`` after the first: answered from memory), retrying
        transport failures and failing over; raises :class:`RpcUnavailableError`."""
        if self._client_version is None and method != _CLIENT_VERSION:
            self._client_version = await self._fetch_client_version()
        if method == _CHAIN_ID and self._chain_id_hex is not None:
            return cast(RPCResponse, {"jsonrpc": "2.0", "id": 0, "result": self._chain_id_hex})
        response = await self._send(method, self.encode_rpc_request(method, params))
        if method == _CHAIN_ID and isinstance(response.get("result"), str):
            self._chain_id_hex = response["result"]
        return cast(RPCResponse, response)

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
        response = await self._send(label, self.encode_batch_rpc_request(batch_requests))
        if not isinstance(response, list):  # the batch itself was refused
            return cast(RPCResponse, response)
        return cast(list[RPCResponse], sorted(response, key=lambda item: int(item.get("id", 0))))

    async def _fetch_client_version(self) -> str:
        response = await self._send(_CLIENT_VERSION, self.encode_rpc_request(_CLIENT_VERSION, []))
        result = response.get("result")
        return str(result) if isinstance(result, str) and result else _UNKNOWN_CLIENT

    async def _send(self, label: str, request_data: bytes) -> Any:
        """POST ``request_data`` to the endpoint in use; on a transport failure, retry (after a
        backoff when no other endpoint is left to try) or fail over, a bounded number of times."""
        attempts = self._retry.retries + len(self._endpoints)
        errors: list[str] = []
        tried: set[int] = set()
        for attempt in range(attempts):
            endpoint = self._choose_endpoint()
            tried.add(self._current)
            try:
                await self._check_chain(endpoint)
                response = await self._post_observed(label, endpoint, request_data)
            except _TRANSPORT_ERRORS as exc:
                errors.append(f"{endpoint.shown}: {describe_failure(exc, endpoint.url)}")
                self._fail_over(endpoint, errors[-1])
                if self._current in tried and attempt + 1 < attempts:
                    await asyncio.sleep(self._retry.delay(len(errors) - 1))
                continue
            except WrongChainError as exc:
                errors.append(str(exc))
                if not self._fail_over(endpoint, str(exc)):
                    break
                continue
            self._note_success(endpoint)
            return response
        self._set_reachable(False)
        cause = "; ".join(dict.fromkeys(errors))  # each endpoint's failure, once
        raise RpcUnavailableError(
            f"RPC unreachable after {len(errors)} attempts ({label}): {cause}"
        )

    async def _post_observed(self, label: str, endpoint: _Endpoint, request_data: bytes) -> Any:
        start = time.perf_counter()
        try:
            raw = await self._request_session_manager.async_make_post_request(
                URI(endpoint.url), request_data, **self.get_request_kwargs()
            )
            response = self.decode_rpc_response(raw)
        except BaseException as exc:
            self._observe(label, time.perf_counter() - start)
            if not isinstance(exc, asyncio.CancelledError):
                self._count_error(label, classify_failure(exc))
            raise
        self._observe(label, time.perf_counter() - start)
        for item in response if isinstance(response, list) else [response]:
            if is_error_answer(item):
                self._count_error(label, "rpc")
        return response

    async def _check_chain(self, endpoint: _Endpoint) -> None:
        """Before an endpoint's first use (with fallbacks): it must serve the expected chain."""
        if endpoint.chain_checked:
            return
        expected = self._expected_chain_id
        if expected is None and self._chain_id_hex is not None:
            expected = int(self._chain_id_hex, 16)
        if expected is None:
            raise WrongChainError(
                f"RPC endpoint {endpoint.shown} not used: the chain id it must serve is not "
                "known yet (set [chain] chain_id)"
            )
        request = self.encode_rpc_request(_CHAIN_ID, [])
        answer = await self._post_observed(_CHAIN_ID, endpoint, request)
        actual = answer.get("result") if isinstance(answer, dict) else None
        if not isinstance(actual, str) or int(actual, 16) != expected:
            endpoint.refusal = (
                f"RPC endpoint {endpoint.shown} serves chain id "
                f"{int(actual, 16) if isinstance(actual, str) else actual!r}, not {expected} as "
                "configured: fix [chain] rpc_url or rpc_fallback_urls"
            )
            self._log.error("rpc_endpoint_wrong_chain", error=endpoint.refusal)
            raise WrongChainError(endpoint.refusal)
        endpoint.chain_checked = True
        self._chain_id_hex = self._chain_id_hex or actual

    def _choose_endpoint(self) -> _Endpoint:
        """The endpoint in use; back to the primary once ``primary_retry_after`` has passed."""
        primary = self._endpoints[0]
        if (
            self._current != 0
            and not primary.refusal
            and self._clock() - self._left_primary_at >= self._primary_retry_after
        ):
            self._current = 0
        return self._endpoints[self._current]

    def _fail_over(self, failed: _Endpoint, error: str) -> bool:
        """Move to the next usable endpoint after ``failed``; whether there was another one."""
        index = self._endpoints.index(failed)
        for step in range(1, len(self._endpoints)):
            candidate = (index + step) % len(self._endpoints)
            if not self._endpoints[candidate].refusal:
                break
        else:
            return False
        if index == 0:
            if self._current == 0 and self._left_primary_at == 0.0:
                self._log.warning(
                    "rpc_fallback_used",
                    failed=failed.shown,
                    using=self._endpoints[candidate].shown,
                    error=error,
                    retry_primary_in=self._primary_retry_after,
                )
            self._left_primary_at = self._clock()
        elif candidate != 0:
            self._log.warning(
                "rpc_fallback_used",
                failed=failed.shown,
                using=self._endpoints[candidate].shown,
                error=error,
            )
        self._current = candidate
        return True

    def _note_success(self, endpoint: _Endpoint) -> None:
        self._set_reachable(True)
        if endpoint is self._endpoints[0] and self._left_primary_at != 0.0:
            self._left_primary_at = 0.0
            self._log.info("rpc_primary_restored", using=endpoint.shown)

    def _observe(self, method: str, seconds: float) -> None:
        if self._metrics is not None:
            self._metrics.observe_rpc(method, seconds, self._client_version or _UNKNOWN_CLIENT)

    def _count_error(self, method: str, kind: str) -> None:
        if self._metrics is not None:
            self._metrics.count_rpc_error(method, kind)

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
    fallback_urls: Sequence[str] = (),
    chain_id: int | None = None,
    primary_retry_after: float = DEFAULT_PRIMARY_RETRY_AFTER,
) -> AsyncWeb3[InstrumentedProvider]:
    """An ``AsyncWeb3`` over :class:`InstrumentedProvider`. No request is sent until first use;
    close it with ``await w3.provider.disconnect()``."""
    provider = InstrumentedProvider(
        url,
        metrics=metrics,
        timeout=timeout,
        retry=retry,
        on_reachable=on_reachable,
        fallback_urls=fallback_urls,
        chain_id=chain_id,
        primary_retry_after=primary_retry_after,
    )
    return AsyncWeb3(provider)
