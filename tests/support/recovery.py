"""Clients and a publisher that record what a recovery scenario delivers (reliability plan
§7.4: R-4, R-5, R-9): every subscribe reply and publication in order, every acked publish."""

from __future__ import annotations

import asyncio
import inspect
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from centrifuge import (
    Client,
    ClientEventHandler,
    ConnectedContext,
    PublicationContext,
    SubscribedContext,
    SubscriptionEventHandler,
)

from support.server import ServerProcess
from support.timing import scaled

# ("sub", recovered, was_recovering, epoch, offset) | ("pub", n, offset)
Event = tuple[Any, ...]


class Recorder(ClientEventHandler, SubscriptionEventHandler):  # type: ignore[misc]
    """Logs what one client is told, in order."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.log: list[Event] = []
        self.client_ids: list[str] = []
        self.subscribed = asyncio.Event()

    async def on_connected(self, ctx: ConnectedContext) -> None:
        self.client_ids.append(ctx.client)

    async def on_subscribed(self, ctx: SubscribedContext) -> None:
        pos = ctx.stream_position
        epoch, offset = (pos.epoch, pos.offset) if pos is not None else ("", -1)
        self.log.append(("sub", ctx.recovered, ctx.was_recovering, epoch, offset))
        self.subscribed.set()

    async def on_publication(self, ctx: PublicationContext) -> None:
        self.log.append(("pub", ctx.pub.data["n"], ctx.pub.offset))

    def subs(self) -> list[Event]:
        return [e for e in self.log if e[0] == "sub"]

    def delivered(self) -> list[int]:
        return [e[1] for e in self.log if e[0] == "pub"]

    def offsets(self) -> list[int]:
        return [e[2] for e in self.log if e[0] == "pub"]


@dataclass
class Peer:
    client: Client
    sub: Any
    rec: Recorder


@dataclass
class Publisher:
    """Publishes ``{"n": n}`` at ``rate`` per second to ``channel`` through one node's API,
    retrying each ``n`` with the same ``idempotency_key`` until it gets a result (HR-12), or
    gives up after a bounded time."""

    node: ServerProcess
    channel: str
    rate: float
    acked: dict[int, tuple[int, str]] = field(default_factory=dict)
    failures: int = 0
    given_up: list[int] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        timeout = aiohttp.ClientTimeout(total=scaled(2))
        async with aiohttp.ClientSession(timeout=timeout) as http:
            n = 0
            next_at = loop.time()
            while not stop.is_set():
                n += 1
                await self._publish(http, n)
                next_at = max(next_at + 1 / self.rate, loop.time() - 1 / self.rate)
                await asyncio.sleep(max(0.0, next_at - loop.time()))

    async def _publish(self, http: aiohttp.ClientSession, n: int) -> None:
        loop = asyncio.get_running_loop()
        body = {"channel": self.channel, "data": {"n": n}, "idempotency_key": f"pub-{n}"}
        deadline = loop.time() + scaled(20)
        while loop.time() < deadline:
            try:
                async with http.post(f"{self.node.http_url}/api/publish", json=body) as resp:
                    reply = json.loads(await resp.read())
            except (aiohttp.ClientError, TimeoutError, ValueError):
                reply = {}
            result = reply.get("result") if isinstance(reply, dict) else None
            if isinstance(result, dict) and "offset" in result:
                self.acked[n] = (int(result["offset"]), str(result.get("epoch", "")))
                return
            self.failures += 1
            await asyncio.sleep(0.1)
        self.given_up.append(n)


async def api(node: ServerProcess, method: str, body: dict[str, Any]) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=scaled(5))) as http,
        http.post(f"{node.http_url}/api/{method}", json=body) as resp,
    ):
        reply: dict[str, Any] = json.loads(await resp.read())
        return reply


async def wait_for(predicate: Any, timeout: float, what: str, *, strict: bool = True) -> None:
    """Poll ``predicate`` (a plain or an async callable) for ``scaled(timeout)``; on timeout
    raise, or return if not ``strict``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + scaled(timeout)
    while True:
        ok = predicate()
        if inspect.isawaitable(ok):
            ok = await ok
        if ok:
            return
        if loop.time() > deadline:
            if not strict:
                return
            raise AssertionError(f"timed out after {scaled(timeout):.0f}s waiting for {what}")
        await asyncio.sleep(0.1)
