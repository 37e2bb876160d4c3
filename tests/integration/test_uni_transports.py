"""Unidirectional transports against a live server, byte for byte (TR-06, TR-07, TR-08, TR-10,
TR-12, P-47, P-48, P-56, TV-12, TV-13).

Each stream is read raw: the connect push, bare publication pushes, ``{}`` pings (no pong is
ever sent, and the connection stays up), the ``disconnect`` push and the end of the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from support.hostile import RawWebSocket, disconnects, tcp_established
from support.hostile import api as hostile_api
from support.server import ServerFactory, ServerProcess
from support.timing import scaled
from support.tokens import connection_token

SECRET = "uni-secret-0123456789abcdef0123456789"
API_KEY = "uni-api-key"
ORIGIN = "http://app.example"

CONFIG: dict[str, Any] = {
    "client": {
        "token": {"hmac_secret_key": SECRET},
        "allowed_origins": [ORIGIN],
        "ping_interval": "1s",
        "pong_timeout": "500ms",
    },
    "http_api": {"key": API_KEY},
    "uni_websocket": {"enabled": True},
    "uni_sse": {"enabled": True, "max_request_body_size": 2000},
    "uni_http_stream": {"enabled": True, "max_request_body_size": 2000},
    "channel": {
        "without_namespace": {
            "history_size": 10,
            "history_ttl": "300s",
            "allow_subscribe_for_client": True,
        }
    },
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(CONFIG, workdir=tmp_path_factory.mktemp("uni-server"))
    proc.start()
    yield proc
    proc.cleanup()


def token(user: str, **claims: Any) -> str:
    """A token without ``exp`` unless given: the connect push then has no expires/ttl."""
    return connection_token(SECRET, user, ttl=None, **claims)


async def api(server: ServerProcess, method: str, **params: Any) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{server.http_url}/api/{method}",
            data=json.dumps(params, separators=(",", ":")),  # payloads are passed through raw
            headers={"X-API-Key": API_KEY},
        ) as resp,
    ):
        assert resp.status == 200
        return await resp.json()


def connect_push(push: dict[str, Any], subs: dict[str, Any]) -> bytes:
    """The exact bytes of the connect push the server sent (P-47 key order, TV-12)."""
    c = push["connect"]
    assert set(c) == {"client", "version", "subs", "ping", "session"}, c
    assert c["session"] != c["client"] and c["ping"] == 1
    head = '{"connect":{"client":"%s","version":%s,"subs":%s,"ping":1,"session":"%s"}}'
    return (
        head
        % (
            c["client"],
            json.dumps(c["version"]),
            json.dumps(subs, separators=(",", ":")),
            c["session"],
        )
    ).encode()


async def expect_stream(
    resp: aiohttp.ClientResponse, server: ServerProcess, user: str, channel: str, frame: bytes
) -> None:
    """TV-12/TV-13: connect push (server-side sub ``channel``), a publication, two ``{}``
    pings, the disconnect push and the end; every message framed as ``frame % message``."""
    pre, sep = frame.split(b"%s")
    first = await asyncio.wait_for(resp.content.readuntil(sep), scaled(5))
    assert first.startswith(pre) and first.endswith(sep)
    connect = json.loads(first[len(pre) : -len(sep)])
    assert connect["connect"]["subs"] == {channel: {}}
    assert first == frame % connect_push(connect, {channel: {}})
    published = await api(server, "publish", channel=channel, data={"n": 1})
    pub = await asyncio.wait_for(resp.content.readuntil(sep), scaled(5))
    while pub == frame % b"{}":  # a ping may come first on a slow machine
        pub = await asyncio.wait_for(resp.content.readuntil(sep), scaled(5))
    ch, epoch = channel.encode(), published["result"]["epoch"].encode()
    # the first publication of a stream names its epoch (P-42)
    expected = b'{"channel":"' + ch + b'","pub":{"data":{"n":1},"offset":1,"epoch":"'
    assert pub == frame % (expected + epoch + b'"}}')
    for _ in range(2):  # P-56: no pong is sent, yet the stream stays open past pong_timeout
        ping = await asyncio.wait_for(resp.content.readuntil(sep), scaled(5))
        assert ping == frame % b"{}"
    await api(server, "disconnect", user=user)
    rest = await asyncio.wait_for(resp.content.read(), scaled(5))
    while rest.startswith(frame % b"{}"):  # pings that crossed the disconnect call
        rest = rest[len(frame % b"{}") :]
    assert rest == frame % b'{"disconnect":{"code":3503,"reason":"force disconnect"}}'


async def test_uni_http_stream_byte_stream(server: ServerProcess) -> None:
    """TR-08/TV-12: POST JSON ConnectRequest (token + subs), newline-delimited bare pushes."""
    body = json.dumps({"token": token("uhs"), "subs": {"uhs_ch": {}}})
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{server.http_url}/connection/uni_http_stream",
            data=body,
            headers={"Origin": ORIGIN, "Content-Type": "application/json"},
        ) as resp,
    ):
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert resp.headers["X-Accel-Buffering"] == "no"
        await expect_stream(resp, server, "uhs", "uhs_ch", b"%s\n")


async def test_uni_sse_get_with_cf_connect(server: ServerProcess) -> None:
    """TR-07/TV-13: GET ``cf_connect`` JSON; ``\\r\\n`` then ``data: <push>\\n\\n``."""
    req = json.dumps({"token": token("usse"), "subs": {"usse_ch": {}}})
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.http_url}/connection/uni_sse", params={"cf_connect": req}) as resp,
    ):
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        assert await resp.content.readexactly(2) == b"\r\n"
        await expect_stream(resp, server, "usse", "usse_ch", b"data: %s\n\n")


async def test_uni_sse_post_and_data_field(server: ServerProcess) -> None:
    """TR-07: POST body ConnectRequest; token-less request without credentials -> 3501."""
    body = json.dumps({"token": token("upost"), "subs": {"upost_ch": {}}, "data": {"x": 1}})
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{server.http_url}/connection/uni_sse", data=body) as resp,
    ):
        assert resp.status == 200
        assert await resp.content.readexactly(2) == b"\r\n"
        await expect_stream(resp, server, "upost", "upost_ch", b"data: %s\n\n")
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.http_url}/connection/uni_sse") as resp,
    ):
        assert resp.status == 200
        raw = await asyncio.wait_for(resp.content.read(), scaled(5))
        assert raw == b'\r\ndata: {"disconnect":{"code":3501,"reason":"bad request"}}\n\n'


@pytest.mark.parametrize(
    ("claims", "code", "reason"),
    [
        ({"exp": 1}, 3005, "connection expired"),  # TR-10: 109 token expired -> 3005
        ({"bad_signature": True}, 3500, "invalid token"),
    ],
)
async def test_uni_connect_errors_are_disconnect_pushes(
    server: ServerProcess, claims: dict[str, Any], code: int, reason: str
) -> None:
    """TR-10/P-48: a refused connect is answered 200 with only a disconnect push."""
    if claims.pop("bad_signature", False):
        tok = connection_token("another-secret-0123456789abcdef012345", "x")
    else:
        tok = token("x", **claims)
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{server.http_url}/connection/uni_http_stream", json={"token": tok}) as resp,
    ):
        assert resp.status == 200
        raw = await asyncio.wait_for(resp.content.read(), scaled(5))
        assert raw == b'{"disconnect":{"code":%d,"reason":"%s"}}\n' % (code, reason.encode())


async def test_uni_status_codes(server: ServerProcess) -> None:
    """TR-07/TR-08: 405 wrong method, 400 malformed ConnectRequest, 413 over the body limit,
    OPTIONS preflight 204."""
    base = server.http_url
    expected = [
        ("GET", "/connection/uni_http_stream", b"", 405),
        ("POST", "/connection/uni_http_stream", b"{oops", 400),
        ("POST", "/connection/uni_http_stream", b"[1,2]", 400),
        ("POST", "/connection/uni_http_stream", b'{"token":"' + b"a" * 3000 + b'"}', 413),
        ("OPTIONS", "/connection/uni_http_stream", b"", 204),
        ("PUT", "/connection/uni_sse", b"", 405),
        ("POST", "/connection/uni_sse", b"{oops", 400),
        ("POST", "/connection/uni_sse", b'{"token":"' + b"a" * 3000 + b'"}', 413),
    ]
    got = []
    async with aiohttp.ClientSession() as http:
        for method, path, body, _ in expected:
            async with http.request(method, base + path, data=body) as r:
                got.append((method, path, body, r.status))
        async with http.get(base + "/connection/uni_sse", params={"cf_connect": "{oops"}) as r:
            assert r.status == 400
    assert got == expected


async def test_uni_websocket_first_message_and_cf_connect(server: ServerProcess) -> None:
    """TR-06: ConnectRequest as first message or ``cf_connect``; bare pushes in text frames,
    ``{}`` pings, disconnect push then a close frame with the same code (P-48)."""
    url = server.ws_url("/connection/uni_websocket")
    async with aiohttp.ClientSession() as http:
        for via_query in (False, True):
            user, ch = f"uws{int(via_query)}", f"uws_ch{int(via_query)}"
            req = json.dumps({"token": token(user), "subs": {ch: {}}})
            params = {"cf_connect": req} if via_query else None
            native_pings = 0

            async def receive(ws: aiohttp.ClientWebSocketResponse) -> aiohttp.WSMessage:
                nonlocal native_pings
                while True:
                    msg = await ws.receive(timeout=scaled(5))
                    if msg.type is not aiohttp.WSMsgType.PING:
                        return msg
                    native_pings += 1
                    await ws.pong(msg.data)

            async with http.ws_connect(
                url, params=params, headers={"Origin": ORIGIN}, autoping=False
            ) as ws:
                if not via_query:
                    await ws.send_str(req)
                first = await receive(ws)
                assert first.type is aiohttp.WSMsgType.TEXT
                connect = json.loads(first.data)
                assert first.data.encode() == connect_push(connect, {ch: {}})
                published = await api(server, "publish", channel=ch, data={"n": 1})
                epoch = published["result"]["epoch"]
                pub = await receive(ws)
                while pub.data == "{}":  # a ping may come first on a slow machine
                    pub = await receive(ws)
                assert pub.data == (
                    '{"channel":"'
                    + ch
                    + '","pub":{"data":{"n":1},"offset":1,"epoch":"'
                    + epoch
                    + '"}}'
                )
                await ws.send_str("ignored")  # later client messages are ignored
                before = native_pings
                ping = await receive(ws)
                assert ping.data == "{}"
                assert native_pings == before + 1  # P-56: a native ping with each {} ping
                await api(server, "disconnect", user=user)
                push = await receive(ws)
                while push.data == "{}":
                    push = await receive(ws)
                assert push.data == '{"disconnect":{"code":3503,"reason":"force disconnect"}}'
                close = await receive(ws)
                assert close.type is aiohttp.WSMsgType.CLOSE
                assert (close.data, close.extra) == (3503, "force disconnect")


async def test_uni_websocket_origin_refused(server: ServerProcess) -> None:
    """TR-12: a disallowed Origin gets 403 before the upgrade."""
    url = server.ws_url("/connection/uni_websocket")
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(url, headers={"Origin": "http://evil.example"})
    assert info.value.status == 403


async def test_client_gone_empties_registries(server: ServerProcess) -> None:
    """A unidirectional client that goes away leaves no client and no subscriber behind."""
    async with aiohttp.ClientSession() as http:
        resp = await http.post(
            f"{server.http_url}/connection/uni_http_stream",
            json={"token": token("ugone"), "subs": {"ugone_ch": {}}},
        )
        await asyncio.wait_for(resp.content.readline(), scaled(5))
        channels = await api(server, "channels", pattern="ugone_ch")
        assert channels["result"]["channels"] == {"ugone_ch": {"num_clients": 1}}
        resp.close()
        for _ in range(int(scaled(10) / 0.05)):
            channels = await api(server, "channels", pattern="ugone_ch")
            if not channels["result"].get("channels"):
                break
            await asyncio.sleep(0.05)
        assert not channels["result"].get("channels")


def test_uni_endpoints_disabled_by_default(server_factory: ServerFactory) -> None:
    """TR-06..TR-08: each endpoint exists only when its section is enabled."""
    srv = server_factory(
        {"client": {"token": {"hmac_secret_key": SECRET}}, "uni_sse": {"enabled": True}}
    )
    assert srv.http_get("/connection/uni_http_stream")[0] == 404
    assert srv.http_get("/connection/uni_websocket")[0] == 404
    status, _, _ = srv.http_get("/connection/uni_sse?cf_connect=%7Boops")
    assert status == 400


def test_connection_init_endpoint(server_factory: ServerFactory) -> None:
    """TR-11: ``/connection/init`` answers GET with ``{}`` and CORS for allowed origins; it
    exists only with ``init.enabled``."""
    config = {"client": {"allowed_origins": ["http://ok.example"], "insecure": True}}
    off = server_factory(config)
    assert off.http_get("/connection/init")[0] == 404
    srv = server_factory({**config, "init": {"enabled": True}})
    status, headers, body = srv.http_get(
        "/connection/init", headers={"Origin": "http://ok.example"}
    )
    assert (status, body) == (200, b"{}")
    assert headers["access-control-allow-origin"] == "http://ok.example"
    assert headers["access-control-allow-credentials"] == "true"
    status, headers, body = srv.http_get("/connection/init", headers={"Origin": "http://x.example"})
    assert (status, body) == (200, b"{}")
    assert "access-control-allow-origin" not in headers


async def test_uni_websocket_joined_pushes_no_disconnect_push_no_closing_handshake(
    server_factory: ServerFactory,
) -> None:
    """TR-06, D-WS2: ``join_push_messages`` puts pushes queued together in one newline-joined
    frame; ``disable_disconnect_push`` and ``disable_closing_handshake`` end the connection
    with neither a disconnect push nor a close frame."""
    options = {
        "enabled": True,
        "join_push_messages": True,
        "disable_disconnect_push": True,
        "disable_closing_handshake": True,
    }
    srv = server_factory({**CONFIG, "uni_websocket": options})
    ch = "joined_ch"
    req = json.dumps({"token": token("joined"), "subs": {ch: {}}})
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            srv.ws_url("/connection/uni_websocket"), params={"cf_connect": req}, autoping=True
        ) as ws,
    ):
        first = await ws.receive(timeout=scaled(5))
        assert json.loads(first.data)["connect"]["subs"] == {ch: {}}
        commands = [{"publish": {"channel": ch, "data": {"n": n}}} for n in (1, 2)]
        replies = (await api(srv, "batch", commands=commands))["replies"]
        epoch = replies[0]["publish"]["epoch"]
        joined = await ws.receive(timeout=scaled(5))
        while joined.data == "{}":
            joined = await ws.receive(timeout=scaled(5))
        assert joined.data.split("\n") == [
            '{"channel":"joined_ch","pub":{"data":{"n":1},"offset":1,"epoch":"' + epoch + '"}}',
            '{"channel":"joined_ch","pub":{"data":{"n":2},"offset":2}}',
        ]
        await api(srv, "disconnect", user="joined")
        end = await ws.receive(timeout=scaled(5))
        while end.type is aiohttp.WSMsgType.TEXT and end.data == "{}":
            end = await ws.receive(timeout=scaled(5))
        assert end.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR), end


async def test_connect_code_transforms(server_factory: ServerFactory) -> None:
    """PX-09: ``client.connect_code_to_unidirectional_disconnect`` maps a refused connect to a
    chosen disconnect; ``uni_sse.connect_code_to_http_response`` answers it with an HTTP status
    and body instead (the error's own text when the transform has no body; 500 without a
    transform), while uni_http_stream keeps the disconnect push."""
    config = {
        **CONFIG,
        "client": {
            **CONFIG["client"],
            "connect_code_to_unidirectional_disconnect": {
                "enabled": True,
                "transforms": [{"code": 109, "to": {"code": 4109, "reason": "log in again"}}],
            },
        },
        "uni_sse": {
            "enabled": True,
            "connect_code_to_http_response": {
                "enabled": True,
                "transforms": [
                    {"code": 109, "to": {"status_code": 401, "body": "expired"}},
                    {"code": 3500, "to": {"status_code": 403}},
                ],
            },
        },
    }
    srv = server_factory(config)
    expired = json.dumps({"token": token("x", exp=1)})
    bad = json.dumps({"token": connection_token("another-secret-0123456789abcdef0123", "x")})
    async with aiohttp.ClientSession() as http:
        stream = f"{srv.http_url}/connection/uni_http_stream"
        async with http.post(stream, data=expired) as resp:
            assert resp.status == 200
            raw = await asyncio.wait_for(resp.content.read(), scaled(5))
            assert raw == b'{"disconnect":{"code":4109,"reason":"log in again"}}\n'
        sse = f"{srv.http_url}/connection/uni_sse"
        answers = []
        unknown = json.dumps({"token": token("y"), "subs": {"nope:x": {}}})  # 3501
        for req in (expired, bad, unknown):
            async with http.get(sse, params={"cf_connect": req}) as resp:
                answers.append((resp.status, await resp.text()))
        assert answers[0] == (401, "expired")
        assert answers[1] == (403, "invalid token")
        assert answers[2] == (500, "Internal Server Error")  # no transform for 3501
        async with http.get(sse, params={"cf_connect": json.dumps({"token": token("ok")})}) as r:
            assert r.status == 200  # a good connect still streams
            assert await asyncio.wait_for(r.content.readexactly(2), scaled(5)) == b"\r\n"


def test_uni_websocket_write_that_cannot_complete_closes_3009(
    server_factory: ServerFactory,
) -> None:
    """D-3009, TR-06: ``uni_websocket.write_timeout`` (500 ms here) bounds a write the way
    ``websocket.write_timeout`` does: a listener that stops reading is disconnected with 3009
    and its connection dropped, well under its ``client.queue_max_size``."""
    config = {
        **CONFIG,
        "client": {**CONFIG["client"], "queue_max_size": 64 << 20, "ping_interval": "25s"},
        "uni_websocket": {"enabled": True, "write_timeout": "500ms"},
        "prometheus": {"enabled": True},
    }
    srv = server_factory(config)
    req = json.dumps({"token": token("w"), "subs": {"stall": {}}})
    ws = RawWebSocket(srv.port, "/connection/uni_websocket?cf_connect=" + quote(req))
    try:
        deadline = time.monotonic() + scaled(5)
        while b'"connect"' not in ws.received and time.monotonic() < deadline:
            ws.sock.settimeout(0.2)
            with contextlib.suppress(TimeoutError):
                ws.received += ws.sock.recv(65536)
        assert b'"connect"' in ws.received
        ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        pad = "u" * 200_000
        first = time.monotonic()
        for i in range(50):
            hostile_api(
                srv.port, "publish", {"channel": "stall", "data": {"i": i, "p": pad}}, API_KEY
            )
        client_port = ws.sock.getsockname()[1]
        closed_at = None
        while time.monotonic() - first < scaled(6):
            if not tcp_established(srv.port, client_port):
                closed_at = time.monotonic()
                break
            time.sleep(0.02)
    finally:
        ws.close()
    assert closed_at is not None, "the stalled uni_websocket was never dropped"
    assert closed_at - first >= 0.5 - 0.1
    assert disconnects(srv.port, 3009) == 1
    assert disconnects(srv.port, 3008) == 0
