"""Bidirectional emulation transports against a live server (TR-02, TR-03, TR-04, P-06, P-30,
P-48, TR-12, TR-13, P-96).

The centrifuge-js 5.x scenarios of test_js_client.py (connect, subscribe, publish, presence,
history, recovery) run over ``http_stream`` (JSON and protobuf) and ``sse`` (JSON only, P-06)
with ``/emulation``; raw HTTP tests pin the wire format, status codes and cleanup.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest
from support.node_js import (
    SCENARIO_CHANNEL_OPTIONS,
    Runner,
    check_ok,
    ensure_packages,
    events_of,
    scenario_runner,
)
from support.server import ServerFactory, ServerProcess
from support.timing import scaled
from support.tokens import connection_token

SECRET = "fallback-secret-0123456789abcdef0123"
API_KEY = "fallback-api-key"
ORIGIN = "http://app.example"

CONFIG: dict[str, Any] = {
    "client": {"token": {"hmac_secret_key": SECRET}, "allowed_origins": [ORIGIN]},
    "http_api": {"key": API_KEY},
    "http_stream": {"enabled": True},
    "sse": {"enabled": True},
    "channel": {"without_namespace": dict(SCENARIO_CHANNEL_OPTIONS)},
}

# (transport, protocol): sse is JSON only (P-06)
VARIANTS = [("http_stream", "json"), ("http_stream", "protobuf"), ("sse", "json")]


def token(user: str) -> str:
    return connection_token(SECRET, user)


@pytest.fixture(scope="module")
def fallback_runner(require_tool: Callable[[str], str]) -> Runner:
    """``run(scenario) -> report`` with js/fallback_scenario.mjs (npm ci when needed)."""
    node = require_tool("node")
    ensure_packages(require_tool("npm"), "eventsource/package.json")
    return scenario_runner(node, "fallback_scenario.mjs")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(CONFIG, workdir=tmp_path_factory.mktemp("fallback-server"))
    proc.start()
    yield proc
    proc.cleanup()


def clients(transport: str, protocol: str, *users: str) -> dict[str, Any]:
    return {
        u[0]: {"token": token(u), "protocol": protocol, "transports": [transport]} for u in users
    }


# -- centrifuge-js over the emulated transports ----------------------------------------------


@pytest.mark.parametrize(("transport", "protocol"), VARIANTS)
def test_js_connect_subscribe_publish(
    fallback_runner: Runner, server: ServerProcess, transport: str, protocol: str
) -> None:
    """P-30/P-31/P-33/P-42 over TR-02/TR-03 + TR-04: own publication with offset and info."""
    ch = f"fb_pub_{transport}_{protocol}"
    data: Any = "hello" if protocol == "protobuf" else {"text": "hi"}
    report = fallback_runner(
        {
            "base": server.http_url,
            "clients": clients(transport, protocol, "alice"),
            "steps": [
                {"op": "connect", "client": "a"},
                {"op": "subscribe", "client": "a", "channel": ch},
                {"op": "publish", "client": "a", "channel": ch, "data": data},
                {"op": "wait", "client": "a", "event": "publication", "channel": ch},
            ],
        }
    )
    check_ok(report, server)
    events = events_of(
        report, "a", "connecting", "connected", "subscribing", "subscribed", "publication"
    )
    assert [e["event"] for e in events[:5]] == [
        "connecting",
        "connected",
        "subscribing",
        "subscribed",
        "publication",
    ]
    assert events[1]["transport"] == transport
    pub = events[4]
    assert (pub["data"], pub["offset"]) == (data, 1)
    assert pub["info"] == {"client": events[1]["clientId"], "user": "alice"}
    assert report["results"][2] == {"op": "publish", "result": {}}


@pytest.mark.parametrize(("transport", "protocol"), VARIANTS)
def test_js_presence_and_history(
    fallback_runner: Runner, server: ServerProcess, transport: str, protocol: str
) -> None:
    """P-34/P-35/P-36 over emulation: presence of two clients, history in offset order."""
    ch = f"fb_ph_{transport}_{protocol}"
    pubs = [{"op": "publish", "client": "a", "channel": ch, "data": f"m{n}"} for n in (1, 2, 3)]
    report = fallback_runner(
        {
            "base": server.http_url,
            "clients": clients(transport, protocol, "alice", "bob"),
            "steps": [
                {"op": "connect", "client": "a"},
                {"op": "connect", "client": "b"},
                {"op": "subscribe", "client": "a", "channel": ch},
                {"op": "subscribe", "client": "b", "channel": ch},
                {"op": "presence", "client": "a", "channel": ch},
                {"op": "presenceStats", "client": "b", "channel": ch},
                *pubs,
                {"op": "history", "client": "b", "channel": ch, "limit": 10},
                {"op": "history", "client": "b", "channel": ch, "limit": 2, "reverse": True},
            ],
        }
    )
    check_ok(report, server)
    ids = {c: events_of(report, c, "connected")[0]["clientId"] for c in ("a", "b")}
    presence = report["results"][4]["result"]["clients"]
    assert presence == {
        ids["a"]: {"client": ids["a"], "user": "alice"},
        ids["b"]: {"client": ids["b"], "user": "bob"},
    }
    assert report["results"][5]["result"] == {"numClients": 2, "numUsers": 2}
    full, rev = report["results"][9]["result"], report["results"][10]["result"]
    assert [(p["offset"], p["data"]) for p in full["publications"]] == [
        (1, "m1"),
        (2, "m2"),
        (3, "m3"),
    ]
    assert full["offset"] == 3 and full["epoch"]
    assert [p["offset"] for p in rev["publications"]] == [3, 2]


@pytest.mark.parametrize(("transport", "protocol"), VARIANTS)
def test_js_recovery_after_reconnect(
    fallback_runner: Runner, server: ServerProcess, transport: str, protocol: str
) -> None:
    """P-31 recovery over emulation: missed publications come back with recovered=true."""
    ch = f"fb_rec_{transport}_{protocol}"
    report = fallback_runner(
        {
            "base": server.http_url,
            "clients": clients(transport, protocol, "alice", "bob"),
            "steps": [
                {"op": "connect", "client": "a"},
                {"op": "connect", "client": "b"},
                {"op": "subscribe", "client": "a", "channel": ch},
                {"op": "publish", "client": "b", "channel": ch, "data": "m1"},
                {"op": "wait", "client": "a", "event": "publication", "channel": ch},
                {"op": "disconnect", "client": "a"},
                {"op": "publish", "client": "b", "channel": ch, "data": "m2"},
                {"op": "publish", "client": "b", "channel": ch, "data": "m3"},
                {"op": "connect", "client": "a"},
                {"op": "wait", "client": "a", "event": "publication", "channel": ch, "count": 3},
            ],
        }
    )
    check_ok(report, server)
    events = events_of(report, "a", "subscribed", "publication", channel=ch)
    assert [e["event"] for e in events] == [
        "subscribed",
        "publication",
        "subscribed",
        "publication",
        "publication",
    ]
    assert (events[2]["wasRecovering"], events[2]["recovered"]) == (True, True)
    pubs = [(e["offset"], e["data"]) for e in events if e["event"] == "publication"]
    assert pubs == [(1, "m1"), (2, "m2"), (3, "m3")]


# -- raw HTTP ------------------------------------------------------------------------------


async def api(server: ServerProcess, method: str, **params: Any) -> Any:
    """A server API call on its own connection: connections that start with an API call are
    kept for API calls."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{server.http_url}/api/{method}", json=params, headers={"X-API-Key": API_KEY}
        ) as resp,
    ):
        assert resp.status == 200
        return await resp.json()


