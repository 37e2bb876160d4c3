"""Proxy events against a live server and a recording fake backend (spec §4, PX-03..PX-28).

The backend is an aiohttp server on 127.0.0.1 port 0 inside the test; it records every
request (path, JSON body, headers) and answers with what the test configured per path.
Clients are raw WebSocket connections so frames are asserted exactly.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from support.server import ServerFactory, ServerProcess
from support.timing import scaled
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

Answer = dict[str, Any] | Callable[[dict[str, Any]], Any]


@dataclass
class Recorded:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class FakeBackend:
    """Answers POST /<path> with ``answers[path]``: a JSON dict, ``("status", n)``,
    ``("sleep", s, dict)``, ``("raw", bytes)``, or a callable of the request body."""

    answers: dict[str, Any] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    ssl_context: ssl.SSLContext | None = None  # serve https:// (the TLS proxy tests, PX-27)
    _runner: web.AppRunner | None = None

    def of(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        raw = await request.read()
        body = json.loads(raw)
        self.requests.append(Recorded(path, body, dict(request.headers)))
        answer = self.answers.get(path, {"result": {}})
        if callable(answer):
            answer = answer(body)
        if isinstance(answer, tuple):
            if answer[0] == "status":
                return web.Response(status=answer[1], text="boom")
            if answer[0] == "raw":
                return web.Response(body=answer[1], content_type="application/json")
            if answer[0] == "sleep":
                await asyncio.sleep(answer[1])
                answer = answer[2]
        return web.json_response(answer)

    async def start(self) -> FakeBackend:
        app = web.Application()
        app.router.add_post("/{path}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        scheme = "https" if self.ssl_context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def backend() -> AsyncIterator[FakeBackend]:
    fake = await FakeBackend().start()
    yield fake
    await fake.stop()


def v6_config(url: str, **client_extra: Any) -> dict[str, Any]:
    """v6 keys: every proxy enabled, ``Cookie`` forwarded, named proxy ``chat``."""
    common = {"timeout": "1s", "http_headers": ["Cookie"]}
    return {
        "client": {
            "proxy": {"connect": {"enabled": True, "endpoint": f"{url}/connect", **common}},
            **client_extra,
        },
        "proxies": [{"name": "chat", "endpoint": f"{url}/named", **common}],
        "channel": {
            "proxy": {
                "subscribe": {"endpoint": f"{url}/subscribe", **common},
                "publish": {"endpoint": f"{url}/publish", **common},
            },
            "without_namespace": {"allow_subscribe_for_client": True},
            "namespaces": [
                {
                    "name": "rooms",
                    "presence": True,
                    "allow_presence_for_subscriber": True,
                    "subscribe_proxy_enabled": True,
                    "publish_proxy_enabled": True,
                },
                {"name": "named", "subscribe_proxy_enabled": True, "subscribe_proxy_name": "chat"},
            ],
        },
        "rpc": {
            "proxy": {"endpoint": f"{url}/rpc", **common},
            "without_namespace": {"proxy_enabled": True},
            "namespaces": [
                {"name": "ext", "proxy_enabled": True, "proxy_name": "chat"},
                {"name": "off"},
            ],
        },
    }


class WS:
    """A raw JSON-protocol client with exact frame access."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.next_id = 0
        self.pushes: list[dict[str, Any]] = []

    async def call(self, **command: Any) -> dict[str, Any]:
        self.next_id += 1
        await self.conn.send(json.dumps({"id": self.next_id, **command}))
        return await self.reply(self.next_id)

    async def reply(self, cmd_id: int) -> dict[str, Any]:
        while True:
            for line in (await asyncio.wait_for(self.conn.recv(), scaled(5))).splitlines():
                msg = json.loads(line)
                if msg.get("id") == cmd_id:
                    return msg  # type: ignore[no-any-return]
                if "push" in msg:
                    self.pushes.append(msg)

    async def push(self, timeout: float = 5.0) -> dict[str, Any]:
        if self.pushes:
            return self.pushes.pop(0)
        while True:
            frame = await asyncio.wait_for(self.conn.recv(), scaled(timeout))
            for line in frame.splitlines():
                msg = json.loads(line)
                if "push" in msg:
                    return msg  # type: ignore[no-any-return]

    async def closed(self, timeout: float = 5.0) -> tuple[int, str]:
        try:
            while True:
                await asyncio.wait_for(self.conn.recv(), scaled(timeout))
        except ConnectionClosed as exc:
            assert exc.rcvd is not None
            return exc.rcvd.code, exc.rcvd.reason
        raise AssertionError("unreachable")


