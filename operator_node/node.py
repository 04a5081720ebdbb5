"""The node's lifecycle: listen, announce readiness, run background services, stop in order.

``Node`` owns no construction: ``cli`` builds every part and hands it in. ``run`` binds the API,
dispersal and metrics sockets (failing fast with a clear message), logs one ``node_ready`` line
saying what the node is and where it listens, tells systemd it is ready, runs each
background service as a task of one ``asyncio.TaskGroup`` and waits for the stop event. Stopping
stops accepting connections, lets in-flight requests finish within ``shutdown_grace`` seconds (the
``on_stopping`` hooks, e.g. StoreChunks, which keeps receiving bodies under way and answers 503
to what it cannot finish in time) and then closes resources (the store last, after every request
that could touch it has ended).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from operator_node.errors import StartupError
from operator_node.health import Health, ServiceStatus
from operator_node.logging import get_logger
from operator_node.systemd import SystemdNotifier

API_SERVICE_ID = "api"
LINGER = 2.0


class BackgroundService(Protocol):
    """A long-running unit: ``run`` returns or is cancelled when the node stops."""

    async def run(self) -> None:
        """Do the service's work until cancelled."""


@dataclass(frozen=True)
class Listener:
    """One aiohttp application and the address it listens on."""

    name: str
    app: web.Application
    host: str
    port: int


class Node:
    """Runs the node's servers and background services until asked to stop."""

    def __init__(
        self,
        *,
        listeners: Sequence[Listener],
        services: Sequence[BackgroundService],
        health: Health,
        notifier: SystemdNotifier,
        shutdown_grace: float,
        on_close: Sequence[Callable[[], Any]] = (),
        on_stopping: Sequence[Callable[[float], Awaitable[None]]] = (),
        summary: Mapping[str, object] | None = None,
    ) -> None:
        """``summary`` is what the ``node_ready`` line says of the node besides its listeners
        (operator id, socket, backends, version...), so an operator reads it in one line."""
        self._listeners = listeners
        self._services = services
        self._health = health
        self._notifier = notifier
        self._shutdown_grace = shutdown_grace
        self._on_close = on_close
        self._on_stopping = on_stopping
        self._summary = dict(summary or {})
        self._runners: list[web.AppRunner] = []
        self._sites: list[web.TCPSite] = []
        self._log = get_logger("node")

    async def run(self, stop: asyncio.Event, force: asyncio.Event | None = None) -> None:
        """Serve until ``stop`` is set; then drain in-flight requests unless ``force`` is set.

        Raises StartupError if a socket cannot be bound. Resources are closed in every case.
        """
        force = force or asyncio.Event()
        try:
            await self._start_listeners()
            self._health.set_status(API_SERVICE_ID, ServiceStatus.UP)
            self._notifier.notify("READY=1")
            self._log.info(
                "node_ready",
                **self._summary,
                listeners={x.name: f"{x.host}:{x.port}" for x in self._listeners},
            )
            await self._run_services(stop)
        finally:
            await self._shutdown(force)

    async def _start_listeners(self) -> None:
        for listener in self._listeners:
            # A refused upload's unread body is drained for at most LINGER seconds, then closed.
            runner = web.AppRunner(
                listener.app,
                access_log=None,
                shutdown_timeout=self._shutdown_grace,
                lingering_time=LINGER,
            )
            await runner.setup()
            self._runners.append(runner)
            site = web.TCPSite(runner, listener.host, listener.port)
            self._sites.append(site)
            try:
                await site.start()
            except OSError as exc:
                raise StartupError(
                    f"cannot listen on {listener.host}:{listener.port} for the {listener.name} "
                    f"({exc.strerror or exc}); is another process using the port?"
                ) from None

    async def _run_services(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(s.run(), name=type(s).__name__) for s in self._services]
            tasks.append(group.create_task(self._notifier.run_watchdog(), name="watchdog"))
            await stop.wait()
            self._log.info("node_stopping")
            for task in tasks:
                task.cancel()

    async def _shutdown(self, force: asyncio.Event) -> None:
        self._notifier.notify("STOPPING=1")
        if self._health.get_service(API_SERVICE_ID) is not None:
            self._health.set_status(API_SERVICE_ID, ServiceStatus.DOWN)
        try:
            await self._drain(force)
        finally:
            for close in self._on_close:
                result = close()
                if asyncio.iscoroutine(result):
                    await result
            self._log.info("node_stopped")

    async def _drain(self, force: asyncio.Event) -> None:
        """Stop accepting, then wait up to shutdown_grace for in-flight requests, or until
        ``force`` is set (a second signal), which abandons them."""

        async def cleanup() -> None:
            # Stop accepting first; requests under way keep their connections (whose bytes the
            # library would discard once its own shutdown begins) until the hooks are done.
            for site in self._sites:
                await site.stop()
            await asyncio.gather(*(hook(self._shutdown_grace) for hook in self._on_stopping))
            for runner in reversed(self._runners):
                await runner.cleanup()

        draining = asyncio.create_task(cleanup())
        forced = asyncio.create_task(force.wait())
        try:
            await asyncio.wait({draining, forced}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            forced.cancel()
            if not draining.done():
                self._log.warning("drain_abandoned")
                draining.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await draining
