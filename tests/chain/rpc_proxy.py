"""A JSON-RPC proxy on loopback in front of a real node (anvil), for what a node cannot be made
to do on demand: count every call a client makes (each call of a batch), fail with an HTTP
status, or hang past the client's timeout. It answers on any path, so a URL can carry a made-up
API key the way providers' URLs do.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

from aiohttp import ClientSession, web

from operator_node.devnet.ports import free_port


class RpcProxy:
    """Forwards POSTed JSON-RPC bodies to ``upstream``; start with :meth:`start`."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.calls: Counter[str] = Counter()  # JSON-RPC calls by method
        self.requests = 0  # HTTP requests
        self.fail_status: int | None = None  # answer every request with this status
        self.hang = False  # answer nothing until the client gives up
        self.port = free_port()
        self._released = asyncio.Event()  # set at close: hanging requests end
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None

    def url(self, path: str = "") -> str:
        """The proxy's URL, with ``path`` (e.g. "/v2/<key>") appended."""
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def total_calls(self) -> int:
        """JSON-RPC calls forwarded or refused so far."""
        return sum(self.calls.values())

    async def start(self) -> RpcProxy:
        """Listen on 127.0.0.1:``port``."""
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self._session = ClientSession()
        return self

    async def close(self) -> None:
        """Stop listening and close the upstream session."""
        self._released.set()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> RpcProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        payload: Any = json.loads(body)
        for call in payload if isinstance(payload, list) else [payload]:
            self.calls[str(call.get("method"))] += 1
        self.requests += 1
        if self.hang:
            await self._released.wait()
        if self.fail_status is not None:
            return web.Response(status=self.fail_status, text="proxy told to fail")
        assert self._session is not None
        async with self._session.post(
            self.upstream, data=body, headers={"Content-Type": "application/json"}
        ) as upstream:
            return web.Response(
                status=upstream.status, body=await upstream.read(), content_type="application/json"
            )
