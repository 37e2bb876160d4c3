"""Configuration keys have their documented effect (SV-02: the support table cites these).

Each test sets a key to a value other than its default and asserts the precise observable
effect, so it fails when the key is ignored. Session-level keys are driven with no sockets
(``session_harness``, ``ws_harness``); keys about the process itself (addresses, log and pid
files, shutdown, URL prefixes) start a real server with the ``server_factory`` fixture.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web
from session_harness import SECRET, Client, make_node, now, sub_token, token
from support.ports import free_port, port_accepts
from support.server import ServerFactory, ServerProcess
from support.timing import scaled
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus
from websockets.frames import Opcode
from ws_harness import Peer, open_upgrade, settle, text

from centripetal.core.fossil import apply_delta
from centripetal.transports.admission import Admission
from centripetal.transports.uni_websocket import UniWebSocketEndpoint
from centripetal.transports.websocket import WebSocketEndpoint

# -- helpers ---------------------------------------------------------------------------------------


def _proc_net_address(field: str) -> tuple[str, int]:
    """``0100007F:1F90`` (``/proc/net/tcp``) or the 32-hex-digit IPv6 form -> (ip, port)."""
    raw_ip, raw_port = field.split(":")
    packed = bytes.fromhex(raw_ip)
    if len(packed) == 4:
        ip = socket.inet_ntop(socket.AF_INET, packed[::-1])
    else:  # four little-endian 32-bit words
        words = b"".join(packed[i : i + 4][::-1] for i in range(0, 16, 4))
        ip = socket.inet_ntop(socket.AF_INET6, words)
    return ip, int(raw_port, 16)


def listening_addresses(pid: int) -> set[tuple[str, int]]:
    """Every TCP address process ``pid`` listens on, read from ``/proc`` (Linux)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                found.add(_proc_net_address(cols[1]))
    return found


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + scaled(timeout)
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def api_post(
    server: ServerProcess, path: str, body: dict[str, Any], *, port: int | None = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(server.host, port or server.port, timeout=scaled(5))
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def pushes(client: Client) -> list[dict[str, Any]]:
    return [m["push"] for m in client.sink.take() if "push" in m]


# -- the process: addresses, log file, pid file, shutdown (SV-01, SV-02, SV-03, SV-15) -------------


def test_listen_addresses(server_factory: ServerFactory) -> None:
    """SV-01: ``http_server.address`` binds the main port there only, and
    ``http_server.internal_address`` binds ``internal_port`` on its own address."""
    internal_port = free_port("127.0.0.2")
    server = server_factory(
        {
            "http_server": {
                "address": "127.0.0.1",
                "internal_address": "127.0.0.2",
                "internal_port": internal_port,
            },
            "http_api": {"insecure": True},
        }
    )
    assert server.pid is not None
    assert listening_addresses(server.pid) == {
        ("127.0.0.1", server.port),
        ("127.0.0.2", internal_port),
    }
    assert not port_accepts("127.0.0.2", server.port)
    assert not port_accepts("127.0.0.1", internal_port)
    # the internal address serves what belongs on the internal port (API-09, SV-06)
    assert api_post(server, "/api/info", {})[0] == 404
    conn = http.client.HTTPConnection("127.0.0.2", internal_port, timeout=scaled(5))
    conn.request("POST", "/api/info", "{}", {"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200 and "nodes" in json.loads(response.read())["result"]
    conn.close()


def test_log_file_receives_the_log(server_factory: ServerFactory, tmp_path: Path) -> None:
    """SV-03: with ``log.file`` the log lines go to that file, not to stderr."""
    log_file = tmp_path / "centripetal.log"
    server = server_factory({"log": {"file": str(log_file), "level": "info"}})
    line = f"serving http on 127.0.0.1:{server.port}"
    wait_for(lambda: log_file.exists() and line in log_file.read_text(), 5, "the log file")
    assert server.stop() == 0
    text_in_file = log_file.read_text()
    assert " INFO centripetal: " + line in text_in_file
    assert "INFO centripetal: shutting down" in text_in_file
    assert line not in server.log_text() and "shutting down" not in server.log_text()


def test_pid_file_is_written(server_factory: ServerFactory, tmp_path: Path) -> None:
    """SV-02, SV-15: ``pid_file`` holds the server's pid once it listens."""
    pid_file = tmp_path / "run" / "centripetal.pid"
    pid_file.parent.mkdir()
    server = server_factory({"pid_file": str(pid_file)})
    wait_for(pid_file.exists, 5, "the pid file")
    assert pid_file.read_text().strip() == str(server.pid)


@pytest.fixture
async def slow_backend() -> AsyncIterator[tuple[str, list[float]]]:
    """A connect proxy backend that answers after 30 s; records when each call arrived."""
    arrived: list[float] = []

    async def connect(request: web.Request) -> web.Response:
        arrived.append(time.monotonic())
        await asyncio.sleep(30)
        return web.json_response({"result": {"user": "1"}})

    app = web.Application()
    app.router.add_post("/connect", connect)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", arrived
    await runner.cleanup()


async def test_shutdown_timeout_bounds_the_drain(
    server_factory: ServerFactory, slow_backend: tuple[str, list[float]]
) -> None:
    """SV-02: on SIGTERM the server waits for in-flight HTTP requests (here an HTTP-streaming
    connect held by a connect proxy that answers after 30 s) at most ``shutdown.timeout``."""
    url, arrived = slow_backend
    server = server_factory(
        {
            "shutdown": {"timeout": "2s"},
            "http_stream": {"enabled": True},
            "client": {
                "proxy": {
                    "connect": {"enabled": True, "endpoint": f"{url}/connect", "timeout": "60s"}
                }
            },
        }
    )
    _, writer = await asyncio.open_connection(server.host, server.port)
    body = b'{"id":1,"connect":{}}\n'
    writer.write(
        b"POST /connection/http_stream HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    await writer.drain()
    deadline = time.monotonic() + scaled(10)
    while not arrived:
        assert time.monotonic() < deadline, "the connect proxy was never called"
        await asyncio.sleep(0.02)
    started = time.monotonic()
    code = await asyncio.to_thread(server.stop, 25.0)
    elapsed = time.monotonic() - started
    writer.close()
    assert code == 0, server.describe("not a clean exit")
    assert 2.0 <= elapsed < 2.0 + scaled(10.0), elapsed
    assert "shutdown timeout reached" in server.log_text()


# -- client tokens and identity (AU-22, AU-32) -----------------------------------------------------


def _signed(key: str, **claims: Any) -> str:
    return jwt.encode({"sub": "42", **claims}, key, algorithm="HS256")


async def test_separate_subscription_token_keys() -> None:
    """AU-22: with ``client.subscription_token.enabled`` subscription tokens are verified with
    its own key (the connection key no longer works for them, nor the subscription key for
    connecting); disabled, the connection token settings verify both."""
    separate = {"client.subscription_token": {"enabled": True, "hmac_secret_key": "sub-key"}}
    c = Client(make_node(separate))
    assert "connect" in await c.connect(_signed(SECRET))
    ok = await c.cmd(subscribe={"channel": "a", "token": _signed("sub-key", channel="a")})
    assert "subscribe" in ok
    wrong = await c.cmd(subscribe={"channel": "b", "token": _signed(SECRET, channel="b")})
    assert wrong["error"] == {"code": 103, "message": "permission denied"}
    c2 = Client(make_node(separate))
    await c2.send(json.dumps({"id": 1, "connect": {"token": _signed("sub-key")}}))
    assert c2.sink.closed == (3500, "invalid token")

    off = {"client.subscription_token": {"enabled": False, "hmac_secret_key": "sub-key"}}
    c3 = Client(make_node(off))
    await c3.connect(_signed(SECRET))
    assert "subscribe" in await c3.cmd(
        subscribe={"channel": "a", "token": _signed(SECRET, channel="a")}
    )
    wrong = await c3.cmd(subscribe={"channel": "b", "token": _signed("sub-key", channel="b")})
    assert wrong["error"] == {"code": 103, "message": "permission denied"}


async def test_user_id_http_header() -> None:
    """AU-32: with ``client.user_id_http_header`` a handshake carrying that header connects
    with no token as the header's user; without the option (or the header) it is 3501."""
    header = {"client.user_id_http_header": "X-Authenticated-User"}
    peer = open_upgrade(
        WebSocketEndpoint(make_node(header)),
        "/connection/websocket",
        ("X-Authenticated-User", "alice"),
    )
    peer.send(text(b'{"id":1,"connect":{}}'))
    peer.send(text(b'{"id":2,"subscribe":{"channel":"open:room"}}'))
    peer.send(text(b'{"id":3,"publish":{"channel":"open:room","data":{"t":1}}}'))
    await settle()
    messages = [json.loads(line) for f in peer.frames() for line in f.data.split(b"\n")]
    session = peer.transport.protocol.session
    assert messages[0]["connect"]["client"] == session.client_id
    assert session.node.user_connection_count("alice") == 1
    publication = next(m["push"]["pub"] for m in messages if "push" in m)
    assert publication["info"] == {"user": "alice", "client": session.client_id}

    for overrides, headers in (
        ({}, [("X-Authenticated-User", "alice")]),  # option off: the header means nothing
        (header, []),  # option on, no header
        (header, [("X-Authenticated-User", "")]),  # option on, empty header
    ):
        peer = open_upgrade(
            WebSocketEndpoint(make_node(overrides)), "/connection/websocket", *headers
        )
        peer.send(text(b'{"id":1,"connect":{}}'))
        await settle()
        (frame,) = peer.frames()
        assert frame.opcode is Opcode.CLOSE
        assert frame.data == (3501).to_bytes(2, "big") + b"bad request"


# -- timers and replies (P-95, AU-35, P-30) --------------------------------------------------------


async def test_expired_sub_close_delay() -> None:
    """P-95, AU-35: a subscription whose token expired is unsubscribed with 2501 only once
    ``client.expired_sub_close_delay`` has passed since the expiry."""
    delay = 1.0
    c = Client(make_node({"client.expired_sub_close_delay": f"{delay}s"}))
    await c.connect(token())
    expire_at = now() + 2
    res = await c.cmd(subscribe={"channel": "a", "token": sub_token("a", exp=expire_at)})
    assert res["subscribe"]["expires"] is True and 1 <= res["subscribe"]["ttl"] <= 2
    deadline = expire_at + delay + scaled(3.0)
    seen: list[dict[str, Any]] = []
    while not seen and time.time() < deadline:
        await asyncio.sleep(0.02)
        seen = pushes(c)
    observed = time.time()
    assert seen == [
        {"channel": "a", "unsubscribe": {"code": 2501, "reason": "subscription expired"}}
    ]
    assert observed >= expire_at + delay  # not at the expiry itself: after the grace delay
    await settle()
    assert "a" not in c.session.subs


async def test_connect_include_server_time() -> None:
    """P-30: the connect reply carries ``time`` (unix ms) only with
    ``client.connect_include_server_time``."""
    c = Client(make_node({"client.connect_include_server_time": True}))
    before = int(time.time() * 1000)
    res = (await c.connect(token()))["connect"]
    after = int(time.time() * 1000)
    assert before <= res["time"] <= after
    plain = (await Client(make_node()).connect(token()))["connect"]
    assert "time" not in plain


# -- history and recovery limits (P-36, HR-05, SV-09) ----------------------------------------------


async def _publish_five(node_overrides: dict[str, Any]) -> tuple[Any, str]:
    node = make_node(node_overrides)
    pub = Client(node)
    await pub.connect(token())
    await pub.cmd(subscribe={"channel": "h", "token": sub_token("h")})
    for i in range(5):
        await pub.cmd(publish={"channel": "h", "data": {"i": i}})
    epoch = (await pub.cmd(history={"channel": "h"}))["history"]["epoch"]
    return node, epoch


async def _recover(node: Any, offset: int, epoch: str) -> dict[str, Any]:
    c = Client(node)
    await c.connect(token())
    req = {"channel": "h", "token": sub_token("h"), "recover": True, "offset": offset}
    return (await c.cmd(subscribe={**req, "epoch": epoch}))["subscribe"]  # type: ignore[no-any-return]


async def test_publication_limits() -> None:
    """P-36: ``client.history_max_publication_limit`` caps a client's history ``limit`` (and
    ``-1``); HR-05: ``client.recovery_max_publication_limit`` bounds the publications a
    subscription may recover: more missed than that is not recovered."""
    node, epoch = await _publish_five(
        {"client.history_max_publication_limit": 2, "client.recovery_max_publication_limit": 2}
    )
    c = Client(node)
    await c.connect(token())
    await c.cmd(subscribe={"channel": "h", "token": sub_token("h")})
    for limit, offsets in ((4, [1, 2]), (-1, [1, 2]), (2, [1, 2]), (1, [1])):
        hist = (await c.cmd(history={"channel": "h", "limit": limit}))["history"]
        assert [p["offset"] for p in hist["publications"]] == offsets, limit
        assert hist["offset"] == 5
    # two missed publications (4, 5): recovered
    res = await _recover(node, 3, epoch)
    assert res["recovered"] is True and res["offset"] == 3
    assert [p["data"] for p in res["publications"]] == [{"i": 3}, {"i": 4}]
    # three missed (3, 4, 5), over the limit of 2: not recovered, positioned at the top
    res = await _recover(node, 2, epoch)
    assert res == {
        "recoverable": True,
        "epoch": epoch,
        "offset": 5,
        "positioned": True,
        "was_recovering": True,
    }

    default_node, default_epoch = await _publish_five({})
    d = Client(default_node)
    await d.connect(token())
    await d.cmd(subscribe={"channel": "h", "token": sub_token("h")})
    hist = (await d.cmd(history={"channel": "h", "limit": 4}))["history"]
    assert [p["offset"] for p in hist["publications"]] == [1, 2, 3, 4]
    res = await _recover(default_node, 1, default_epoch)
    assert res["recovered"] is True and len(res["publications"]) == 4


# -- delta compression (HR-09, HR-10, CH-41, CH-42) ------------------------------------------------

_STREAM = {
    "history_size": 10,
    "history_ttl": "300s",
    "force_positioning": True,
    "allow_subscribe_for_client": True,
    "allow_publish_for_client": True,
}


def _payload(n: int) -> dict[str, Any]:
    return {"text": "the same long text in every message " * 6, "n": n}


def _encoded(n: int) -> bytes:
    return json.dumps(_payload(n), separators=(",", ":")).encode()


async def test_delta_options() -> None:
    """HR-09: a namespace with ``allowed_delta_types: ["fossil"]`` negotiates ``delta:true``;
    publications published with delta (or every one with ``delta_publish``) then reach the
    subscriber as Fossil deltas against the previous one, JSON data as a string. HR-10: without
    ``allowed_delta_types`` the same request is simply ``delta:false``."""
    node = make_node(
        {
            "channel.namespaces": [
                {"name": "dl", **_STREAM, "allowed_delta_types": ["fossil"]},
                {"name": "dp", **_STREAM, "allowed_delta_types": ["fossil"], "delta_publish": True},
                {"name": "nod", **_STREAM},
            ]
        }
    )
    sub, pub = Client(node), Client(node)
    await sub.connect(token())
    await pub.connect(token())
    for ch in ("dl:x", "dp:x"):
        res = (await sub.cmd(subscribe={"channel": ch, "delta": "fossil"}))["subscribe"]
        assert res["delta"] is True, ch
    res = (await sub.cmd(subscribe={"channel": "nod:x", "delta": "fossil"}))["subscribe"]
    assert "delta" not in res
    sub.sink.take()

    opts = node.rules.options("dl:x")
    await node.publish("dl:x", _encoded(1), opts, delta=True)
    await node.publish("dl:x", _encoded(2), opts, delta=True)
    await node.publish("dl:x", _encoded(3), opts)  # published without delta: full payload
    first, second, third = (p["pub"] for p in pushes(sub))
    assert first == {  # the first one is always full, and names the stream's epoch
        "data": _encoded(1).decode(),
        "offset": 1,
        "epoch": first["epoch"],
    }
    assert first["epoch"]
    assert second["delta"] is True and second["offset"] == 2
    assert apply_delta(_encoded(1), second["data"].encode()) == _encoded(2)
    assert len(second["data"]) < len(_encoded(2))
    assert third == {"data": _encoded(3).decode(), "offset": 3}

    for n in (1, 2):  # a client publish without any delta flag: delta_publish makes it one
        await pub.cmd(publish={"channel": "dp:x", "data": _payload(n)})
    full, delta = (p["pub"] for p in pushes(sub))
    assert "delta" not in full and json.loads(full["data"]) == _payload(1)
    assert delta["delta"] is True
    assert json.loads(apply_delta(full["data"].encode(), delta["data"].encode())) == _payload(2)

    nod = node.rules.options("nod:x")
    await node.publish("nod:x", _encoded(1), nod, delta=True)
    await node.publish("nod:x", _encoded(2), nod, delta=True)
    plain = [p["pub"] for p in pushes(sub)]
    epoch = plain[0].pop("epoch")  # the first publication of the stream names its epoch
    assert epoch
    assert plain == [{"data": _payload(1), "offset": 1}, {"data": _payload(2), "offset": 2}]


# -- channel names (CH-04, CH-05, SV-14) -----------------------------------------------------------


async def test_channel_boundaries() -> None:
    """CH-04: ``channel.namespace_boundary`` splits the namespace; CH-05:
    ``channel.user_boundary`` and ``channel.user_separator`` mark user-limited channels and
    their users; SV-14: the personal channel is built with both boundaries."""
    node = make_node(
        {
            "channel.namespace_boundary": "/",
            "channel.user_boundary": "@",
            "channel.user_separator": ";",
            "channel.without_namespace": {"allow_subscribe_for_client": True},
            "channel.namespaces": [
                {"name": "open", "allow_subscribe_for_client": True},
                {"name": "priv", "allow_user_limited_channels": True},
            ],
            "client.subscribe_to_user_personal_channel": {
                "enabled": True,
                "personal_channel_namespace": "priv",
            },
        }
    )
    c = Client(node)
    res = (await c.connect(token("42")))["connect"]
    assert list(res["subs"]) == ["priv/@42"]

    async def code(channel: str) -> int | None:
        reply = await c.cmd(subscribe={"channel": channel})
        return reply["error"]["code"] if "error" in reply else None

    assert await code("open/a") is None  # namespace "open"
    assert await code("nope/a") == 102  # unknown namespace "nope"
    assert await code("nope:a") is None  # ":" is a plain character now: no namespace
    assert node.rules.namespace_name("open:a") == ""
    assert await code("priv/room@42") is None
    assert await code("priv/room@7") == 103
    assert await code("priv/room@7;42") is None
    assert await code("priv/room@7,42") == 103  # "," no longer separates users
    assert await code("priv/room#42") == 103  # "#" no longer marks a user-limited channel


# -- RPC ping (SV-19, P-39) ------------------------------------------------------------------------


async def test_rpc_ping() -> None:
    """SV-19, P-39: ``rpc.ping.enabled`` answers RPC ``rpc.ping.method`` with an empty result
    and no proxy (other methods 104); disabled, RPC has no handler at all: 108."""
    c = Client(make_node({"rpc.ping": {"enabled": True, "method": "health"}}))
    await c.connect(token())
    assert await c.cmd(rpc={"method": "health"}) == {"id": 2, "rpc": {}}
    assert (await c.cmd(rpc={"method": "ping"}))["error"] == {
        "code": 104,
        "message": "method not found",
    }
    off = Client(make_node({"rpc.ping": {"enabled": False, "method": "health"}}))
    await off.connect(token())
    for method in ("health", "ping"):
        assert (await off.cmd(rpc={"method": method}))["error"] == {
            "code": 108,
            "message": "not available",
        }


# -- endpoints (TR-01, TR-06, API-01, P-12) --------------------------------------------------------


async def _ws_status(server: ServerProcess, path: str) -> int:
    """101 when the WebSocket handshake on ``path`` succeeds, else the HTTP status."""
    try:
        async with ws_connect(server.ws_url(path), open_timeout=scaled(5)):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


async def test_handler_prefixes(server_factory: ServerFactory) -> None:
    """TR-01: ``websocket.handler_prefix`` moves the WebSocket endpoint and
    ``websocket.disabled`` removes it; API-01: ``http_api.handler_prefix`` moves the server
    API. The default paths then answer 404."""
    server = server_factory(
        {
            "client": {"token": {"hmac_secret_key": SECRET}},
            "websocket": {"handler_prefix": "/rt/socket"},
            "http_api": {"handler_prefix": "/rt/api", "insecure": True},
        }
    )
    status, body = await asyncio.to_thread(api_post, server, "/rt/api/info", {})
    assert status == 200 and len(json.loads(body)["result"]["nodes"]) == 1
    assert (await asyncio.to_thread(api_post, server, "/api/info", {}))[0] == 404
    async with ws_connect(server.ws_url("/rt/socket"), open_timeout=scaled(5)) as ws:
        await ws.send(json.dumps({"id": 1, "connect": {"token": token()}}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), scaled(5)))
        assert reply["id"] == 1 and reply["connect"]["client"]
    assert await _ws_status(server, "/connection/websocket") == 404

    off = server_factory({"websocket": {"disabled": True}, "http_api": {"insecure": True}})
    assert await _ws_status(off, "/connection/websocket") == 404
    assert (await asyncio.to_thread(api_post, off, "/api/info", {}))[0] == 200


async def test_uni_websocket_first_message_limit() -> None:
    """TR-06, P-12: the connect request sent as the first message of a unidirectional
    WebSocket is bounded by ``uni_websocket.message_size_limit``: one byte over, the
    connection fails with 1009 and no session; at the limit it connects."""
    request = json.dumps({"token": token(), "data": {"pad": "x" * 300}}).encode()

    def open_uni(limit: int) -> Peer:
        node = make_node({"uni_websocket": {"enabled": True, "message_size_limit": limit}})
        return open_upgrade(
            UniWebSocketEndpoint(node, Admission(node)), "/connection/uni_websocket"
        )

    over = open_uni(len(request) - 1)
    over.send(text(request))
    await settle()
    (frame,) = over.frames()
    assert frame.opcode is Opcode.CLOSE and frame.data[:2] == (1009).to_bytes(2, "big")
    assert over.transport.closed and over.transport.protocol.session is None

    at = open_uni(len(request))
    at.send(text(request))
    await settle()
    frames = at.frames()
    assert [f.opcode for f in frames] == [Opcode.TEXT]
    assert (
        json.loads(frames[0].data)["connect"]["client"] == at.transport.protocol.session.client_id
    )
    assert not at.transport.closed
