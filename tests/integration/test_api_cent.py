"""The server HTTP API against a live server (spec §3: API-01..API-23, TV-15, TV-16).

Every OSS method is called with the official ``cent`` 5.x clients (sync ``Client`` through a
worker thread, async ``AsyncClient``), and its effect is checked on real centrifuge-python
connections. Raw-HTTP tests pin auth (API-04), 404/405/400 (API-01, API-05), the legacy
format (API-03), transport error mode (API-06), batch (API-23), b64data (API-08) and the
internal port (API-09) byte for byte.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from cent import (
    AsyncClient,
    BatchRequest,
    BroadcastRequest,
    CentApiResponseError,
    CentUnauthorizedError,
    ChannelsRequest,
    Client,
    DisconnectRequest,
    HistoryRemoveRequest,
    HistoryRequest,
    InfoRequest,
    PresenceRequest,
    PresenceStatsRequest,
    PublishRequest,
    RefreshRequest,
    SubscribeRequest,
    UnsubscribeRequest,
)
from cent.dto import Disconnect
from centrifuge import Client as WsClient
from centrifuge import (
    ClientEventHandler,
    ConnectedContext,
    ConnectingContext,
    DisconnectedContext,
    PublicationContext,
    ServerPublicationContext,
    ServerSubscribedContext,
    SubscriptionEventHandler,
    UnsubscribedContext,
)
from support.ports import free_port
from support.server import ServerFactory, ServerProcess
from support.timing import scaled
from support.tokens import connection_token

SECRET = "api-test-secret-0123456789abcdef0123"
KEY = "api-key-0123"
CONFIG: dict[str, Any] = {
    "http_api": {"key": KEY},
    "client": {"token": {"hmac_secret_key": SECRET}},
    "channel": {
        "without_namespace": {
            "allow_subscribe_for_client": True,
            "presence": True,
            "history_size": 10,
            "history_ttl": "300s",
        },
        "namespaces": [{"name": "srv", "presence": True}, {"name": "nohist"}],
    },
}


class Events(ClientEventHandler, SubscriptionEventHandler):  # type: ignore[misc]
    """Client and subscription events as ``(kind, fields)`` in arrival order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._cond = asyncio.Condition()

    async def _add(self, kind: str, **fields: Any) -> None:
        async with self._cond:
            self.events.append((kind, fields))
            self._cond.notify_all()

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for k, f in self.events if k == kind]

    async def wait(self, kind: str, count: int = 1) -> dict[str, Any]:
        async def reached() -> None:
            async with self._cond:
                await self._cond.wait_for(lambda: len(self.of(kind)) >= count)

        try:
            await asyncio.wait_for(reached(), scaled(10))
        except TimeoutError:
            pytest.fail(f"no {count} x {kind!r}; got {self.events}")
        return self.of(kind)[count - 1]

    async def on_connected(self, ctx: ConnectedContext) -> None:
        await self._add("connected", client=ctx.client)

    async def on_connecting(self, ctx: ConnectingContext) -> None:
        await self._add("connecting", code=ctx.code, reason=ctx.reason)

    async def on_disconnected(self, ctx: DisconnectedContext) -> None:
        await self._add("disconnected", code=ctx.code, reason=ctx.reason)

    async def on_subscribed(self, ctx: Any) -> None:
        if isinstance(ctx, ServerSubscribedContext):
            await self._add("server_subscribed", channel=ctx.channel, data=ctx.data)
        else:
            await self._add("subscribed", channel=ctx.channel)

    async def on_unsubscribed(self, ctx: Any) -> None:
        if isinstance(ctx, UnsubscribedContext):
            await self._add("unsubscribed", code=ctx.code, reason=ctx.reason)
        else:
            await self._add("server_unsubscribed", channel=ctx.channel)

    async def on_publication(self, ctx: Any) -> None:
        if isinstance(ctx, ServerPublicationContext):
            await self._add("server_publication", channel=ctx.channel, data=ctx.pub.data)
        else:
            assert isinstance(ctx, PublicationContext)
            await self._add("publication", data=ctx.pub.data, tags=ctx.pub.tags)