async def open_ws(server: ServerProcess, **headers: str) -> WS:
    conn = await ws_connect(server.ws_url(), additional_headers=headers or None)
    return WS(conn)


COMMON = {"transport": "websocket", "protocol": "json", "encoding": "json"}


# -- connect (PX-10, PX-04, S-4, AU-33) ---------------------------------------------------------


async def test_px10_connect_request_exact_and_result_mapped(
    backend: FakeBackend, server_factory: ServerFactory
) -> None:
    backend.answers["connect"] = {
        "result": {"user": "56", "data": {"hello": "w"}, "channels": ["news"]}
    }
    server = server_factory(v6_config(backend.url))
    ws = await open_ws(server, Cookie="sessionid=abc", **{"X-User-Id": "1", "X-Other": "y"})
    rep = await ws.call(
        connect={
            "data": {"k": 1},
            "name": "py",
            "version": "1.0",
            "subs": {"news": {}},
            "headers": {"X-User-Id": "forged", "Cookie": "forged"},
        }
    )
    connect = rep["connect"]
    assert connect["data"] == {"hello": "w"}
    assert list(connect["subs"]) == ["news"]
    [req] = backend.of("connect")
    assert req.body == {
        "client": connect["client"],
        **COMMON,
        "data": {"k": 1},
        "name": "py",
        "version": "1.0",
        "channels": ["news"],
    }
    assert req.headers["Cookie"] == "sessionid=abc"
    assert req.headers["Content-Type"] == "application/json"
    lowered = {k.lower() for k in req.headers}
    assert "x-user-id" not in lowered and "x-other" not in lowered  # S-4: 0 leaks
    await ws.conn.close()


async def test_px10_connect_disconnect_passthrough_closes_4501(
    backend: FakeBackend, server_factory: ServerFactory
) -> None:
    backend.answers["connect"] = {"disconnect": {"code": 4501, "reason": "unauthorized"}}
    server = server_factory(v6_config(backend.url))
    ws = await open_ws(server)
    await ws.conn.send(json.dumps({"id": 1, "connect": {}}))
    assert await ws.closed() == (4501, "unauthorized")


async def test_px07_connect_custom_error_passthrough(
    backend: FakeBackend, server_factory: ServerFactory
) -> None:
    backend.answers["connect"] = {"error": {"code": 1000, "message": "custom", "temporary": True}}
    server = server_factory(v6_config(backend.url))
    ws = await open_ws(server)
    rep = await ws.call(connect={})
    assert rep == {"id": 1, "error": {"code": 1000, "message": "custom", "temporary": True}}
    await ws.conn.close()


async def test_p30_connect_without_result_is_3501_unless_anonymous_allowed(
    backend: FakeBackend, server_factory: ServerFactory
) -> None:
    backend.answers["connect"] = {}
    server = server_factory(v6_config(backend.url))
    ws = await open_ws(server)
    await ws.conn.send(json.dumps({"id": 1, "connect": {}}))
    assert (await ws.closed())[0] == 3501
    anon = server_factory(v6_config(backend.url, allow_anonymous_connect_without_token=True))
    ws2 = await open_ws(anon)
    rep = await ws2.call(connect={})
    assert "client" in rep["connect"]
    await ws2.conn.close()


async def test_p30_unknown_namespace_in_connect_result_is_102(
    backend: FakeBackend, server_factory: ServerFactory
) -> None:
    backend.answers["connect"] = {"result": {"user": "1", "channels": ["nope:x"]}}
    server = server_factory(v6_config(backend.url))
    ws = await open_ws(server)
    rep = await ws.call(connect={})
    assert rep["error"]["code"] == 102
    await ws.conn.close()


