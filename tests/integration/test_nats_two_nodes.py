"""Centripetal nodes joined by NATS only (EN-07, EN-08, EN-10, MG-19): clients on different
nodes exchange publications, the server API of node B reaches clients on node A through the
control subject, a NATS restart is survived, and a v3 flat ``broker: "nats"`` config starts."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from support.nats import NatsServer
from support.server import ServerFactory, ServerProcess
from support.timing import scaled
from support.tokens import connection_token
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

SECRET = "nats-two-nodes-secret-0123456789abcdef"


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    with NatsServer() as server:
        yield server


def v6_config(nats: NatsServer) -> dict[str, Any]:
    return {
        "client": {"token": {"hmac_secret_key": SECRET}},
        "http_api": {"insecure": True},
        "broker": {"enabled": True, "type": "nats", "nats": {"url": nats.url, "prefix": "tn"}},
        "channel": {
            "without_namespace": {
                "allow_subscribe_for_client": True,
                "allow_publish_for_client": True,
            }
        },
    }


def v3_config(nats: NatsServer) -> dict[str, Any]:
    return {
        "token_hmac_secret_key": SECRET,
        "api_insecure": True,
        "publish": True,
        "broker": "nats",
        "nats_url": nats.url,
        "nats_prefix": "legacy",
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


async def client(server: ServerProcess, user: str, channel: str) -> ClientConnection:
    """A raw JSON-protocol client, connected and subscribed to ``channel``."""
    ws = await ws_connect(server.ws_url())
    await ws.send(json.dumps({"id": 1, "connect": {"token": connection_token(SECRET, user)}}))
    await ws.send(json.dumps({"id": 2, "subscribe": {"channel": channel}}))
    replies: dict[int, dict[str, Any]] = {}
    while len(replies) < 2:
        frame = await asyncio.wait_for(ws.recv(), scaled(5))
        for line in str(frame).split("\n"):
            msg = json.loads(line)
            if "id" in msg:
                replies[msg["id"]] = msg
    assert "error" not in replies[1] and "error" not in replies[2], replies
    return ws


async def next_pub(ws: ClientConnection, timeout: float = 5.0) -> Any:
    """Data of the next publication push (pings and other frames skipped)."""
    deadline = asyncio.get_running_loop().time() + scaled(timeout)
    while True:
        left = deadline - asyncio.get_running_loop().time()
        frame = await asyncio.wait_for(ws.recv(), max(left, 0.01))
        for line in str(frame).split("\n"):
            if not line or line == "{}":
                continue
            msg = json.loads(line)
            pub = msg.get("push", {}).get("pub")
            if pub is not None:
                return pub["data"]


async def test_clients_on_two_nodes_exchange_publications(
    server_factory: ServerFactory, nats_server: NatsServer
) -> None:
    a = server_factory(v6_config(nats_server))
    b = server_factory(v6_config(nats_server))
    on_a = await client(a, "alice", "room")
    on_b = await client(b, "bob", "room")
    try:
        await on_b.send(json.dumps({"id": 3, "publish": {"channel": "room", "data": {"n": 1}}}))
        assert await next_pub(on_a) == {"n": 1}
        assert await next_pub(on_b) == {"n": 1}  # the publisher's node delivers locally, once
        assert await call(a, "publish", {"channel": "room", "data": {"n": 2}}) == {"result": {}}
        assert await next_pub(on_b) == {"n": 2}
        assert await next_pub(on_a) == {"n": 2}
        with pytest.raises(TimeoutError):
            await next_pub(on_a, timeout=0.3)  # nothing twice
    finally:
        await on_b.close()
        await on_a.close()


async def test_api_disconnect_on_node_b_reaches_client_on_node_a(
    server_factory: ServerFactory, nats_server: NatsServer
) -> None:
    """EN-10: ``disconnect`` travels on ``<prefix>.control``."""
    a = server_factory(v6_config(nats_server))
    b = server_factory(v6_config(nats_server))
    on_a = await client(a, "alice", "room")
    await call(b, "disconnect", {"user": "alice", "disconnect": {"code": 4501, "reason": "x"}})
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(on_a.recv(), scaled(5))
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4501, "x")


async def test_nodes_keep_working_after_nats_restart(
    server_factory: ServerFactory, nats_server: NatsServer
) -> None:
    """EN-08, R-6: both nodes reconnect and resubscribe; messages flow again."""
    a = server_factory(v6_config(nats_server))
    b = server_factory(v6_config(nats_server))
    on_a = await client(a, "alice", "room")
    try:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, nats_server.restart)
        received = None
        for i in range(int(scaled(60))):
            reply = await call(b, "publish", {"channel": "room", "data": {"try": i}})
            try:
                received = await next_pub(on_a, timeout=0.25)
                break
            except TimeoutError:
                assert "result" in reply or reply["error"]["code"] == 100, reply
        assert received is not None and "try" in received
        assert a.running and b.running
    finally:
        await on_a.close()


async def test_v3_flat_config_with_broker_nats_starts(
    server_factory: ServerFactory, nats_server: NatsServer
) -> None:
    """MG-19, EN-08: v3 ``broker: "nats"`` + ``nats_url`` start nodes joined by NATS."""
    a = server_factory(v3_config(nats_server))
    b = server_factory(v3_config(nats_server))
    on_a = await client(a, "alice", "news")
    try:
        assert await call(b, "publish", {"channel": "news", "data": {"v": 3}}) == {"result": {}}
        assert await next_pub(on_a) == {"v": 3}
    finally:
        await on_a.close()