async def ws_client(server: ServerProcess, user: str) -> tuple[WsClient, Events, str]:
    events = Events()
    client = WsClient(
        server.ws_url(), events=events, token=connection_token(SECRET, user), timeout=scaled(5)
    )
    await client.connect()
    connected = await events.wait("connected")
    return client, events, connected["client"]


Call = Callable[[Any], Awaitable[Any]]


def make_caller(kind: str, server: ServerProcess) -> tuple[Call, Callable[[], Awaitable[None]]]:
    """``call(request) -> result`` through the sync client (in a thread) or the async one."""
    url = f"{server.http_url}/api"
    if kind == "sync":
        sync = Client(url, KEY, timeout=scaled(5))

        async def call_sync(request: Any) -> Any:
            method = getattr(sync, request.api_method)
            return await asyncio.to_thread(method, request)

        async def close_sync() -> None:
            sync._session.close()

        return call_sync, close_sync
    client = AsyncClient(url, KEY, timeout=scaled(5))

    async def call_async(request: Any) -> Any:
        return await getattr(client, request.api_method)(request)

    async def close_async() -> None:
        await client._session.close()

    return call_async, close_async


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_every_method_with_cent(kind: str, server_factory: ServerFactory) -> None:
    """API-10..API-23 through cent, with effects seen by real connections."""
    server = server_factory(CONFIG)
    call, close = make_caller(kind, server)
    ws, ev, client_id = await ws_client(server, "alice")
    try:
        sub = ws.new_subscription("room", events=ev)
        await sub.subscribe()
        await ev.wait("subscribed")

        # publish (API-10) reaches the subscriber; history on => offset/epoch.
        res = await call(PublishRequest(channel="room", data={"n": 1}, tags={"t": "1"}))
        assert res.offset == 1 and res.epoch
        pub = await ev.wait("publication")
        assert pub == {"data": {"n": 1}, "tags": {"t": "1"}}
        with pytest.raises(CentApiResponseError) as exc:
            await call(PublishRequest(channel="nope:x", data={}))
        assert (exc.value.code, exc.value.message) == (102, "unknown channel")

        # broadcast (API-11): responses in order.
        res = await call(BroadcastRequest(channels=["room", "nope:y"], data={"n": 2}))
        assert res.responses[0].result.offset == 2
        assert res.responses[1].error.code == 102
        assert (await ev.wait("publication", 2))["data"] == {"n": 2}

        # presence / presence_stats (API-16, API-17).
        res = await call(PresenceRequest(channel="room"))
        assert set(res.presence) == {client_id}
        assert (res.presence[client_id].client, res.presence[client_id].user) == (
            client_id,
            "alice",
        )
        res = await call(PresenceStatsRequest(channel="room"))
        assert (res.num_clients, res.num_users) == (1, 1)

        # history / history_remove (API-18, API-19).
        res = await call(HistoryRequest(channel="room", limit=-1))
        assert [p.data for p in res.publications] == [{"n": 1}, {"n": 2}]
        assert [p.offset for p in res.publications] == [1, 2] and res.offset == 2
        await call(HistoryRemoveRequest(channel="room"))
        res = await call(HistoryRequest(channel="room", limit=-1))
        assert res.publications == [] and res.offset == 2
        with pytest.raises(CentApiResponseError) as exc:
            await call(HistoryRequest(channel="nohist:x"))
        assert exc.value.code == 108

        # subscribe (API-12): the connection gets a server-side subscription.
        await call(SubscribeRequest(user="alice", channel="srv:news", data={"hello": 1}))
        assert await ev.wait("server_subscribed") == {"channel": "srv:news", "data": {"hello": 1}}
        await call(PublishRequest(channel="srv:news", data={"s": 1}))
        assert await ev.wait("server_publication") == {"channel": "srv:news", "data": {"s": 1}}

        # channels / info (API-20, API-21).
        res = await call(ChannelsRequest(pattern="*"))
        assert {ch: info.num_clients for ch, info in res.channels.items()} == {
            "room": 1,
            "srv:news": 1,
        }
        res = await call(ChannelsRequest(pattern="srv:*"))
        assert list(res.channels) == ["srv:news"]
        res = await call(InfoRequest())
        (node,) = res.nodes
        assert (node.num_clients, node.num_users, node.num_channels, node.num_subs) == (1, 1, 2, 2)
        assert node.uid and node.name and node.version

        # batch (API-23).
        res = await call(
            BatchRequest(
                requests=[
                    PublishRequest(channel="room", data={"b": 1}),
                    PresenceStatsRequest(channel="room"),
                ]
            )
        )
        assert res.replies[0].offset == 3
        assert res.replies[1].num_clients == 1
        assert (await ev.wait("publication", 3))["data"] == {"b": 1}

        # unsubscribe (API-13): code 2000 on the client-side subscription.
        await call(UnsubscribeRequest(user="alice", channel="room"))
        assert await ev.wait("unsubscribed") == {"code": 2000, "reason": "server unsubscribe"}

        # refresh (API-15): a future expiry is accepted, the connection stays.
        await call(RefreshRequest(user="alice", expire_at=int(time.time()) + 600))
        res = await call(PresenceStatsRequest(channel="srv:news"))
        assert res.num_clients == 1

        # disconnect (API-14): custom code and reason reach the client.
        await call(DisconnectRequest(user="alice", disconnect=Disconnect(code=4500, reason="bye")))
        assert await ev.wait("disconnected") == {"code": 4500, "reason": "bye"}
    finally:
        await ws.disconnect()
        await close()