async def num_clients(server: ServerProcess) -> int:
    info = await api(server, "info")
    return int(info["result"]["nodes"][0].get("num_clients", 0))


async def presence_clients(server: ServerProcess, channel: str) -> int:
    stats = await api(server, "presence_stats", channel=channel)
    return int(stats["result"].get("num_clients", 0))


async def eventually(
    server: ServerProcess, what: str, check: Callable[[], Awaitable[bool]]
) -> None:
    for _ in range(int(scaled(10) / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(server.describe(f"never true: {what}"))


async def read_line(resp: aiohttp.ClientResponse) -> Any:
    line = await asyncio.wait_for(resp.content.readline(), scaled(5))
    assert line.endswith(b"\n"), line
    return json.loads(line)


async def test_http_stream_json_wire(server: ServerProcess) -> None:
    """TR-02/TR-04/P-30/P-48: newline-delimited JSON stream, emulation replies on it,
    publications, and a ``disconnect`` push before the end of the stream."""
    connect = json.dumps({"id": 1, "connect": {"token": token("wire")}})
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{server.http_url}/connection/http_stream",
            data=connect,
            headers={"Content-Type": "application/json", "Origin": ORIGIN},
        ) as resp,
    ):
        assert resp.status == 200
        assert resp.headers["X-Accel-Buffering"] == "no"
        assert (
            resp.headers["Cache-Control"]
            == "private, no-cache, no-store, must-revalidate, max-age=0"
        )
        assert (resp.headers["Pragma"], resp.headers["Expire"]) == ("no-cache", "0")
        assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert resp.headers["Access-Control-Allow-Credentials"] == "true"
        reply = await read_line(resp)
        result = reply["connect"]
        assert reply["id"] == 1
        assert result["session"] and result["session"] != result["client"]
        assert result["node"] and result["pong"] is True
        emu = {"session": result["session"], "node": result["node"]}
        data = json.dumps({"id": 2, "subscribe": {"channel": "wire_ch"}})
        async with http.post(f"{server.http_url}/emulation", json={**emu, "data": data}) as e:
            assert e.status == 204
        sub = await read_line(resp)
        assert sub["id"] == 2 and sub["subscribe"]["recoverable"] is True
        assert sub["subscribe"]["epoch"] == await _epoch(http, server)
        await api(server, "publish", channel="wire_ch", data={"n": 1})
        assert await read_line(resp) == {  # the first publication names the epoch (P-42)
            "push": {
                "channel": "wire_ch",
                "pub": {"data": {"n": 1}, "offset": 1, "epoch": sub["subscribe"]["epoch"]},
            }
        }
        await api(server, "disconnect", user="wire", disconnect={"code": 4000, "reason": "bye"})
        assert await read_line(resp) == {"push": {"disconnect": {"code": 4000, "reason": "bye"}}}
        assert await asyncio.wait_for(resp.content.read(), scaled(5)) == b""


