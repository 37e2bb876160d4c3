"""A listening socket of the front protocol and what its connections share (spec SV-01).

``FrontContext`` holds the routes, the upgrade endpoints, the request budget and the one sweep
that enforces every connection's deadline (limits.py): deadlines are plain numbers on the
connections, checked a few times a second, never a timer per connection. They are set from
``now``, the loop's time at the last sweep, so a request costs no clock reading; a deadline is
late by at most one sweep interval (a quarter of the shortest timeout, at most 0.5 s).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from centripetal.eager import EagerRunner
from centripetal.front.protocol import FrontProtocol
from centripetal.limits import HTTPLimits

if TYPE_CHECKING:
    from centripetal.api.http import MethodHandler
    from centripetal.transports.handshake import UpgradeRequest

__all__ = ["FrontContext", "FrontServer", "Upgrader"]


class Upgrader(Protocol):
    """An endpoint that takes over a connection after its upgrade request."""

    def upgrade(
        self, transport: asyncio.Transport, request: UpgradeRequest, rest: bytes
    ) -> None: ...


class FrontContext:
    """What the connections of one listening socket share."""

    def __init__(
        self,
        routes: dict[str, MethodHandler],
        fallback: Callable[[], asyncio.Protocol],
        upgrades: Mapping[str, Upgrader],
        eager: EagerRunner,
        limits: HTTPLimits,
    ) -> None:
        self.routes = routes
        self.fallback = fallback
        self.upgrades = upgrades
        self.eager = eager
        self.limits = limits
        self.max_headers = limits.max_header_count or 1 << 62  # 0: no count limit
        self.body_digits = len(str(limits.max_body))  # shorter Content-Lengths fit the cap
        self.connections: set[FrontProtocol] = set()
        self.now = 0.0  # the loop's time at the last sweep: deadlines are as coarse as it
        self._interval = limits.sweep_interval()
        self._sweeper: asyncio.TimerHandle | None = None

    def track(self, conn: FrontProtocol) -> None:
        self.connections.add(conn)
        if self._sweeper is None:
            loop = asyncio.get_running_loop()
            self.now = loop.time()
            self._sweeper = loop.call_later(self._interval, self._sweep)

    def untrack(self, conn: FrontProtocol) -> None:
        self.connections.discard(conn)

    def _sweep(self) -> None:
        self._sweeper = None
        if not self.connections:
            return
        loop = asyncio.get_running_loop()
        now = self.now = loop.time()
        for conn in list(self.connections):
            deadline = conn.deadline
            if deadline and now >= deadline:
                conn.expire()
        self._sweeper = loop.call_later(self._interval, self._sweep)

    def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None


class FrontServer:
    """A listening socket whose connections start with ``FrontProtocol``."""

    def __init__(self, server: asyncio.Server, front: FrontContext) -> None:
        self._server = server
        self._front = front

    @classmethod
    async def start(
        cls,
        routes: dict[str, MethodHandler],
        fallback: Callable[[], asyncio.Protocol],
        host: str | None,
        port: int,
        upgrades: Mapping[str, Upgrader] | None = None,
        *,
        local_engine: bool = False,
        tls: ssl.SSLContext | None = None,
        limits: HTTPLimits | None = None,
        reuse_port: bool = False,
    ) -> FrontServer:
        """``local_engine``: API calls never need a task of their own (eager.py); ``tls``:
        serve TLS on this socket (SV-01); ``limits``: the request budget (limits.py);
        ``reuse_port``: share the port with the other workers (SO_REUSEPORT, workers/)."""
        loop = asyncio.get_running_loop()
        eager = EagerRunner(by_hand=local_engine)
        front = FrontContext(routes, fallback, dict(upgrades or {}), eager, limits or HTTPLimits())
        server = await loop.create_server(
            lambda: FrontProtocol(front),
            host,
            port,
            reuse_address=True,
            reuse_port=reuse_port,
            backlog=4096,
            ssl=tls,
        )
        return cls(server, front)

    async def close(self) -> None:
        """Stop accepting, then close the connections served here; those relayed to aiohttp
        are closed by aiohttp's own shutdown."""
        self._server.close()
        self._front.stop()
        for conn in list(self._front.connections):
            if not conn.relayed:
                conn.close()
        await self._server.wait_closed()