async def test_disconnect_default_and_refresh_expired_with_cent(
    server_factory: ServerFactory,
) -> None:
    """API-14 default 3503 (terminal); API-15 ``expired`` closes with 3005 (the SDK
    reconnects: a ``connecting`` event with the code)."""
    server = server_factory(CONFIG)
    call, close = make_caller("async", server)
    a, ev_a, _ = await ws_client(server, "bob")
    b, ev_b, _ = await ws_client(server, "carol")
    try:
        await call(DisconnectRequest(user="bob"))
        assert await ev_a.wait("disconnected") == {"code": 3503, "reason": "force disconnect"}
        await call(RefreshRequest(user="carol", expired=True))
        assert await ev_b.wait("connecting", 2) == {"code": 3005, "reason": "connection expired"}
    finally:
        await a.disconnect()
        await b.disconnect()
        await close()


async def test_wrong_key_with_cent_is_unauthorized(server_factory: ServerFactory) -> None:
    server = server_factory(CONFIG)
    client = AsyncClient(f"{server.http_url}/api", "wrong", timeout=scaled(5))
    try:
        with pytest.raises(CentUnauthorizedError):
            await client.info(InfoRequest())
    finally:
        await client._session.close()


# -- raw HTTP -------------------------------------------------------------------------------------


async def post(
    url: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, str, bytes]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(url, data=body, headers=headers or {}) as r,
    ):
        return r.status, r.headers.get("Content-Type", ""), await r.read()


KEYED = {"X-API-Key": KEY}


@pytest.fixture
def server(server_factory: ServerFactory) -> ServerProcess:
    return server_factory(CONFIG)


async def test_publish_tv_15(server: ServerProcess) -> None:
    url = f"{server.http_url}/api/publish"
    status, ctype, body = await post(
        url, b'{"channel":"nohist:chat","data":{"text":"hello"}}', KEYED
    )
    assert (status, ctype, body) == (200, "application/json", b'{"result":{}}')
    status, _, body = await post(url, b'{"channel":"x:chat","data":{}}', KEYED)
    assert (status, json.loads(body)) == (
        200,
        {"error": {"code": 102, "message": "unknown channel"}},
    )
    status, _, body = await post(url, b"{}", {**KEYED, "X-Centrifugo-Error-Mode": "transport"})
    assert (status, json.loads(body)) == (400, {"code": 107, "message": "bad request"})


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": "wrong"},
        {"Authorization": "apikey wrong"},
        {"Authorization": f"bearer {KEY}"},
        {"X-API-Key": ""},
    ],
)
async def test_auth_rejections_are_401_empty_api_04(
    server: ServerProcess, headers: dict[str, str]
) -> None:
    status, _, body = await post(f"{server.http_url}/api/info", b"{}", headers)
    assert (status, body) == (401, b"")


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/info", {"X-API-Key": KEY}),
        ("/api/info", {"Authorization": f"apikey {KEY}"}),
        ("/api/info", {"Authorization": f"APIKEY {KEY}"}),
        (f"/api/info?api_key={KEY}", {}),
    ],
)
async def test_auth_accepted_ways_api_04(
    server: ServerProcess, path: str, headers: dict[str, str]
) -> None:
    status, _, body = await post(f"{server.http_url}{path}", b"{}", headers)
    assert status == 200 and "nodes" in json.loads(body)["result"]


