"""The WebSocket connection protocol with no sockets (transports/websocket.py).

A recording transport stands in for the socket; frames are produced by websockets' client-side
protocol, so every byte the server reads is a real masked client frame (TR-01, P-02, P-12,
P-13, P-96, D-WS1, PX-04).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from session_harness import make_node, token
from websockets.frames import Frame, Opcode
from ws_harness import Peer, open_upgrade, settle, text

from centripetal.transports.websocket import WebSocketEndpoint, close_reason


def upgrade(overrides: dict[str, Any] | None = None, *extra: tuple[str, str]) -> Peer:
    return open_upgrade(WebSocketEndpoint(make_node(overrides)), "/connection/websocket", *extra)


async def test_connect_in_fragments_is_answered_in_one_frame() -> None:
    peer = upgrade()
    assert peer.head.startswith(b"HTTP/1.1 101 Switching Protocols")
    cmd = json.dumps({"id": 1, "connect": {"token": token()}}).encode()
    peer.send(text(cmd[:10], fin=False))
    peer.send(Frame(Opcode.PING, b"p"))  # a control frame between fragments (RFC 6455 §5.4)
    peer.send(Frame(Opcode.CONT, cmd[10:]))
    await settle()
    frames = peer.frames()
    assert [f.opcode for f in frames] == [Opcode.PONG, Opcode.TEXT]
    assert frames[0].data == b"p"
    reply = json.loads(frames[1].data)
    assert reply["id"] == 1 and reply["connect"]["client"]


async def test_malformed_frame_closes_3501() -> None:
    peer = upgrade()
    peer.send(text(b"{not json"))
    await settle()
    (frame,) = peer.frames()
    assert frame.opcode is Opcode.CLOSE and frame.data[:2] == (3501).to_bytes(2, "big")


async def test_message_over_the_limit_fails_1009_and_closes_tcp() -> None:
    peer = upgrade({"websocket": {"message_size_limit": 16}})
    peer.send(text(b"x" * 17))
    (frame,) = peer.frames()
    assert frame.opcode is Opcode.CLOSE and frame.data[:2] == (1009).to_bytes(2, "big")
    assert peer.transport.closed


async def test_close_during_fragmented_message_is_echoed_1000() -> None:
    peer = upgrade()
    peer.send(text(b'{"id":', fin=False))
    peer.send(Frame(Opcode.CLOSE, (1000).to_bytes(2, "big")))
    (frame,) = peer.frames()
    assert frame.opcode is Opcode.CLOSE and frame.data == (1000).to_bytes(2, "big")
    assert peer.transport.closed


async def test_slow_consumer_is_disconnected_3008() -> None:
    peer = upgrade()
    peer.send(text(json.dumps({"id": 1, "connect": {"token": token()}}).encode()))
    await settle()
    peer.frames()
    conn = peer.transport.protocol
    peer.transport.buffered = conn.limit + 1  # the socket stopped draining
    conn.enqueue(b'{"push":{}}')
    conn.flush()
    frames = peer.frames()
    assert frames[-1].opcode is Opcode.CLOSE
    assert frames[-1].data[:2] == (3008).to_bytes(2, "big")


async def test_close_starts_the_handshake_and_aborts_without_answer() -> None:
    peer = upgrade()
    conn = peer.transport.protocol
    conn.close(3001, "shutdown")
    (frame,) = peer.frames()
    assert frame.data == (3001).to_bytes(2, "big") + b"shutdown"
    assert conn._close_timer is not None  # D-WS1: aborted after CLOSE_TIMEOUT without an answer
    peer.send(Frame(Opcode.CLOSE, (3001).to_bytes(2, "big")))
    assert peer.transport.closed and not peer.transport.aborted


async def test_backlog_pauses_reading() -> None:
    peer = upgrade()
    peer.send(text(json.dumps({"id": 1, "connect": {"token": token()}}).encode()))
    await settle()
    for i in range(40):  # no loop turn: the session has not taken any of them yet
        peer.send(text(json.dumps({"id": i + 2, "history": {"channel": "c"}}).encode()))
    assert peer.transport.paused
    for _ in range(20):
        await settle()
    assert not peer.transport.paused  # drained to half: reading resumes
    assert not peer.transport.protocol.backlog
    replies = [json.loads(line) for f in peer.frames() for line in f.data.split(b"\n")]
    assert [r["id"] for r in replies] == list(range(1, 42))  # every command, in order


async def connected_peer(overrides: dict[str, Any] | None = None) -> Peer:
    peer = upgrade(overrides)
    peer.send(text(json.dumps({"id": 1, "connect": {"token": token()}}).encode()))
    await settle()
    peer.frames()
    return peer


async def test_every_refused_byte_starts_the_write_deadline_d3009() -> None:
    """The transport reports the bytes the socket refuses from the first ones on (limits
    1/0), not only past its 64 KiB high-water mark: Centrifugo's deadline covers every
    write."""
    peer = upgrade()
    assert peer.transport.limits == (1, 0)
    conn = peer.transport.protocol
    assert conn.write_timeout == 1.0  # websocket.write_timeout default


async def test_write_without_progress_disconnects_3009_and_aborts() -> None:
    peer = await connected_peer({"websocket": {"write_timeout": "100ms"}})
    conn = peer.transport.protocol
    peer.transport.buffered = 10  # the socket refused ten bytes ...
    conn.pause_writing()
    await asyncio.sleep(0.3)  # ... and took none of them within 100 ms
    assert peer.transport.aborted
    assert conn.session.state == 3  # CLOSED
    assert conn.session.node.metrics.server_disconnects[3009] == 1


async def test_write_with_progress_keeps_its_connection() -> None:
    peer = await connected_peer({"websocket": {"write_timeout": "100ms"}})
    conn = peer.transport.protocol
    peer.transport.buffered = 1000
    conn.pause_writing()
    for _ in range(5):  # the peer takes a little every 60 ms: progress at every check
        await asyncio.sleep(0.06)
        peer.transport.buffered -= 100
    assert not peer.transport.aborted
    peer.transport.buffered = 0
    conn.resume_writing()  # everything sent: the deadline is gone
    assert conn._write_timer is None
    await asyncio.sleep(0.2)
    assert not peer.transport.aborted
    assert conn.session.state == 1  # CONNECTED


async def test_a_closing_connection_is_left_to_its_close_timer() -> None:
    peer = await connected_peer({"websocket": {"write_timeout": "100ms"}})
    conn = peer.transport.protocol
    peer.transport.buffered = 10
    conn.pause_writing()
    conn.session.disconnect(3001)  # the close frame waits behind the stuck bytes (D-WS1)
    await asyncio.sleep(0.3)
    assert not peer.transport.aborted
    assert conn._close_timer is not None
    assert conn.session.node.metrics.server_disconnects[3009] == 0


async def test_only_forwarded_headers_are_kept() -> None:
    config = {
        "client": {
            "user_id_http_header": "X-User",
            "proxy": {
                "connect": {"enabled": True, "endpoint": "http://x", "http_headers": ["Cookie"]}
            },
        }
    }
    peer = upgrade(config, ("Cookie", "a=1"), ("X-User", "7"), ("User-Agent", "ua"))
    headers = peer.transport.protocol.session.headers
    assert sorted(headers.items()) == [("Cookie", "a=1"), ("X-User", "7")]
    assert headers.get("x-user") == "7"


def test_close_reason_is_cut_on_a_character_boundary() -> None:
    assert close_reason("é" * 70).encode() == ("é" * 61).encode()
    assert close_reason("short") == "short"
