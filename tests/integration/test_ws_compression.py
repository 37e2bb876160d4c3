"""permessage-deflate on the WebSocket endpoints against a live server (spec TR-01, TR-06:
``compression``, ``compression_min_size``, ``compression_level``,
``decompressed_message_size_limit``; RFC 7692).

Frames are read raw, so the RSV1 bit and the compressed bytes themselves are checked; the
websockets client and centrifuge-python (which offer permessage-deflate by default) check that
real clients agree with the server and inflate what it sends.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from centrifuge import Client, SubscriptionEventHandler
from support.hostile import RawWebSocket, api, parse_frames
from support.node_js import JS_DIR, ensure_packages, scenario_runner
from support.server import ServerFactory, ServerProcess
from support.timing import scaled
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame

KEY = "deflate-key"
OFFER = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
AGREED = b"permessage-deflate; server_no_context_takeover; client_no_context_takeover"


def config(**websocket: Any) -> dict[str, Any]:
    return {
        "client": {"insecure": True},
        "channel": {"without_namespace": {"allow_publish_for_client": True}},
        "http_api": {"key": KEY},
        "rpc": {"ping": {"enabled": True}},
        "websocket": {"compression": True, **websocket},
        "uni_websocket": {"enabled": True, "compression": True, **websocket},
    }


def deflated(payload: bytes, level: int) -> bytes:
    """What RFC 7692 puts on the wire for ``payload`` with no context takeover."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(b"\x00\x00\xff\xff")
    return data[:-4]


def inflated(frame: Frame) -> bytes:
    return zlib.decompressobj(-15).decompress(frame.data + b"\x00\x00\xff\xff")


def read_frames(ws: RawWebSocket, count: int, timeout: float = 5.0) -> list[Frame]:
    deadline = time.monotonic() + scaled(timeout)
    while len(parse_frames(ws.received)) < count and time.monotonic() < deadline:
        ws.sock.settimeout(0.2)
        try:
            ws.received += ws.sock.recv(1 << 20)
        except TimeoutError:
            continue
    frames = parse_frames(ws.received)
    assert len(frames) >= count, frames
    ws.received = b""
    return frames


def header(ws: RawWebSocket, name: bytes) -> bytes | None:
    for line in ws.head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


@pytest.fixture
def server(server_factory: ServerFactory) -> ServerProcess:
    return server_factory(config(compression_min_size=100, compression_level=9))


def test_deflate_is_agreed_without_context_takeover_tr01(server: ServerProcess) -> None:
    with RawWebSocket(server.port, extra_headers=OFFER) as ws:
        assert header(ws, b"Sec-WebSocket-Extensions") == AGREED
    with RawWebSocket(server.port) as ws:  # no offer, no extension
        assert header(ws, b"Sec-WebSocket-Extensions") is None
    window = "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n"
    with RawWebSocket(server.port, extra_headers=window) as ws:  # a smaller window: declined
        assert header(ws, b"Sec-WebSocket-Extensions") is None


def test_frames_past_compression_min_size_are_deflated_at_compression_level(
    server: ServerProcess,
) -> None:
    """The connect reply (> 100 bytes) and a publication are compressed, byte for byte as
    zlib level 9 compresses them; a short reply (<= 100 bytes) goes out plain."""
    with RawWebSocket(server.port, extra_headers=OFFER) as ws:
        ws.send_text(b'{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"z"}}')
        connect, subscribe = read_frames(ws, 2)
        assert connect.rsv1
        reply = json.loads(inflated(connect))
        assert reply["id"] == 1 and reply["connect"]["client"]
        assert not subscribe.rsv1 and json.loads(subscribe.data) == {"id": 2, "subscribe": {}}
        ws.send_text(b'{"id":3,"rpc":{"method":"ping"}}')
        (pong,) = read_frames(ws, 1)
        assert not pong.rsv1 and json.loads(pong.data) == {"id": 3, "rpc": {}}
        text = " ".join(f"word{i % 97} {i * 7919 % 1013}" for i in range(3000))
        api(server.port, "publish", {"channel": "z", "data": {"text": text}}, KEY)
        (pub,) = read_frames(ws, 1)
    assert pub.rsv1
    payload = inflated(pub)
    assert json.loads(payload)["push"]["pub"]["data"] == {"text": text}
    assert pub.data == deflated(payload, 9)
    assert pub.data != deflated(payload, 1)  # the level is really the configured one
    assert len(pub.data) < len(payload) / 2


async def test_websockets_client_sends_compressed_and_reads_compressed(
    server: ServerProcess,
) -> None:
    """A client that compresses its own frames: the server inflates them (the extension on
    its protocol) and the client inflates the server's."""
    async with ws_connect(server.ws_url(), compression="deflate") as ws:
        assert ws.response is not None
        assert ws.response.headers["Sec-WebSocket-Extensions"] == AGREED.decode()
        pad = "p" * 50_000  # inflates well past the 64 KiB wire limit's share of it
        await ws.send(json.dumps({"id": 1, "connect": {"data": {"pad": pad}}}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), scaled(5)))
        assert reply["id"] == 1 and reply["connect"]["client"]
        big = "q" * 200_000  # 200 KB inflated, ~1 KB on the wire: over message_size_limit
        await ws.send(json.dumps({"id": 2, "rpc": {"method": "ping", "data": {"b": big}}}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), scaled(5)))
        assert reply == {"id": 2, "rpc": {}}


