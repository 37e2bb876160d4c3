"""Configuration keys that need a real Redis, Sentinel, NATS or proxy backend have their
documented effect (SV-02: the support table cites these; EN-03, EN-08, PX-03).

Each test sets a key to a value other than its default and asserts what the other side sees:
``CLIENT LIST`` on redis-server and redis-sentinel, deliveries through nats-server, the
disconnect a real WebSocket client gets.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from support.nats import NatsServer
from support.redis import RedisServer, sentinel_for
from support.server import ServerFactory, ServerProcess
from support.timing import scaled

from integration.test_proxy_events import FakeBackend, backend, open_ws

__all__ = ["backend"]  # the fixture, imported for this module's tests

SECRET = "config-honoured-secret"


def token(sub: str = "42", **claims: Any) -> str:
    return jwt.encode({"sub": sub, **claims}, SECRET, algorithm="HS256")


def api(server: ServerProcess, method: str, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /api/<method>`` on an ``http_api.insecure`` server; the decoded answer."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=scaled(10))
    try:
        conn.request("POST", f"/api/{method}", json.dumps(body))
        response = conn.getresponse()
        assert response.status == 200, response.status
        return json.loads(response.read())  # type: ignore[no-any-return]
    finally:
        conn.close()


def client_list(cli_output: str) -> list[dict[str, str]]:
    """``CLIENT LIST`` lines as dicts (``name=… user=… flags=… cmd=…``)."""
    out = []
    for line in cli_output.splitlines():
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        if fields:
            out.append(fields)
    return out


def connections_of_others(server: RedisServer, *cli_args: str) -> list[dict[str, str]]:
    """Clients of ``server`` other than the ``redis-cli`` asking and Sentinel's own links."""
    return [
        c
        for c in client_list(server.cli(*cli_args, "CLIENT", "LIST"))
        if c.get("cmd") != "client|list" and not c.get("name", "").startswith("sentinel-")
    ]


# -- Redis (EN-03) -----------------------------------------------------------------------------


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


async def test_redis_client_name(redis_server: RedisServer, server_factory: ServerFactory) -> None:
    """EN-03: ``engine.redis.client_name`` names every connection the node opens to Redis,
    the command pool and the PUB/SUB connection alike (``CLIENT SETNAME``)."""
    server = server_factory(
        {
            "engine": {
                "type": "redis",
                "redis": {
                    "address": [redis_server.address],
                    "client_name": "centripetal-node-a",
                    "prefix": f"t{uuid.uuid4().hex[:8]}",
                },
            },
            "http_api": {"insecure": True},
            "channel": {"without_namespace": {"history_size": 5, "history_ttl": "60s"}},
        }
    )
    answer = await asyncio.to_thread(api, server, "publish", {"channel": "c", "data": {"a": 1}})
    assert answer["result"]["offset"] == 1
    ours = connections_of_others(redis_server)
    assert len(ours) >= 2, ours
    assert {c["name"] for c in ours} == {"centripetal-node-a"}, ours
    assert any("P" in c["flags"] for c in ours), ours  # the PUB/SUB connection
    assert any("P" not in c["flags"] for c in ours), ours  # a command connection


# -- Redis Sentinel (EN-03) ----------------------------------------------------------------------

SENTINEL_ACL = (
    "user default off\n"  # nobody gets in without the credentials below
    "user centripetal-watch on >watch-secret allcommands allchannels\n"
)
SENTINEL_LOGIN = ("--user", "centripetal-watch", "--pass", "watch-secret", "--no-auth-warning")


@pytest.fixture
def guarded_sentinel() -> Iterator[tuple[RedisServer, RedisServer]]:
    """A master and a Sentinel monitoring it that requires an ACL user and password."""
    with RedisServer() as master:
        sentinel = sentinel_for(master, extra=SENTINEL_ACL, cli_args=SENTINEL_LOGIN)
        try:
            yield master, sentinel
        finally:
            sentinel.cleanup()


def sentinel_config(sentinel: RedisServer, password: str) -> dict[str, Any]:
    return {
        "engine": {
            "type": "redis",
            "redis": {
                "sentinel_address": [sentinel.address],
                "sentinel_master_name": "mymaster",
                "sentinel_user": "centripetal-watch",
                "sentinel_password": password,
                "sentinel_client_name": "centripetal-sentinel-link",
                "client_name": "centripetal-master-link",
                "prefix": f"t{uuid.uuid4().hex[:8]}",
            },
        },
        "http_api": {"insecure": True},
        "channel": {"without_namespace": {"history_size": 5, "history_ttl": "60s"}},
    }


