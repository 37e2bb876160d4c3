"""Several nodes on one Redis behave as one server (EN-10, API-12..API-21):
the server API of node B reaches clients on node A, ``info`` lists every node, ``channels``
and presence see every node."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from support.redis import RedisServer
from support.server import ServerFactory, ServerProcess
from support.timing import scaled
from support.tokens import connection_token
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

SECRET = "multinode-secret-0123456789abcdef0123"


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def node_config(redis: RedisServer) -> dict[str, Any]:
    return {
        "client": {"token": {"hmac_secret_key": SECRET}},
        "http_api": {"insecure": True},
        "engine": {"type": "redis", "redis": {"address": [redis.url], "prefix": "mn"}},
        "channel": {
            "without_namespace": {
                "allow_subscribe_for_client": True,
                "presence": True,
                "allow_presence_for_subscriber": True,
            }
        },
    }


def api(server: ServerProcess, method: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(
        f"{server.http_url}/api/{method}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=scaled(5)) as resp:
        result: dict[str, Any] = json.loads(resp.read())
        return result


async def call(server: ServerProcess, method: str, body: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.get_running_loop().run_in_executor(None, api, server, method, body)


async def client(server: ServerProcess, user: str, channel: str) -> Any:
    ws = await ws_connect(server.ws_url())
    tok = connection_token(SECRET, user)
    await ws.send(json.dumps({"id": 1, "connect": {"token": tok}}))
    await ws.send(json.dumps({"id": 2, "subscribe": {"channel": channel}}))
    seen = 0
    while seen < 2:
        frame = await asyncio.wait_for(ws.recv(), scaled(5))
        seen += len([m for m in frame.split("\n") if '"id"' in m])
    return ws


async def test_api_on_one_node_reaches_clients_on_another(
    server_factory: ServerFactory, redis_server: RedisServer
) -> None:
    a = server_factory(node_config(redis_server))
    b = server_factory(node_config(redis_server))
    on_a = await client(a, "alice", "room")
    on_b = await client(b, "bob", "room")

    async def two_nodes() -> bool:
        """Both nodes listed with their client: a peer's counts are as old as its last node
        info (up to 3 s, EN-10), and a node may be listed before its client connected."""
        nodes = (await call(b, "info", {}))["result"]["nodes"]
        return sorted(n["num_clients"] for n in nodes) == [1, 1]

    for _ in range(int(scaled(40))):
        if await two_nodes():
            break
        await asyncio.sleep(0.25)
    info = (await call(b, "info", {}))["result"]["nodes"]
    assert sorted(n["num_clients"] for n in info) == [1, 1]

    channels = (await call(b, "channels", {}))["result"]["channels"]
    assert channels == {"room": {"num_clients": 2}}

    presence = (await call(a, "presence", {"channel": "room"}))["result"]["presence"]
    assert {p["user"] for p in presence.values()} == {"alice", "bob"}

    assert await call(b, "publish", {"channel": "room", "data": {"n": 1}}) == {"result": {}}
    frame = await asyncio.wait_for(on_a.recv(), scaled(5))
    assert json.loads(frame)["push"]["pub"]["data"] == {"n": 1}

    await call(b, "disconnect", {"user": "alice", "disconnect": {"code": 4501, "reason": "x"}})
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(on_a.recv(), scaled(5))
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4501, "x")
    await on_b.close()
