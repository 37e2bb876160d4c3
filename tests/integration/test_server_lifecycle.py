"""Server-level behaviour over real sockets: graceful shutdown (SV-02, D-3001), the WebSocket
message size limit (P-12), protobuf batching (P-03), slow consumers (P-96) and startup errors."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

import pytest
from support.server import ServerFactory
from support.timing import scaled
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

INSECURE: dict[str, Any] = {"client": {"insecure": True}}


async def _connected(url: str, **kw: Any) -> Any:
    ws = await ws_connect(url, **kw)
    await ws.send(json.dumps({"id": 1, "connect": {}}))
    reply = json.loads(await asyncio.wait_for(ws.recv(), scaled(5)))
    assert "connect" in reply, reply
    return ws


async def test_sigterm_disconnects_with_3001_and_exits(server_factory: ServerFactory) -> None:
    server = server_factory({**INSECURE, "shutdown": {"timeout": "5s"}})
    clients = [await _connected(server.ws_url()) for _ in range(20)]
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    stopping = loop.run_in_executor(None, server.stop, 10)
    for ws in clients:
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await asyncio.wait_for(ws.recv(), scaled(5))
        assert info.value.rcvd is not None
        assert (info.value.rcvd.code, info.value.rcvd.reason) == (3001, "shutdown")
    assert await stopping == 0
    assert time.monotonic() - started < scaled(5)


async def test_message_over_limit_closes_1009(server_factory: ServerFactory) -> None:
    server = server_factory({**INSECURE, "websocket": {"message_size_limit": 1024}})
    ws = await _connected(server.ws_url(), max_size=None)
    at_limit = json.dumps({"id": 2, "publish": {"channel": "c", "data": "x" * 940}})
    at_limit += " " * (1024 - len(at_limit))
    assert len(at_limit) == 1024
    await ws.send(at_limit)  # exactly the limit: accepted, the publish is answered
    reply = json.loads(await asyncio.wait_for(ws.recv(), scaled(5)))
    assert reply["id"] == 2
    await ws.send("x" * 1025)
    with pytest.raises(ConnectionClosed) as info:
        await asyncio.wait_for(ws.recv(), scaled(5))
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009


async def test_protobuf_frames_are_varint_delimited(server_factory: ServerFactory) -> None:
    server = server_factory(INSECURE)
    ws = await ws_connect(server.ws_url(), subprotocols=["centrifuge-protobuf"])  # type: ignore[list-item]
    assert ws.subprotocol == "centrifuge-protobuf"
    # TV-10 shape: {id:1, connect:{}} and {id:2, subscribe:{channel:"ch"}} in one frame
    await ws.send(bytes.fromhex("04080122 00") + bytes.fromhex("0808022a040a026368"))
    data = b""
    while not data or len(data) < 1 + data[0] + 5:  # both replies, in one frame or two
        frame = await asyncio.wait_for(ws.recv(), scaled(5))
        assert isinstance(frame, bytes)
        data += frame
    first_len = data[0]
    assert data[1:3] == b"\x08\x01" and data[3] == 0x2A  # id 1, connect result (field 5)
    rest = data[1 + first_len :]
    assert rest == bytes.fromhex("0408023200")  # TV-11: {id:2, subscribe:{}}
    await ws.close()


async def test_slow_consumer_disconnected_3008(server_factory: ServerFactory) -> None:
    server = server_factory(
        {
            "client": {"insecure": True, "queue_max_size": 65536},
            "channel": {"without_namespace": {"allow_publish_for_client": True}},
        }
    )
    slow = await ws_connect(server.ws_url(), max_queue=1, max_size=None)
    await slow.send(
        json.dumps({"id": 1, "connect": {}})
        + "\n"
        + json.dumps({"id": 2, "subscribe": {"channel": "flood"}})
    )
    await asyncio.sleep(0.3)
    # stop reading; pause the underlying transport so the kernel buffers fill up
    slow.transport.pause_reading()
    pub = await _connected(server.ws_url())
    payload = json.dumps({"blob": "y" * 8000})
    for i in range(2000):
        await pub.send(json.dumps({"id": 10 + i, "publish": {"channel": "flood", "data": payload}}))
        if i % 50 == 0:
            await asyncio.sleep(0)
    slow.transport.resume_reading()
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(slow.recv(), scaled(10))
    assert info.value.rcvd is not None and info.value.rcvd.code == 3008
    await pub.close()


def test_unavailable_engine_fails_with_clear_error(tmp_path: Any) -> None:
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"broker": {"enabled": True, "type": "kafka"}}))
    proc = subprocess.run(
        [sys.executable, "-m", "centripetal", "-c", str(cfg), "-p", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1
    output = proc.stdout + proc.stderr
    assert "broker.type: unknown broker type 'kafka'" in output
    assert "Traceback" not in output


async def test_connection_limit_answers_503(server_factory: ServerFactory) -> None:
    """TR-13: past ``client.connection_limit`` the handshake gets HTTP 503."""
    from websockets.exceptions import InvalidStatus

    server = server_factory({"client": {"insecure": True, "connection_limit": 2}})
    first = await _connected(server.ws_url())
    second = await _connected(server.ws_url())
    with pytest.raises(InvalidStatus) as info:
        await ws_connect(server.ws_url())
    assert info.value.response.status_code == 503
    await first.close()
    await asyncio.sleep(0.2)
    third = await _connected(server.ws_url())
    await second.close()
    await third.close()


async def test_connection_rate_limit_answers_503(server_factory: ServerFactory) -> None:
    from websockets.exceptions import InvalidStatus

    server = server_factory({"client": {"insecure": True, "connection_rate_limit": 3}})
    # one burst, so that a slow machine cannot spread it over several one-second windows
    results = await asyncio.gather(
        *(ws_connect(server.ws_url()) for _ in range(6)), return_exceptions=True
    )
    opened = [r for r in results if not isinstance(r, BaseException)]
    statuses = [
        r.response.status_code if isinstance(r, InvalidStatus) else 101 if r in opened else r
        for r in results
    ]
    assert statuses.count(101) <= 4 and 503 in statuses, statuses
    for ws in opened:
        await ws.close()


async def test_metrics_and_health_on_internal_port(server_factory: ServerFactory) -> None:
    """SV-05, SV-06, API-09: /metrics and /health served on the internal port only."""
    from support.ports import free_port

    internal = free_port()
    server = server_factory(
        {
            "client": {"insecure": True},
            "http_server": {"internal_port": internal},
            "prometheus": {"enabled": True},
            "health": {"enabled": True},
            "http_api": {"insecure": True},
        }
    )
    ws = await _connected(server.ws_url())
    loop = asyncio.get_running_loop()
    base = f"http://127.0.0.1:{internal}"

    def get(url: str) -> tuple[int, bytes]:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, b""

    status, body = await loop.run_in_executor(None, get, base + "/health")
    assert (status, body) == (200, b"{}")
    status, body = await loop.run_in_executor(None, get, base + "/metrics")
    assert status == 200
    text = body.decode()
    assert "centrifugo_node_num_clients 1.0" in text
    assert 'centrifugo_node_messages_received_count_total{type="connect"} 1.0' in text
    status, _ = await loop.run_in_executor(None, get, server.http_url + "/metrics")
    assert status == 404
    await ws.close()
