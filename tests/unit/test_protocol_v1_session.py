"""A protocol v2 session core serving v1 clients through the v1 codecs (spec §2, TV-14,
L-03, L-08, L-09, L-53), and v1 and v2 subscribers sharing one channel (hub slots)."""

from __future__ import annotations

import json
from typing import Any

from session_harness import RecordingSink, make_node, token

from centripetal.core.session import ClientSession
from centripetal.node import Node
from centripetal.protocol.codec import get_codec
from centripetal.protocol.v1 import get_legacy_codec


class V1Client:
    """One JSON protocol v1 session."""

    def __init__(self, node: Node) -> None:
        self.sink = RecordingSink()
        self.codec = get_legacy_codec("json")
        self.session = ClientSession(node, self.sink, self.codec)

    async def send(self, *commands: dict[str, Any]) -> list[dict[str, Any]]:
        frame = "\n".join(json.dumps(c) for c in commands).encode()
        await self.session.handle_commands(self.codec.decode_commands(frame))
        return self.sink.take()


async def test_tv14_flow_connect_subscribe_publish_ping() -> None:
    node = make_node({"client.ping_interval": "25s"})
    c = V1Client(node)
    (connect,) = await c.send({"id": 1, "params": {"token": token("42")}})
    assert connect == {
        "id": 1,
        "result": {"client": c.session.client_id, "version": connect["result"]["version"]},
    }
    out = await c.send({"id": 2, "method": 1, "params": {"channel": "open:lobby"}})
    assert out == [{"id": 2, "result": {}}]
    out = await c.send(
        {"id": 3, "method": 3, "params": {"channel": "open:lobby", "data": {"message": "hi"}}}
    )
    assert {"id": 3, "result": {}} in out
    pushes = [m for m in out if "id" not in m]
    assert pushes == [
        {
            "result": {
                "channel": "open:lobby",
                "data": {
                    "data": {"message": "hi"},
                    "info": {"user": "42", "client": c.session.client_id},
                },
            }
        }
    ]
    assert await c.send({"id": 4, "method": 7}) == [{"id": 4}]
    assert c.sink.closed is None


async def test_no_server_pings_to_v1_clients_l09_l53() -> None:
    node = make_node({"client.ping_interval": "25s"})
    c = V1Client(node)
    await c.send({"id": 1, "params": {"token": token("42")}})
    timer = c.session._ping_timer
    assert timer is not None and timer.callback == c.session._send_native_ping
    assert c.session.awaiting_pong is False


async def test_unknown_method_is_error_104_and_connection_stays_l03() -> None:
    c = V1Client(make_node())
    await c.send({"id": 1, "params": {"token": token("42")}})
    assert await c.send({"id": 2, "method": 42, "params": {}}) == [
        {"id": 2, "error": {"code": 104, "message": "method not found"}}
    ]
    assert c.sink.closed is None
    assert await c.send({"id": 3, "method": 7}) == [{"id": 3}]


async def test_command_without_id_disconnects_bad_request_l08() -> None:
    c = V1Client(make_node())
    await c.send({"id": 1, "params": {"token": token("42")}})
    await c.send({"method": 7})
    assert c.sink.closed is not None
    assert c.codec.close_frame(*c.sink.closed) == (
        3003,
        '{"reason":"bad request","reconnect":false}',
    )


async def test_first_command_must_be_connect_l08() -> None:
    c = V1Client(make_node())
    await c.send({"id": 1, "method": 7})
    assert c.sink.closed is not None and c.sink.closed[0] == 3501
    assert c.codec.close_frame(*c.sink.closed)[0] == 3003


async def test_error_reply_has_no_temporary_l55() -> None:
    c = V1Client(make_node())
    await c.send({"id": 1, "params": {"token": token("42")}})
    out = await c.send({"id": 2, "method": 1, "params": {"channel": "closed:x"}})
    assert out == [{"id": 2, "error": {"code": 103, "message": "permission denied"}}]