async def test_px06_binary_encoding_connect(
    backend: FakeBackend, server_factory: ServerFactory
) -> None:
    cfg = v6_config(backend.url)
    cfg["client"]["proxy"]["connect"]["binary_encoding"] = True
    backend.answers["connect"] = {
        "result": {"user": "7", "b64data": base64.b64encode(b'{"x":1}').decode()}
    }
    server = server_factory(cfg)
    ws = await open_ws(server)
    rep = await ws.call(connect={"data": {"k": 1}})
    assert rep["connect"]["data"] == {"x": 1}
    [req] = backend.of("connect")
    assert req.body["encoding"] == "binary"
    assert json.loads(base64.b64decode(req.body["b64data"])) == {"k": 1}
    assert "data" not in req.body
    await ws.conn.close()


# -- subscribe / publish / rpc (PX-12, PX-13, PX-15, PX-28) -------------------------------------


async def _connected(server: ServerProcess, backend: FakeBackend, user: str = "56") -> WS:
    backend.answers.setdefault("connect", {"result": {"user": user}})
    ws = await open_ws(server, Cookie="sid=1", **{"X-User-Id": "evil"})
    rep = await ws.call(connect={})
    assert "connect" in rep, rep
    return ws


async def test_px12_px13_subscribe_info_and_publish_rewrite(
    backend: FakeBackend, server_factory: ServerFactory
) -> None:
    backend.answers["subscribe"] = {"result": {"info": {"role": "admin"}, "data": {"welcome": 1}}}
    backend.answers["publish"] = {"result": {"data": {"text": "rewritten"}}}
    server = server_factory(v6_config(backend.url))
    ws = await _connected(server, backend)
    sub = await ws.call(subscribe={"channel": "rooms:lobby", "data": {"want": 1}})
    assert sub["subscribe"]["data"] == {"welcome": 1}
    [sreq] = backend.of("subscribe")
    client_id = sreq.body["client"]
    assert sreq.body == {
        "client": client_id,
        **COMMON,
        "user": "56",
        "channel": "rooms:lobby",
        "data": {"want": 1},
    }
    assert sreq.headers["Cookie"] == "sid=1"
    assert "x-user-id" not in {k.lower() for k in sreq.headers}
    presence = await ws.call(presence={"channel": "rooms:lobby"})
    assert presence["presence"]["presence"][client_id]["chan_info"] == {"role": "admin"}
    pub = await ws.call(publish={"channel": "rooms:lobby", "data": {"text": "hi"}})
    assert pub == {"id": 4, "publish": {}}
    [preq] = backend.of("publish")
    assert preq.body == {
        "client": client_id,
        **COMMON,
        "user": "56",
        "channel": "rooms:lobby",
        "data": {"text": "hi"},
    }
    push = await ws.push()
    assert push["push"]["channel"] == "rooms:lobby"
    assert push["push"]["pub"]["data"] == {"text": "rewritten"}
    assert push["push"]["pub"]["info"]["chan_info"] == {"role": "admin"}
    await ws.conn.close()


async def test_px07_subscribe_and_publish_error_passthrough_nothing_published(
    backend: FakeBackend, server_factory: ServerFactory
) -> None:
    server = server_factory(v6_config(backend.url))
    ws = await _connected(server, backend)
    assert "subscribe" in await ws.call(subscribe={"channel": "rooms:a"})
    backend.answers["subscribe"] = {"error": {"code": 403, "message": "permission denied"}}
    backend.answers["publish"] = {"error": {"code": 403, "message": "permission denied"}}
    rep = await ws.call(subscribe={"channel": "rooms:b"})
    assert rep == {"id": 3, "error": {"code": 403, "message": "permission denied"}}
    rep = await ws.call(publish={"channel": "rooms:a", "data": {"x": 1}})
    assert rep == {"id": 4, "error": {"code": 403, "message": "permission denied"}}
    with pytest.raises(TimeoutError):
        await ws.push(timeout=0.5)
    await ws.conn.close()


async def test_px28_named_proxy_serves_its_namespace(
    backend: FakeBackend, server_factory: ServerFactory
) -> None:
    server = server_factory(v6_config(backend.url))
    ws = await _connected(server, backend)
    assert "subscribe" in await ws.call(subscribe={"channel": "named:x"})
    assert [r.body["channel"] for r in backend.of("named")] == ["named:x"]
    assert backend.of("subscribe") == []
    await ws.conn.close()