async def test_decompressed_message_size_limit_closes_1009(
    server_factory: ServerFactory,
) -> None:
    """A compressed frame within ``message_size_limit`` on the wire that inflates past
    ``decompressed_message_size_limit`` is refused like an oversized message (1009)."""
    server = server_factory(config(decompressed_message_size_limit=100_000))
    async with ws_connect(server.ws_url(), compression="deflate") as ws:
        await ws.send(json.dumps({"id": 1, "connect": {}}))
        await asyncio.wait_for(ws.recv(), scaled(5))
        await ws.send(json.dumps({"id": 2, "rpc": {"method": "ping", "data": "a" * 120_000}}))
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), scaled(5))
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009


async def test_centrifuge_python_over_a_compressed_connection(server: ServerProcess) -> None:
    """centrifuge-python offers permessage-deflate by default: subscribe and receive a large
    publication intact over the compressed connection."""
    received: asyncio.Queue[Any] = asyncio.Queue()
    subscribed = asyncio.Event()

    class Events(SubscriptionEventHandler):  # type: ignore[misc]
        async def on_subscribed(self, ctx: Any) -> None:
            subscribed.set()

        async def on_publication(self, ctx: Any) -> None:
            await received.put(ctx.pub.data)

    client = Client(server.ws_url(), timeout=scaled(5))
    sub = client.new_subscription("big", events=Events())
    await client.connect()
    await sub.subscribe()
    await asyncio.wait_for(subscribed.wait(), scaled(5))
    try:
        rows = [{"n": i, "name": f"row {i}"} for i in range(2000)]
        api(server.port, "publish", {"channel": "big", "data": {"rows": rows}}, KEY)
        data = await asyncio.wait_for(received.get(), scaled(5))
    finally:
        await client.disconnect()
    assert data == {"rows": rows}


def test_uni_websocket_pushes_are_compressed_past_min_size_tr06(server: ServerProcess) -> None:
    req = quote(json.dumps({"subs": {"u": {}}}))
    path = f"/connection/uni_websocket?cf_connect={req}"
    with RawWebSocket(server.port, path, extra_headers=OFFER) as ws:
        assert header(ws, b"Sec-WebSocket-Extensions") == AGREED
        (connect,) = read_frames(ws, 1)
        assert connect.rsv1 and b'"connect"' in inflated(connect)
        api(server.port, "publish", {"channel": "u", "data": {"x": 1}}, KEY)
        (short,) = read_frames(ws, 1)
        assert not short.rsv1
        assert json.loads(short.data) == {"channel": "u", "pub": {"data": {"x": 1}}}
        text = "abc " * 5000
        api(server.port, "publish", {"channel": "u", "data": {"t": text}}, KEY)
        (long,) = read_frames(ws, 1)
    assert long.rsv1 and long.data == deflated(inflated(long), 9)
    assert json.loads(inflated(long))["pub"]["data"] == {"t": text}


def test_compression_level_outside_the_range_is_a_startup_warning(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(config(compression_level=12, read_buffer_size=8192))
    log = server.log_text()
    assert "websocket.compression_level=12 is not a compression level (-2..9)" in log
    assert "websocket.read_buffer_size=8192 changes nothing" in log
    with RawWebSocket(server.port, extra_headers=OFFER) as ws:  # still compressing, level 1
        ws.send_text(b'{"id":1,"connect":{}}')
        (connect,) = read_frames(ws, 1)
    assert connect.rsv1 and connect.data == deflated(inflated(connect), 1)


# what ws (centrifuge-js's WebSocket in Node) agreed on, with its default options
_WS_EXTENSIONS = """
import WebSocket from 'ws';
const ws = new WebSocket(process.argv[1]);
ws.on('open', () => { console.log(JSON.stringify(ws.extensions)); ws.close(); });
ws.on('error', (e) => { console.log(JSON.stringify({error: String(e)})); process.exit(1); });
"""


@pytest.mark.node
def test_centrifuge_js_over_a_compressed_connection(
    require_tool: Callable[[str], str], server: ServerProcess
) -> None:
    """centrifuge-js in Node (its ``ws`` WebSocket offers permessage-deflate by default):
    ``ws`` reports the extension the server agreed to, and a scenario gets a large
    publication through the compressed connection."""
    node = require_tool("node")
    ensure_packages(require_tool("npm"), "centrifuge/package.json")
    proc = subprocess.run(
        [node, "--input-type=module", "-e", _WS_EXTENSIONS, server.ws_url()],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=scaled(30),
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == "permessage-deflate"  # ws: names only
    rows = [{"n": i, "name": f"row {i}"} for i in range(1000)]
    report = scenario_runner(node, "scenario.mjs")(
        {
            "url": server.ws_url(),
            "clients": {"a": {}},
            "steps": [
                {"op": "connect", "client": "a"},
                {"op": "subscribe", "client": "a", "channel": "jsz"},
                {"op": "publish", "client": "a", "channel": "jsz", "data": {"rows": rows}},
                {"op": "wait", "client": "a", "event": "publication", "channel": "jsz"},
            ],
        }
    )
    assert report["ok"], report
    pubs = [e for e in report["events"] if e["event"] == "publication"]
    assert pubs[0]["data"] == {"rows": rows}