async def test_x_api_key_wins_over_authorization_api_04(server: ServerProcess) -> None:
    headers = {"X-API-Key": "wrong", "Authorization": f"apikey {KEY}"}
    status, _, _ = await post(f"{server.http_url}/api/info", b"{}", headers)
    assert status == 401


async def test_empty_configured_key_always_401_unless_insecure_api_04(
    server_factory: ServerFactory,
) -> None:
    locked = server_factory({"http_api": {"key": ""}})
    status, _, body = await post(f"{locked.http_url}/api/info", b"{}", {"X-API-Key": ""})
    assert (status, body) == (401, b"")
    open_ = server_factory({"http_api": {"insecure": True}})
    status, _, body = await post(f"{open_.http_url}/api/info", b"{}")
    assert status == 200 and json.loads(body)["result"]["nodes"][0]["num_clients"] == 0


async def test_404_405_400_api_01_api_05(server: ServerProcess) -> None:
    status, _, _ = await post(f"{server.http_url}/api/connections", b"{}", KEYED)
    assert status == 404
    async with aiohttp.ClientSession() as s, s.get(f"{server.http_url}/api/publish") as r:
        assert r.status == 405
    status, _, body = await post(f"{server.http_url}/api/publish", b'{"channel":', KEYED)
    assert (status, body) == (400, b"Bad Request")


async def test_legacy_format_api_03_tv_16(server: ServerProcess) -> None:
    url = f"{server.http_url}/api"
    auth = {"Authorization": f"apikey {KEY}"}
    body = b'{"method":"publish","params":{"channel":"nohist:chat","data":{}}}'
    status, ctype, out = await post(url, body, auth)
    assert (status, ctype, out) == (200, "application/json", b'{"result":{}}')
    multi = (
        b'{"id":1,"method":"presence_stats","params":{"channel":"room"}}\n'
        b'{"id":2,"method":99,"params":{}}\n'
        b'{"id":3,"method":0,"params":{"channel":"nope:c","data":{}}}\n'
    )
    status, _, out = await post(url, multi, auth)
    assert status == 200
    assert [json.loads(line) for line in out.split(b"\n")] == [
        {"id": 1, "result": {"num_clients": 0, "num_users": 0}},
        {"id": 2, "error": {"code": 104, "message": "not found"}},
        {"id": 3, "error": {"code": 102, "message": "unknown channel"}},
    ]
    # a method name outside Centrifugo's MethodType enum does not decode: the request is 400
    unknown_name = b'{"id":1,"method":"nothing","params":{}}'
    assert (await post(url, unknown_name, auth))[::2] == (400, b"Bad Request")
    assert (await post(url, b"", auth))[:1] == (400,)
    assert (await post(url, b"not json", auth))[::2] == (400, b"Bad Request")
    assert (await post(url, body, {}))[::2] == (401, b"")


