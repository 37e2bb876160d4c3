"""Two centripetal nodes sharing one Redis (EN-03, EN-06): a centrifuge-python client on node A
receives what a client on node B publishes, with history offsets from the shared stream."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from centrifuge import (
    Client,
    ClientEventHandler,
    ConnectedContext,
    PublicationContext,
    SubscribedContext,
    SubscriptionEventHandler,
)
from support.redis import RedisServer
from support.server import ServerFactory
from support.timing import scaled


class Events(ClientEventHandler, SubscriptionEventHandler):  # type: ignore[misc]
    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.subscribed = asyncio.Event()
        self.publications: asyncio.Queue[tuple[Any, int]] = asyncio.Queue()

    async def on_connected(self, ctx: ConnectedContext) -> None:
        self.connected.set()

    async def on_subscribed(self, ctx: SubscribedContext) -> None:
        self.subscribed.set()

    async def on_publication(self, ctx: PublicationContext) -> None:
        await self.publications.put((ctx.pub.data, ctx.pub.offset))


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def node_config(redis: RedisServer) -> dict[str, Any]:
    return {
        "client": {"insecure": True},
        "engine": {"type": "redis", "redis": {"address": [redis.url], "prefix": "e2e"}},
        "channel": {
            "without_namespace": {
                "allow_subscribe_for_client": True,
                "allow_publish_for_client": True,
                "history_size": 10,
                "history_ttl": "300s",
                "force_recovery": True,
            }
        },
    }


async def subscribed_client(url: str, channel: str) -> tuple[Client, Any, Events]:
    events = Events()
    client = Client(url, events=events, timeout=scaled(5))
    sub = client.new_subscription(channel, events=events)
    await client.connect()
    await asyncio.wait_for(events.connected.wait(), scaled(10))
    await sub.subscribe()
    await asyncio.wait_for(events.subscribed.wait(), scaled(10))
    return client, sub, events


async def test_client_publish_on_node_b_reaches_client_on_node_a(
    server_factory: ServerFactory, redis_server: RedisServer
) -> None:
    node_a = server_factory(node_config(redis_server))
    node_b = server_factory(node_config(redis_server))
    client_a, _, events_a = await subscribed_client(node_a.ws_url(), "chat")
    client_b, sub_b, events_b = await subscribed_client(node_b.ws_url(), "chat")
    try:
        await sub_b.publish({"text": "from B"})
        await sub_b.publish({"text": "again"})
        got_a = [await asyncio.wait_for(events_a.publications.get(), scaled(10)) for _ in range(2)]
        assert got_a == [({"text": "from B"}, 1), ({"text": "again"}, 2)]
        got_b = [await asyncio.wait_for(events_b.publications.get(), scaled(10)) for _ in range(2)]
        assert got_b == got_a  # the publisher's node delivers too, exactly once each
        await asyncio.sleep(0.3)
        assert events_a.publications.empty() and events_b.publications.empty()
        stream = redis_server.cli("XLEN", "e2e.stream.chat").strip()
        assert stream == "2"
    finally:
        await client_a.disconnect()
        await client_b.disconnect()