async def test_px15_p39_rpc_proxy_and_namespaces(
    backend: FakeBackend, server_factory: ServerFactory
) -> None:
    backend.answers["rpc"] = {"result": {"data": {"answer": "2019"}}}
    backend.answers["named"] = {"result": {"data": {"from": "chat"}}}
    server = server_factory(v6_config(backend.url))
    ws = await _connected(server, backend)
    rep = await ws.call(rpc={"method": "getCurrentPrice", "data": {"params": {"object_id": 12}}})
    assert rep == {"id": 2, "rpc": {"data": {"answer": "2019"}}}
    [req] = backend.of("rpc")
    assert req.body == {
        "client": req.body["client"],
        **COMMON,
        "user": "56",
        "method": "getCurrentPrice",
        "data": {"params": {"object_id": 12}},
    }
    assert (await ws.call(rpc={"method": "ext:m"}))["rpc"] == {"data": {"from": "chat"}}
    assert (await ws.call(rpc={"method": "nope:m"}))["error"]["code"] == 104
    assert (await ws.call(rpc={"method": "off:m"}))["error"]["code"] == 108
    await ws.conn.close()


# -- the tutorial's flat v3 config (PX-20..PX-23, PX-27, MG-10) ----------------------------------


async def test_mg10_tutorial_flat_v3_config(
    backend: FakeBackend, server_factory: ServerFactory
) -> None:
    backend.answers["connect"] = {"result": {"user": "tutorial-user"}}
    server = server_factory(
        {
            "token_hmac_secret_key": "tutorial-secret-0123456789abcdef",
            "proxy_connect_endpoint": f"{backend.url}/connect",
            "proxy_publish_endpoint": f"{backend.url}/publish",
            "proxy_subscribe_endpoint": f"{backend.url}/subscribe",
            "proxy_http_headers": ["Cookie"],
            "namespaces": [
                {"name": "rooms", "publish": True, "proxy_publish": True, "proxy_subscribe": True}
            ],
        }
    )
    ws = await open_ws(server, Cookie="sessionid=dj", **{"X-User-Id": "1"})
    assert "connect" in await ws.call(connect={})
    assert "subscribe" in await ws.call(subscribe={"channel": "rooms:1"})
    assert "publish" in await ws.call(publish={"channel": "rooms:1", "data": {"message": "hi"}})
    assert (await ws.push())["push"]["pub"]["data"] == {"message": "hi"}
    assert [r.path for r in backend.requests] == ["connect", "subscribe", "publish"]
    for r in backend.requests:
        assert r.headers["Cookie"] == "sessionid=dj"
        assert "x-user-id" not in {k.lower() for k in r.headers}
    await ws.conn.close()


# -- refresh (PX-11, P-94) -------------------------------------------------------------------------


def refresh_config(url: str) -> dict[str, Any]:
    cfg = v6_config(url, expired_close_delay="0s")
    cfg["client"]["proxy"]["refresh"] = {"enabled": True, "endpoint": f"{url}/refresh"}
    return cfg


async def test_px11_refresh_proxy_keeps_connection_then_expired_closes_3005(
    backend: FakeBackend, server_factory: ServerFactory
) -> None:
    backend.answers["connect"] = lambda _: {
        "result": {"user": "5", "expire_at": int(time.time()) + 2}
    }
    calls = 0

    def refresh(_: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            return {"result": {"expire_at": int(time.time()) + 2}}
        return {"result": {"expired": True}}

    backend.answers["refresh"] = refresh
    server = server_factory(refresh_config(backend.url))
    ws = await open_ws(server)
    rep = await ws.call(connect={})
    assert "expires" not in rep["connect"]  # server-side refresh: no client-side ttl (P-30)
    assert await ws.closed(timeout=8) == (3005, "connection expired")
    reqs = backend.of("refresh")
    assert len(reqs) == 2
    assert reqs[0].body == {"client": rep["connect"]["client"], **COMMON, "user": "5"}
