"""Streaming transports without sockets: the shared sink, unidirectional and emulated sessions,
request parsing and local emulation routing (TR-02..TR-08, TR-10, P-30, P-47, P-48, P-56)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from session_harness import make_node, token

from centripetal.cluster import EmulationAck, EmulationCmd
from centripetal.node import Node
from centripetal.protocol import client_pb2 as pb
from centripetal.protocol.codec import get_codec
from centripetal.transports.emulation import EmulatedSession, parse_emulation_request
from centripetal.transports.streaming import StreamConnection, bare_push
from centripetal.transports.uni import (
    UniSession,
    connect_command,
    uni_disconnect_code,
    uni_disconnect_push,
)


class Recorder:
    """A writer that keeps every batch the connection writes."""

    def __init__(self) -> None:
        self.batches: list[list[bytes]] = []
        self.block = asyncio.Event()
        self.block.set()

    async def __call__(self, messages: list[bytes]) -> None:
        await self.block.wait()
        self.batches.append(messages)

    def messages(self) -> list[Any]:
        return [json.loads(bare_push(m)) for batch in self.batches for m in batch]


def stream(node: Node, recorder: Recorder) -> StreamConnection:
    return StreamConnection(node, recorder, None, uni_disconnect_push)


# -- pure helpers --------------------------------------------------------------------------


def test_bare_push_strips_the_reply_wrapper_only() -> None:
    """TV-12: pushes lose ``{"push":..}``; the connect push and ``{}`` pass unchanged."""
    assert (
        bare_push(b'{"push":{"channel":"c","pub":{"data":1}}}')
        == b'{"channel":"c","pub":{"data":1}}'
    )
    assert bare_push(b'{"connect":{"client":"x"}}') == b'{"connect":{"client":"x"}}'
    assert bare_push(b"{}") == b"{}"


@pytest.mark.parametrize(
    ("error", "code"),
    [(109, 3005), (110, 3005), (111, 3013), (103, 3507), (102, 3004), (100, 3004)],
)
def test_uni_connect_errors_become_disconnects(error: int, code: int) -> None:
    """TR-10: connect errors map to disconnect codes on unidirectional transports."""
    assert uni_disconnect_code(error) == code


def test_uni_disconnect_push_is_bare() -> None:
    """P-48 on unidirectional transports: ``{"disconnect":..}`` without the push wrapper."""
    assert (
        uni_disconnect_push(3001, "shutdown") == b'{"disconnect":{"code":3001,"reason":"shutdown"}}'
    )


def test_connect_command_reads_token_data_subs() -> None:
    """TR-10: token, data, subs (with recovery fields), name and headers of a ConnectRequest."""
    cmd = connect_command(
        b'{"token":"t","data":{"a":1},"subs":{"news":{"recover":true,"offset":3,"epoch":"e"}},'
        b'"name":"n","headers":{"x":"y"}}'
    )
    assert cmd is not None and cmd.id == 1 and cmd.connect is not None
    req = cmd.connect
    assert (req.token, req.data, req.name, req.headers) == ("t", b'{"a":1}', "n", {"x": "y"})
    assert req.subs is not None
    sub = req.subs["news"]
    assert (sub.recover, sub.offset, sub.epoch) == (True, 3, "e")


@pytest.mark.parametrize(
    "raw", [b"[1]", b"nope", b'{"token":5}', b'{"a":1},"subscribe":{}', b'"x"']
)
def test_connect_command_refuses_malformed(raw: bytes) -> None:
    assert connect_command(raw) is None


def test_connect_command_empty_is_empty_request() -> None:
    """TR-07: a GET without ``cf_connect`` is an empty ConnectRequest."""
    cmd = connect_command(b"")
    assert cmd is not None and cmd.connect is not None and cmd.connect.token == ""


def test_parse_emulation_request_json_and_protobuf() -> None:
    """TR-04: JSON ``data`` is a string of commands; protobuf EmulationRequest fields 1-3."""
    body = json.dumps({"node": "n1", "session": "s1", "data": '{"id":2,"ping":{}}'}).encode()
    assert parse_emulation_request(body, False) == ("n1", "s1", b'{"id":2,"ping":{}}')
    raw = pb.EmulationRequest(node="n2", session="s2", data=b"\x02\x08\x03").SerializeToString()
    assert parse_emulation_request(raw, True) == ("n2", "s2", b"\x02\x08\x03")
    assert parse_emulation_request(b"{not json", False) is None
    assert parse_emulation_request(b'{"node":1}', False) is None
    assert parse_emulation_request(b"\xff\xff\xff", True) is None


# -- the sink ------------------------------------------------------------------------------


async def test_close_queues_disconnect_push_and_ends_the_writer() -> None:
    """P-48: the disconnect push is the last message written; none for code 3000."""
    node = make_node()
    rec = Recorder()
    conn = stream(node, rec)
    writer = asyncio.get_running_loop().create_task(conn.run())
    conn.enqueue(b"{}")
    conn.close(3001, "shutdown")
    conn.enqueue(b'{"late":1}')  # dropped: the connection is closing
    await asyncio.wait_for(writer, 2)
    assert rec.messages() == [{}, {"disconnect": {"code": 3001, "reason": "shutdown"}}]

    rec2 = Recorder()
    conn2 = stream(node, rec2)
    writer2 = asyncio.get_running_loop().create_task(conn2.run())
    conn2.close(3000, "connection closed")
    await asyncio.wait_for(writer2, 2)
    assert rec2.batches == []


async def test_queued_messages_are_written_in_one_batch() -> None:
    node = make_node()
    rec = Recorder()
    conn = stream(node, rec)
    for i in range(5):
        conn.enqueue(b'{"n":%d}' % i)
    writer = asyncio.get_running_loop().create_task(conn.run())
    await asyncio.sleep(0)
    conn.close(3000, "")
    await asyncio.wait_for(writer, 2)
    assert [len(b) for b in rec.batches] == [5]


async def test_pending_bytes_over_queue_max_size_disconnects_as_slow() -> None:
    """P-96 / DESIGN §5: a stream that stops draining is closed with 3008, never unbounded."""
    node = make_node({"client.queue_max_size": 1000})
    rec = Recorder()
    rec.block.clear()  # the client stops reading: the write never completes
    conn = stream(node, rec)
    session = UniSession(node, conn, transport="uni_http_stream", headers={})
    conn.session = session
    writer = asyncio.get_running_loop().create_task(conn.run())
    conn.enqueue(b"x" * 10)
    await asyncio.sleep(0)  # the writer takes the first message and blocks on it
    for _ in range(20):
        conn.enqueue(b'{"push":{"channel":"c","pub":{"data":"' + b"y" * 80 + b'"}}}')
    assert conn.closing
    assert conn.pending_bytes <= 1000 + 200
    assert conn.pending[-1] == b'{"disconnect":{"code":3008,"reason":"slow"}}'
    rec.block.set()
    await asyncio.wait_for(writer, 2)
    await session.on_transport_closed()


async def test_lost_stops_the_writer_without_disconnect_push() -> None:
    node = make_node()
    rec = Recorder()
    conn = stream(node, rec)
    writer = asyncio.get_running_loop().create_task(conn.run())
    await asyncio.sleep(0)
    conn.lost()
    conn.close(3001, "shutdown")
    await asyncio.wait_for(writer, 2)
    assert rec.batches == []


# -- sessions ------------------------------------------------------------------------------


async def test_uni_session_connect_push_subs_and_no_pong() -> None:
    """P-47, P-56, TR-10: connect push with session, server-side subs, ping but no pong."""
    node = make_node({"client.ping_interval": "10s", "client.pong_timeout": "5s"})
    rec = Recorder()
    conn = stream(node, rec)
    session = UniSession(node, conn, transport="uni_http_stream", headers={})
    conn.session = session
    cmd = connect_command(json.dumps({"token": token("42"), "subs": {"open:a": {}}}).encode())
    assert cmd is not None
    await session.handle_commands([cmd])
    (push,) = [json.loads(m) for m in conn.pending]
    connect = push["connect"]
    assert list(connect) == ["client", "version", "subs", "ping", "session"]
    assert connect["client"] == session.client_id
    assert connect["session"] == session.session_id != session.client_id
    assert connect["subs"] == {"open:a": {}}
    assert connect["ping"] == 10
    assert not session._pong_enabled()
    await session.on_transport_closed()
    assert node.sessions == {} and node.hub.num_channels() == 0


async def test_uni_session_connect_error_is_a_disconnect() -> None:
    """TR-10: an expired token (109) closes with 3005 instead of an error reply."""
    node = make_node()
    rec = Recorder()
    conn = stream(node, rec)
    session = UniSession(node, conn, transport="uni_sse", headers={})
    conn.session = session
    expired = token("42", exp=1)
    cmd = connect_command(json.dumps({"token": expired}).encode())
    assert cmd is not None
    await session.handle_commands([cmd])
    assert conn.closing
    assert [json.loads(m) for m in conn.pending] == [
        {"disconnect": {"code": 3005, "reason": "connection expired"}}
    ]
    await session.on_transport_closed()


async def test_emulated_session_reports_session_and_node() -> None:
    """P-30: connect result carries ``session`` (not the client id) and ``node`` (TR-04)."""
    node = make_node()
    rec = Recorder()
    codec = get_codec("json")
    conn = StreamConnection(node, rec, None, codec.encode_disconnect_push)
    session = EmulatedSession(node, conn, codec, transport="http_stream")
    conn.session = session
    node.emulation_targets[session.session_id] = conn
    await conn.emulate(json.dumps({"id": 1, "connect": {"token": token("7")}}).encode())
    reply = json.loads(conn.pending[0])["connect"]
    assert reply["session"] == session.session_id != session.client_id
    assert reply["node"] == node.uid
    assert reply["pong"] is True
    conn.pending.clear()
    # a later frame arrives through the cluster's local delivery (TR-04)
    status = await node.cluster.emulate(
        node.uid, session.session_id, b'{"id":2,"subscribe":{"channel":"open:x"}}'
    )
    assert status == 204
    assert json.loads(conn.pending[0]) == {"id": 2, "subscribe": {}}
    assert await node.cluster.emulate("other-node", session.session_id, b"{}") == 404
    # a malformed frame is a protocol violation (P-13)
    await conn.emulate(b"{nope")
    assert json.loads(conn.pending[-1]) == {
        "push": {"disconnect": {"code": 3501, "reason": "bad request"}}
    }
    await session.on_transport_closed()
    node.emulation_targets.pop(session.session_id)
    assert node.sessions == {} and node.users == {}


async def test_emulation_command_for_this_node_is_delivered_and_acknowledged() -> None:
    """EN-10/TR-04: an ``EmulationCmd`` from another node runs on the session, then an ack."""
    node = make_node()
    delivered: list[bytes] = []

    class Target:
        async def emulate(self, frame: bytes) -> None:
            delivered.append(frame)

    node.emulation_targets["s1"] = Target()
    published: list[Any] = []

    async def publish_control(data: bytes) -> None:
        published.append(data)

    node.broker.publish_control = publish_control  # type: ignore[method-assign]
    from centripetal.cluster import Control, _decoder, _encoder

    cmd = EmulationCmd(id="c1", to=node.uid, session="s1", data=b"frame")
    node.cluster.handle_control(_encoder.encode(Control("peer", cmd)))
    other = EmulationCmd(id="c2", to="someone-else", session="s1", data=b"x")
    node.cluster.handle_control(_encoder.encode(Control("peer", other)))
    for _ in range(10):
        await asyncio.sleep(0)
    assert delivered == [b"frame"]
    (ack,) = [_decoder.decode(p).msg for p in published]
    assert ack == EmulationAck(id="c1", to="peer")
