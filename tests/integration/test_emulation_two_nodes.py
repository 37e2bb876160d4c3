"""Emulation across nodes (TR-04, EN-10): two centripetal nodes share one Redis; a client
streams from node A while its ``/emulation`` requests go to node B, which routes them to A
through the broker's control channel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from support.node_js import Runner, check_ok, events_of
from support.redis import RedisServer
from support.server import ServerFactory, ServerProcess
from support.timing import scaled

from integration.test_fallback_transports import (  # noqa: F401 (the fixture is used by name)
    SECRET,
    fallback_runner,
    token,
)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def node_config(redis: RedisServer) -> dict[str, Any]:
    return {
        "client": {"token": {"hmac_secret_key": SECRET}},
        "http_api": {"key": "two-nodes"},
        "engine": {"type": "redis", "redis": {"address": [redis.url], "prefix": "emu"}},
        "http_stream": {"enabled": True},
        "sse": {"enabled": True},
        "channel": {
            "without_namespace": {
                "presence": True,
                "history_size": 10,
                "history_ttl": "300s",
                "allow_subscribe_for_client": True,
                "allow_publish_for_client": True,
                "allow_presence_for_subscriber": True,
                "allow_history_for_subscriber": True,
            }
        },
    }


async def api(server: ServerProcess, method: str, **params: Any) -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{server.http_url}/api/{method}", json=params, headers={"X-API-Key": "two-nodes"}
        ) as resp,
    ):
        assert resp.status == 200
        return await resp.json()


async def nodes_know_each_other(a: ServerProcess, b: ServerProcess) -> None:
    """Node info goes out every 3 s (EN-10): wait until each node lists two."""
    for _ in range(int(scaled(15) / 0.1)):
        counts = [len((await api(s, "info"))["result"]["nodes"]) for s in (a, b)]
        if counts == [2, 2]:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(a.describe("the nodes never saw each other"))


@pytest.fixture
def two_nodes(
    server_factory: ServerFactory, redis_server: RedisServer
) -> tuple[ServerProcess, ServerProcess]:
    a = server_factory(node_config(redis_server))
    b = server_factory(node_config(redis_server))
    asyncio.run(nodes_know_each_other(a, b))
    return a, b


async def test_raw_emulation_request_on_other_node(
    two_nodes: tuple[ServerProcess, ServerProcess],
) -> None:
    """TR-04: the POST to node B reaches the session on node A; the reply comes back over A's
    stream; node B answers 404 for a node it does not know."""
    node_a, node_b = two_nodes
    async with aiohttp.ClientSession() as http:
        resp = await http.post(
            f"{node_a.http_url}/connection/http_stream",
            data=json.dumps({"id": 1, "connect": {"token": token("roamer")}}),
        )
        connect = json.loads(await asyncio.wait_for(resp.content.readline(), scaled(5)))
        result = connect["connect"]
        a_info = (await api(node_a, "info"))["result"]["nodes"]
        assert result["node"] in {n["uid"] for n in a_info}
        data = json.dumps({"id": 2, "subscribe": {"channel": "roam"}})
        body = {"node": result["node"], "session": result["session"], "data": data}
        async with http.post(f"{node_b.http_url}/emulation", json=body) as e:
            assert e.status == 204
        reply = json.loads(await asyncio.wait_for(resp.content.readline(), scaled(5)))
        assert reply["id"] == 2 and "subscribe" in reply
        data = json.dumps({"id": 3, "publish": {"channel": "roam", "data": {"via": "b"}}})
        async with http.post(f"{node_b.http_url}/emulation", json={**body, "data": data}) as e:
            assert e.status == 204
        lines = [
            json.loads(await asyncio.wait_for(resp.content.readline(), scaled(5))) for _ in range(2)
        ]
        assert {"id": 3, "publish": {}} in lines
        (push,) = [x for x in lines if "push" in x]
        assert push["push"]["channel"] == "roam"
        assert push["push"]["pub"]["data"] == {"via": "b"}
        assert push["push"]["pub"]["info"]["user"] == "roamer"
        unknown = {**body, "node": "00000000-0000-0000-0000-000000000000"}
        async with http.post(f"{node_b.http_url}/emulation", json=unknown) as e:
            assert e.status == 404
        resp.close()


@pytest.mark.parametrize("transport", ["http_stream", "sse"])
def test_js_client_streams_from_a_and_sends_to_b(
    fallback_runner: Runner,  # noqa: F811
    two_nodes: tuple[ServerProcess, ServerProcess],
    transport: str,
) -> None:
    """centrifuge-js with ``emulationEndpoint`` on node B: subscribe, publish, presence and
    history all travel B -> Redis control channel -> A."""
    node_a, node_b = two_nodes
    ch = f"two_{transport}"
    report = fallback_runner(
        {
            "base": node_a.http_url,
            "emulationBase": node_b.http_url,
            "clients": {"a": {"token": token("ann"), "transports": [transport]}},
            "steps": [
                {"op": "connect", "client": "a"},
                {"op": "subscribe", "client": "a", "channel": ch},
                {"op": "publish", "client": "a", "channel": ch, "data": {"k": 1}},
                {"op": "wait", "client": "a", "event": "publication", "channel": ch},
                {"op": "presenceStats", "client": "a", "channel": ch},
                {"op": "history", "client": "a", "channel": ch, "limit": 5},
            ],
        }
    )
    check_ok(report, node_a)
    (connected,) = events_of(report, "a", "connected")
    assert connected["transport"] == transport
    (pub,) = events_of(report, "a", "publication", channel=ch)
    assert (pub["data"], pub["offset"], pub["info"]["user"]) == ({"k": 1}, 1, "ann")
    assert report["results"][4]["result"] == {"numClients": 1, "numUsers": 1}
    history = report["results"][5]["result"]["publications"]
    assert [(p["offset"], p["data"]) for p in history] == [(1, {"k": 1})]