async def _zero(value: Awaitable[int]) -> bool:
    return await value == 0


async def _equal(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def _epoch(http: aiohttp.ClientSession, server: ServerProcess) -> str:
    hist = await api(server, "history", channel="wire_ch", limit=0)
    return str(hist["result"].get("epoch", ""))


def varint_messages(buf: bytes) -> tuple[list[bytes], bytes]:
    """Split complete varint-length-delimited messages off ``buf`` (P-03)."""
    out: list[bytes] = []
    while buf:
        length, shift, pos = 0, 0, 0
        while True:
            if pos >= len(buf):
                return out, buf
            b = buf[pos]
            length |= (b & 0x7F) << shift
            pos += 1
            shift += 7
            if b < 0x80:
                break
        if len(buf) < pos + length:
            return out, buf
        out.append(buf[pos : pos + length])
        buf = buf[pos + length :]
    return out, buf


async def test_http_stream_protobuf_wire(server: ServerProcess) -> None:
    """P-06: ``application/octet-stream`` selects protobuf; replies are varint-delimited and
    emulation requests are protobuf ``EmulationRequest`` messages (TR-04)."""
    from centripetal.protocol import client_pb2 as pb
    from centripetal.protocol import messages as m
    from centripetal.protocol import protobuf_codec as pbc

    codec = pbc
    first = codec.frame(
        [codec.encode_command(m.Command(id=1, connect=m.ConnectRequest(token=token("pb"))))]
    )
    octet = {"Content-Type": "application/octet-stream"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{server.http_url}/connection/http_stream", data=first, headers=octet) as resp,
    ):
        assert resp.status == 200
        buf = b""
        replies: list[Any] = []

        async def next_reply() -> Any:
            nonlocal buf
            while not replies:
                buf += await asyncio.wait_for(resp.content.readany(), scaled(5))
                msgs, buf = varint_messages(buf)
                replies.extend(codec.decode_replies(codec.frame([x]))[0] for x in msgs)
            return replies.pop(0)

        reply = await next_reply()
        assert reply.id == 1 and reply.connect is not None
        session, node_id = reply.connect.session, reply.connect.node
        assert session and node_id and session != reply.connect.client
        cmd = codec.frame(
            [codec.encode_command(m.Command(id=2, subscribe=m.SubscribeRequest(channel="pb_ch")))]
        )
        body = pb.EmulationRequest(node=node_id, session=session, data=cmd).SerializeToString()
        async with http.post(f"{server.http_url}/emulation", data=body, headers=octet) as e:
            assert e.status == 204
        sub = await next_reply()
        assert sub.id == 2 and sub.subscribe is not None and sub.subscribe.recoverable
        await api(server, "publish", channel="pb_ch", data={"n": 2})
        push = await next_reply()
        assert push.push.channel == "pb_ch"
        assert (json.loads(push.push.pub.data), push.push.pub.offset) == ({"n": 2}, 1)
        await api(server, "disconnect", user="pb")
        push = await next_reply()
        assert (push.push.disconnect.code, push.push.disconnect.reason) == (
            3503,
            "force disconnect",
        )


async def test_sse_wire_get_and_post(server: ServerProcess) -> None:
    """TR-03: ``\\r\\n`` then ``data: <json>\\n\\n`` events; GET with ``cf_connect`` or POST."""
    frame = json.dumps({"id": 1, "connect": {"token": token("sse")}})
    async with aiohttp.ClientSession() as http:
        for method, kwargs in (
            ("GET", {"params": {"cf_connect": frame}}),
            ("POST", {"data": frame}),
        ):
            async with http.request(method, f"{server.http_url}/connection/sse", **kwargs) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"] == "text/event-stream; charset=utf-8"
                assert await resp.content.readexactly(2) == b"\r\n"
                line = await asyncio.wait_for(resp.content.readline(), scaled(5))
                assert line.startswith(b'data: {"id":1,"connect":{')
                assert await resp.content.readline() == b"\n"
                connect = json.loads(line[6:])["connect"]
                assert connect["session"] and connect["node"]
                bye = {"code": 4001, "reason": "x"}
                await api(server, "disconnect", user="sse", disconnect=bye)
                rest = await asyncio.wait_for(resp.content.read(), scaled(5))
                assert rest == b'data: {"push":{"disconnect":{"code":4001,"reason":"x"}}}\n\n'


async def test_status_codes_and_cors(server: ServerProcess) -> None:
    """TR-02/TR-03/TR-04/TR-12: OPTIONS 204 + CORS for allowed origins only; 405, 400, 404,
    413 (bodies over ``max_request_body_size``)."""
    base = server.http_url
    big = b"x" * 70000
    async with aiohttp.ClientSession() as http:
        pre = {"Origin": ORIGIN, "Access-Control-Request-Headers": "content-type"}
        for path in ("/connection/http_stream", "/emulation"):
            async with http.options(base + path, headers=pre) as r:
                assert r.status == 204
                assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
                assert r.headers["Access-Control-Allow-Headers"] == "content-type"
                assert r.headers["Access-Control-Max-Age"] == "300"
                assert r.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
        async with http.options(
            base + "/emulation", headers={"Origin": "http://evil.example"}
        ) as r:
            assert r.status == 204 and "Access-Control-Allow-Origin" not in r.headers
        expected = [
            ("GET", "/connection/http_stream", b"", 405),
            ("POST", "/connection/http_stream", big, 413),
            ("GET", "/connection/sse", b"", 400),
            ("PUT", "/connection/sse", b"", 405),
            ("POST", "/connection/sse", big, 413),
            ("GET", "/emulation", b"", 405),
            ("POST", "/emulation", big, 413),
            ("POST", "/emulation", b"{broken", 400),
            ("POST", "/emulation", b'{"node":"no-such-node","session":"s","data":""}', 404),
        ]
        got = []
        json_body = {"Content-Type": "application/json"}
        for method, path, body, _ in expected:
            async with http.request(method, base + path, data=body, headers=json_body) as r:
                got.append((method, path, body, r.status))
        assert got == expected


async def test_client_gone_empties_every_registry(server: ServerProcess) -> None:
    """A stream whose client disconnects is closed: no client, channel or presence left."""
    async with aiohttp.ClientSession() as http:
        resp = await http.post(
            f"{server.http_url}/connection/http_stream",
            data=json.dumps({"id": 1, "connect": {"token": token("gone")}}),
        )
        result = (await read_line(resp))["connect"]
        data = json.dumps({"id": 2, "subscribe": {"channel": "gone_ch"}})
        emu = {"session": result["session"], "node": result["node"], "data": data}
        async with http.post(f"{server.http_url}/emulation", json=emu) as e:
            assert e.status == 204
        await read_line(resp)
        stats = await api(server, "presence_stats", channel="gone_ch")
        assert stats["result"] == {"num_clients": 1, "num_users": 1}
        resp.close()  # the client goes away without a word
        await eventually(server, "gone", lambda: _zero(presence_clients(server, "gone_ch")))
        stats = await api(server, "presence_stats", channel="gone_ch")
        assert stats["result"] == {"num_clients": 0, "num_users": 0}
        channels = await api(server, "channels")
        assert "gone_ch" not in channels["result"].get("channels", {})
        # the emulation endpoint of a gone session answers 204 (its stream ended, TR-04)
        async with http.post(f"{server.http_url}/emulation", json=emu) as e:
            assert e.status == 204


async def test_slow_stream_consumer_is_disconnected(server_factory: ServerFactory) -> None:
    """P-96/DESIGN §5: a client that stops reading is dropped as slow, memory stays bounded."""
    srv = server_factory(
        {
            **CONFIG,
            "client": {**CONFIG["client"], "queue_max_size": 65536},
            "prometheus": {"enabled": True},
        }
    )
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((srv.host, srv.port))
    body = json.dumps({"id": 1, "connect": {"token": token("slow"), "subs": {}}}).encode()
    sock.sendall(
        b"POST /connection/http_stream HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    try:
        await eventually(srv, "connected", lambda: _equal(num_clients(srv), 1))
        await api(srv, "subscribe", user="slow", channel="slow_ch")
        payload = {"blob": "z" * 50000}
        for _ in range(400):
            await api(srv, "publish", channel="slow_ch", data=payload)
            if await num_clients(srv) == 0:
                break
        await eventually(srv, "dropped", lambda: _zero(num_clients(srv)))
        assert srv.running
        _, _, metrics = srv.http_get("/metrics")
        assert b'centrifugo_client_num_server_disconnects_total{code="3008"} 1.0' in metrics
    finally:
        sock.close()


def test_disabled_by_default(server_factory: ServerFactory) -> None:
    """TR-02/TR-03: the endpoints exist only when enabled."""
    srv = server_factory({"client": {"token": {"hmac_secret_key": SECRET}}})
    for path in ("/connection/http_stream", "/connection/sse", "/emulation"):
        assert srv.http_get(path)[0] == 404


def test_flat_v4_keys_enable_and_rename(server_factory: ServerFactory) -> None:
    """v4/v5 flat ``http_stream``, ``sse``, ``*_handler_prefix`` keys (MG-04) map onto v6."""
    srv = server_factory(
        {
            "token_hmac_secret_key": SECRET,
            "http_stream": True,
            "sse": True,
            "sse_handler_prefix": "/my/sse",
            "emulation_handler_prefix": "/my/emulation",
        }
    )
    assert srv.http_get("/connection/sse")[0] == 404
    assert srv.http_get("/my/sse")[0] == 400  # enabled: no cf_connect
    assert srv.http_get("/my/emulation")[0] == 405
    assert srv.http_get("/connection/http_stream")[0] == 405