async def test_presence_stats_history_v1_l13() -> None:
    c = V1Client(make_node({"channel.without_namespace.allow_subscribe_for_client": True}))
    await c.send({"id": 1, "params": {"token": token("42")}})
    reply, join = await c.send({"id": 2, "method": 1, "params": {"channel": "room"}})
    epoch = reply["result"]["epoch"]
    assert reply == {
        "id": 2,
        "result": {"recoverable": True, "epoch": epoch, "positioned": True},
    }
    cid = c.session.client_id
    assert join == {
        "result": {"type": 1, "channel": "room", "data": {"info": {"user": "42", "client": cid}}}
    }
    await c.send({"id": 3, "method": 3, "params": {"channel": "room", "data": {"n": 1}}})
    (stats,) = await c.send({"id": 4, "method": 5, "params": {"channel": "room"}})
    assert stats == {"id": 4, "result": {"num_clients": 1, "num_users": 1}}
    (pres,) = await c.send({"id": 5, "method": 4, "params": {"channel": "room"}})
    assert pres == {"id": 5, "result": {"presence": {cid: {"user": "42", "client": cid}}}}
    (hist,) = await c.send({"id": 6, "method": 6, "params": {"channel": "room", "limit": 10}})
    assert hist["id"] == 6
    assert [p["data"] for p in hist["result"]["publications"]] == [{"n": 1}]
    assert hist["result"]["offset"] == 1


async def test_v1_and_v2_subscribers_each_get_their_encoding() -> None:
    node = make_node()
    v1 = V1Client(node)
    await v1.send({"id": 1, "params": {"token": token("1")}})
    await v1.send({"id": 2, "method": 1, "params": {"channel": "open:mix"}})
    v2_sink = RecordingSink()
    v2_codec = get_codec("json")
    v2 = ClientSession(node, v2_sink, v2_codec)
    for cmd in (
        {"id": 1, "connect": {"token": token("2")}},
        {"id": 2, "subscribe": {"channel": "open:mix"}},
    ):
        await v2.handle_commands(v2_codec.decode_commands(json.dumps(cmd).encode()))
    v1.sink.take()
    v2_sink.take()
    frame = json.dumps({"id": 3, "publish": {"channel": "open:mix", "data": {"from": "v2"}}})
    await v2.handle_commands(v2_codec.decode_commands(frame.encode()))
    info2 = {"user": "2", "client": v2.client_id}
    assert v1.sink.take() == [
        {"result": {"channel": "open:mix", "data": {"data": {"from": "v2"}, "info": info2}}}
    ]
    assert {"push": {"channel": "open:mix", "pub": {"data": {"from": "v2"}, "info": info2}}} in (
        v2_sink.take()
    )
    await v1.send({"id": 3, "method": 3, "params": {"channel": "open:mix", "data": {"x": 1}}})
    info1 = {"user": "1", "client": v1.session.client_id}
    assert v2_sink.take() == [
        {"push": {"channel": "open:mix", "pub": {"data": {"x": 1}, "info": info1}}}
    ]


async def test_send_without_handler_is_ignored_for_v1_mg21() -> None:
    """Centrifugo v3 silently ignored ``send`` when no handler was set (MG-21)."""
    c = V1Client(make_node())
    await c.send({"id": 1, "params": {"token": token("42")}})
    assert await c.send({"method": 8, "params": {"data": {"x": 1}}}) == []
    assert c.sink.closed is None


async def test_v1_gets_transport_pings_not_app_pings_l09() -> None:
    import asyncio

    node = make_node({"client.ping_interval": "0.2s", "client.pong_timeout": "0.1s"})
    c = V1Client(node)
    pings: list[int] = []
    c.sink.native_ping = lambda: pings.append(1)  # type: ignore[attr-defined]
    await c.send({"id": 1, "params": {"token": token("42")}})
    await asyncio.sleep(0.5)
    assert pings and c.sink.take() == [] and c.sink.closed is None
