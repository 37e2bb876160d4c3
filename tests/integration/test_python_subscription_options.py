"""Subscription options with centrifuge-python against a live server: cache recovery mode
(HR-08, CH-30), ``auto_cache_recover`` (CH-31) and the personal channel's single-connection
mode (SV-14, PR-06)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from centrifuge import (
    Client,
    ClientEventHandler,
    ConnectedContext,
    DisconnectedContext,
    PublicationContext,
    ServerPublicationContext,
    ServerSubscribedContext,
    SubscribedContext,
    SubscriptionEventHandler,
)
from support.server import ServerFactory
from support.timing import scaled
from support.tokens import connection_token

SECRET = "py-subopts-secret-0123456789abcdef"
CACHE_NS: dict[str, Any] = {
    "history_size": 10,
    "history_ttl": "300s",
    "force_recovery": True,
    "force_recovery_mode": "cache",
    "allow_subscribe_for_client": True,
    "allow_publish_for_client": True,
}
CONFIG: dict[str, Any] = {
    "client": {
        "token": {"hmac_secret_key": SECRET},
        "subscribe_to_user_personal_channel": {"enabled": True, "single_connection": True},
    },
    "channel": {
        "without_namespace": {"presence": True},
        "namespaces": [
            {"name": "cache", **CACHE_NS},
            {"name": "auto", **CACHE_NS, "auto_cache_recover": True},
        ],
    },
}


class Events(ClientEventHandler, SubscriptionEventHandler):  # type: ignore[misc]
    """Client and subscription events as ``(kind, fields)`` in arrival order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._changed = asyncio.Condition()

    async def _add(self, kind: str, **fields: Any) -> None:
        async with self._changed:
            self.events.append((kind, fields))
            self._changed.notify_all()

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [fields for k, fields in self.events if k == kind]

    async def wait(self, kind: str, count: int = 1, timeout: float = 10.0) -> dict[str, Any]:
        async def reached() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.of(kind)) >= count)

        try:
            await asyncio.wait_for(reached(), scaled(timeout))
        except TimeoutError:
            pytest.fail(f"no {count} x {kind!r} within {scaled(timeout):.1f}s; got {self.events}")
        return self.of(kind)[count - 1]

    async def on_connected(self, ctx: ConnectedContext) -> None:
        await self._add("connected", client=ctx.client)

    async def on_disconnected(self, ctx: DisconnectedContext) -> None:
        await self._add("disconnected", code=ctx.code, reason=ctx.reason)

    async def on_subscribed(self, ctx: Any) -> None:
        if isinstance(ctx, ServerSubscribedContext):
            await self._add("server_subscribed", channel=ctx.channel, recovered=ctx.recovered)
        else:
            assert isinstance(ctx, SubscribedContext)
            await self._add(
                "subscribed", was_recovering=ctx.was_recovering, recovered=ctx.recovered
            )

    async def on_publication(self, ctx: Any) -> None:
        if isinstance(ctx, ServerPublicationContext):
            await self._add("server_publication", channel=ctx.channel, data=ctx.pub.data)
        else:
            assert isinstance(ctx, PublicationContext)
            await self._add("publication", data=ctx.pub.data, offset=ctx.pub.offset)


async def connected(url: str, user: str, **claims: Any) -> tuple[Client, Events]:
    events = Events()
    client = Client(url, events=events, token=connection_token(SECRET, user, **claims))
    await client.connect()
    await events.wait("connected")
    return client, events


async def test_resubscribing_client_gets_only_the_latest_publication_hr08(
    server_factory: ServerFactory,
) -> None:
    """CH-30: after a reconnect the SDK recovers from its last offset; in cache mode the
    server answers with the newest publication only, not the three it missed."""
    server = server_factory(CONFIG)
    publisher, _ = await connected(server.ws_url(), "pub")
    client, ev = await connected(server.ws_url(), "reader")
    try:
        await client.new_subscription("cache:now", events=ev).subscribe()
        assert await ev.wait("subscribed") == {"was_recovering": False, "recovered": False}
        await publisher.publish("cache:now", {"n": 1})
        assert await ev.wait("publication") == {"data": {"n": 1}, "offset": 1}
        await client.disconnect()
        for n in (2, 3, 4):
            await publisher.publish("cache:now", {"n": n})
        await client.connect()
        assert await ev.wait("subscribed", 2) == {"was_recovering": True, "recovered": True}
        assert await ev.wait("publication", 2) == {"data": {"n": 4}, "offset": 4}
        await publisher.publish("cache:now", {"n": 5})
        assert await ev.wait("publication", 3) == {"data": {"n": 5}, "offset": 5}
        assert [p["offset"] for p in ev.of("publication")] == [1, 4, 5]
    finally:
        await client.disconnect()
        await publisher.disconnect()


async def test_fresh_subscriber_gets_the_latest_with_auto_cache_recover_ch31(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(CONFIG)
    publisher, _ = await connected(server.ws_url(), "pub")
    client, ev = await connected(server.ws_url(), "reader")
    try:
        for n in (1, 2, 3):
            await publisher.publish("auto:price", {"n": n})
            await publisher.publish("cache:price", {"n": n})
        await client.new_subscription("auto:price", events=ev).subscribe()
        assert await ev.wait("subscribed") == {"was_recovering": True, "recovered": True}
        assert await ev.wait("publication") == {"data": {"n": 3}, "offset": 3}
        await client.new_subscription("cache:price", events=ev).subscribe()
        await ev.wait("subscribed", 2)
        await asyncio.sleep(scaled(0.3))
        assert ev.of("publication") == [{"data": {"n": 3}, "offset": 3}]  # cache alone: nothing
    finally:
        await client.disconnect()
        await publisher.disconnect()


async def test_server_side_subscription_gets_the_latest_with_auto_cache_recover_ch31(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(CONFIG)
    publisher, _ = await connected(server.ws_url(), "pub")
    try:
        await publisher.publish("auto:board", {"score": 1})
        await publisher.publish("auto:board", {"score": 2})
        client, ev = await connected(server.ws_url(), "viewer", channels=["auto:board"])
        try:
            subscribed = [s for s in ev.of("server_subscribed") if s["channel"] == "auto:board"]
            assert subscribed == [{"channel": "auto:board", "recovered": True}]
            pub = await ev.wait("server_publication")
            assert pub == {"channel": "auto:board", "data": {"score": 2}}
        finally:
            await client.disconnect()
    finally:
        await publisher.disconnect()


async def test_second_connection_of_a_user_closes_the_first_3504_pr06(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(CONFIG)
    first, ev_first = await connected(server.ws_url(), "alice")
    second, ev_second = await connected(server.ws_url(), "alice")
    other, ev_other = await connected(server.ws_url(), "bob")
    try:
        assert await ev_first.wait("disconnected") == {"code": 3504, "reason": "connection limit"}
        await asyncio.sleep(scaled(0.3))
        assert ev_second.of("disconnected") == [] and ev_other.of("disconnected") == []
        assert len(ev_first.of("connected")) == 1  # terminal code: the SDK does not reconnect
    finally:
        for c in (first, second, other):
            await c.disconnect()