async def test_batch_tv_16(server: ServerProcess) -> None:
    body = (
        b'{"commands":[{"publish":{"channel":"nohist:a","data":{}}},'
        b'{"publish":{"channel":"x:b","data":{}}},null,{"nope":{}}]}'
    )
    status, _, out = await post(f"{server.http_url}/api/batch", body, KEYED)
    assert status == 200
    assert json.loads(out) == {
        "replies": [
            {"publish": {}},
            {"error": {"code": 102, "message": "unknown channel"}},
            {"error": {"code": 107, "message": "bad request"}},
            {"error": {"code": 104, "message": "not found"}},
        ]
    }


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/api/publish", b'{"channel":"x:1","data":{}}', 404, 102),
        ("/api/rpc", b'{"method":"m"}', 404, 104),
        ("/api/presence", b'{"channel":"nohist:1"}', 400, 108),
        ("/api/history", b'{"channel":"r","limit":1,"since":{"offset":1,"epoch":"zz"}}', 416, 112),
        ("/api/rpc", b"{}", 400, 107),
    ],
)
async def test_transport_error_mode_statuses_api_06(
    server: ServerProcess, path: str, body: bytes, status: int, code: int
) -> None:
    headers = {**KEYED, "X-Centrifugo-Error-Mode": "transport"}
    got_status, ctype, out = await post(f"{server.http_url}{path}", body, headers)
    assert (got_status, ctype) == (status, "application/json")
    assert json.loads(out)["code"] == code


async def test_transport_error_mode_from_config_not_for_batch_items_api_06(
    server_factory: ServerFactory,
) -> None:
    srv = server_factory({**CONFIG, "http_api": {"key": KEY, "error_mode": "transport"}})
    status, _, out = await post(f"{srv.http_url}/api/publish", b"{}", KEYED)
    assert (status, json.loads(out)) == (400, {"code": 107, "message": "bad request"})
    batch = b'{"commands":[{"publish":{}}]}'
    status, _, out = await post(f"{srv.http_url}/api/batch", batch, KEYED)
    assert (status, json.loads(out)) == (
        200,
        {"replies": [{"error": {"code": 107, "message": "bad request"}}]},
    )
    bcast = b'{"channels":["x:1"],"data":{}}'
    status, _, out = await post(f"{srv.http_url}/api/broadcast", bcast, KEYED)
    assert status == 200
    assert json.loads(out) == {
        "result": {"responses": [{"error": {"code": 102, "message": "unknown channel"}}]}
    }


async def test_b64data_delivered_as_binary_api_08(server: ServerProcess) -> None:
    raw = b'{"from":"b64"}'
    body = json.dumps(
        {"channel": "room", "data": {"x": 1}, "b64data": base64.b64encode(raw).decode()}
    )
    status, _, out = await post(f"{server.http_url}/api/publish", body.encode(), KEYED)
    assert status == 200 and json.loads(out)["result"]["offset"] == 1
    hist = json.dumps({"channel": "room", "limit": -1}).encode()
    _, _, out = await post(f"{server.http_url}/api/history", hist, KEYED)
    assert json.loads(out)["result"]["publications"][0]["data"] == {"from": "b64"}
    bad = b'{"channel":"room","b64data":"***"}'
    _, _, out = await post(f"{server.http_url}/api/publish", bad, KEYED)
    assert json.loads(out) == {"error": {"code": 107, "message": "bad request"}}


async def test_internal_port_serves_api_api_09(server_factory: ServerFactory) -> None:
    internal = free_port()
    srv = server_factory({**CONFIG, "http_server": {"internal_port": internal}})
    status, _, _ = await post(f"{srv.http_url}/api/info", b"{}", KEYED)
    assert status == 404
    url = f"http://{srv.host}:{internal}/api/info"
    status, _, out = await post(url, b"{}", KEYED)
    assert status == 200 and json.loads(out)["result"]["nodes"][0]["num_clients"] == 0

    ext = server_factory(
        {
            **CONFIG,
            "http_server": {"internal_port": free_port()},
            "http_api": {"key": KEY, "external": True},
        }
    )
    assert (await post(f"{ext.http_url}/api/info", b"{}", KEYED))[0] == 200


async def test_disabled_api_is_not_routed_api_09(server_factory: ServerFactory) -> None:
    srv = server_factory({**CONFIG, "http_api": {"key": KEY, "disabled": True}})
    assert (await post(f"{srv.http_url}/api/info", b"{}", KEYED))[0] == 404
    assert (await post(f"{srv.http_url}/api", b'{"method":"info"}', KEYED))[0] == 404
