"""Two centripetal nodes sharing one Redis (EN-03, EN-06): a centrifuge-python client on node A
receives what a client on node B publishes, with history offsets from the shared stream; the
personal channel's single-connection mode holds across the nodes (PR-06)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from centrifuge import (
    Client,
    ClientEventHandler,
    ConnectedContext,
    DisconnectedContext,
    PublicationContext,
    SubscribedContext,
    SubscriptionEventHandler,
)
from support.redis import RedisServer
from support.server import ServerFactory
from support.timing import scaled
from support.tokens import connection_token


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


SINGLE_SECRET = "two-nodes-single-connection-secret-0123"


class Lifecycle(ClientEventHandler):  # type: ignore[misc]
    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.disconnects: asyncio.Queue[tuple[int, str]] = asyncio.Queue()

    async def on_connected(self, ctx: ConnectedContext) -> None:
        self.connected.set()

    async def on_disconnected(self, ctx: DisconnectedContext) -> None:
        await self.disconnects.put((ctx.code, ctx.reason))


async def test_single_connection_across_nodes_disconnects_the_older_one_3504(
    server_factory: ServerFactory, redis_server: RedisServer
) -> None:
    """PR-06 / SV-14: presence of the personal channel lives in Redis, the disconnect goes
    over the control channel: a user's connection on node A closes with 3504 once the same
    user connects to node B."""
    config = node_config(redis_server)
    config["client"] = {
        "token": {"hmac_secret_key": SINGLE_SECRET},
        "subscribe_to_user_personal_channel": {"enabled": True, "single_connection": True},
    }
    config["channel"]["without_namespace"]["presence"] = True
    node_a = server_factory(config)
    node_b = server_factory(config)
    token = connection_token(SINGLE_SECRET, "alice")
    events_a, events_b = Lifecycle(), Lifecycle()
    client_a = Client(node_a.ws_url(), events=events_a, token=token, timeout=scaled(5))
    client_b = Client(node_b.ws_url(), events=events_b, token=token, timeout=scaled(5))
    try:
        await client_a.connect()
        await asyncio.wait_for(events_a.connected.wait(), scaled(10))
        # node A adds its presence right after the connect reply: B must find it (a connect
        # racing it is let through, in Centrifugo as here)
        deadline = asyncio.get_running_loop().time() + scaled(5)
        while not redis_server.cli("HKEYS", "e2e.presence.data.#alice").split():
            assert asyncio.get_running_loop().time() < deadline, "A's presence never appeared"
            await asyncio.sleep(0.02)
        await client_b.connect()
        await asyncio.wait_for(events_b.connected.wait(), scaled(10))
        gone = await asyncio.wait_for(events_a.disconnects.get(), scaled(10))
        assert gone == (3504, "connection limit")
        members = redis_server.cli("HKEYS", "e2e.presence.data.#alice").split()
        deadline = asyncio.get_running_loop().time() + scaled(5)
        while len(members) != 1 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)  # node A drops its presence entry as it closes
            members = redis_server.cli("HKEYS", "e2e.presence.data.#alice").split()
        assert len(members) == 1  # only node B's connection is left in the personal channel
        assert events_b.disconnects.empty()
    finally:
        await client_a.disconnect()
        await client_b.disconnect()