async def test_sentinel_credentials_and_client_names(
    guarded_sentinel: tuple[RedisServer, RedisServer], server_factory: ServerFactory
) -> None:
    """EN-03: ``sentinel_user`` / ``sentinel_password`` authenticate to the Sentinel (which
    refuses anyone else) and ``sentinel_client_name`` names those connections; the master
    found through it gets ``client_name``."""
    master, sentinel = guarded_sentinel
    server = server_factory(sentinel_config(sentinel, "watch-secret"))
    answer = await asyncio.to_thread(api, server, "publish", {"channel": "c", "data": {"a": 1}})
    assert answer["result"]["offset"] == 1  # the master was found through the Sentinel
    links = connections_of_others(sentinel, *SENTINEL_LOGIN)
    assert links, "no connection to the Sentinel"
    assert {(c["name"], c["user"]) for c in links} == {
        ("centripetal-sentinel-link", "centripetal-watch")
    }, links
    on_master = connections_of_others(master)
    assert len(on_master) >= 2, on_master
    assert {c["name"] for c in on_master} == {"centripetal-master-link"}, on_master

    # the same configuration with a wrong password: the Sentinel refuses, nothing works
    refused = server_factory(sentinel_config(sentinel, "not-the-password"))
    answer = await asyncio.to_thread(api, refused, "publish", {"channel": "c", "data": {"a": 2}})
    assert answer["error"] == {"code": 100, "message": "internal server error"}, answer


# -- NATS (EN-08) ----------------------------------------------------------------------------------


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    with NatsServer() as server:
        yield server


def nats_config(url: str, prefix: str, *, wildcards: bool) -> dict[str, Any]:
    return {
        "broker": {
            "enabled": True,
            "type": "nats",
            "nats": {"url": url, "prefix": prefix, "allow_wildcards": wildcards},
        },
        "client": {"token": {"hmac_secret_key": SECRET}},
        "channel": {"without_namespace": {"allow_subscribe_for_client": True}},
        "http_api": {"insecure": True},
    }


async def test_nats_allow_wildcards(nats_server: NatsServer, server_factory: ServerFactory) -> None:
    """EN-08: with ``broker.nats.allow_wildcards`` a subscription to ``news.*`` receives what
    is published to ``news.a`` (from this node or another one); publishing to a wildcard
    channel stays a bad request (107); without the option subscribing to it is 107."""
    prefix = f"n{uuid.uuid4().hex[:8]}"
    node_a = server_factory(nats_config(nats_server.url, prefix, wildcards=True))
    node_b = server_factory(nats_config(nats_server.url, prefix, wildcards=False))

    ws = await open_ws(node_a)
    await ws.call(connect={"token": token()})
    assert await ws.call(subscribe={"channel": "news.*"}) == {"id": 2, "subscribe": {}}
    for node, n in ((node_b, 1), (node_a, 2)):  # another node, then this one
        answer = await asyncio.to_thread(
            api, node, "publish", {"channel": "news.a", "data": {"n": n}}
        )
        assert answer == {"result": {}}
        push = (await ws.push())["push"]
        assert push["channel"] == "news.*" and push["pub"]["data"] == {"n": n}, push
    answer = await asyncio.to_thread(api, node_a, "publish", {"channel": "news.*", "data": {}})
    assert answer["error"]["code"] == 107
    await ws.conn.close()

    plain = await open_ws(node_b)
    await plain.call(connect={"token": token()})
    reply = await plain.call(subscribe={"channel": "news.*"})
    assert reply["error"] == {"code": 107, "message": "bad request"}
    await plain.conn.close()


# -- proxies (PX-03) -------------------------------------------------------------------------------


async def test_proxy_status_to_code_transforms(
    backend: FakeBackend, server_factory: ServerFactory
) -> None:
    """PX-03: ``http.status_to_code_transforms`` turns a backend's HTTP status into the
    configured client error or disconnect; a status not listed stays internal error 100."""
    backend.answers["connect"] = ("status", 404)
    backend.answers["rpc"] = ("status", 403)
    backend.answers["rpc_other"] = ("status", 500)
    transforms = [
        {"status_code": 404, "to_disconnect": {"code": 4404, "reason": "no such user"}},
        {"status_code": 403, "to_error": {"code": 4403, "message": "forbidden", "temporary": True}},
    ]
    http_opts = {"status_to_code_transforms": transforms}
    server = server_factory(
        {
            "client": {
                "token": {"hmac_secret_key": SECRET},
                "proxy": {
                    "connect": {
                        "enabled": True,
                        "endpoint": f"{backend.url}/connect",
                        "http": http_opts,
                    }
                },
            },
            "rpc": {
                "proxy": {"endpoint": f"{backend.url}/rpc", "http": http_opts},
                "without_namespace": {"proxy_enabled": True},
                "namespaces": [{"name": "other", "proxy_enabled": True, "proxy_name": "other"}],
            },
            "proxies": [{"name": "other", "endpoint": f"{backend.url}/rpc_other"}],
        }
    )
    ws = await open_ws(server)
    await ws.conn.send(json.dumps({"id": 1, "connect": {}}))
    assert await ws.closed() == (4404, "no such user")

    ws = await open_ws(server)
    await ws.call(connect={"token": token()})  # a token: the connect proxy is not asked
    assert await ws.call(rpc={"method": "m"}) == {
        "id": 2,
        "error": {"code": 4403, "message": "forbidden", "temporary": True},
    }
    assert await ws.call(rpc={"method": "other:m"}) == {
        "id": 3,
        "error": {"code": 100, "message": "internal server error", "temporary": True},
    }
    await ws.conn.close()
    assert [r.path for r in backend.requests] == ["connect", "rpc", "rpc_other"]
