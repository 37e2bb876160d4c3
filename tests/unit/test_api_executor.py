"""Server API methods on a real node with socketless sessions (API-10..API-23, API-03)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from session_harness import Client, make_node, now

from centripetal.api.errors import ApiError
from centripetal.api.executor import METHODS, Executor
from centripetal.api.legacy import run_legacy
from centripetal.node import Node

HISTORY_NS = {"name": "hist", "history_size": 3, "history_ttl": "60s"}
PLAIN_NS = {"name": "plain", "allow_subscribe_for_client": True, "presence": True}
BINARY_NS = {"name": "bin", "publication_data_format": "binary"}


@pytest.fixture
async def node() -> Any:
    n = make_node({"channel.namespaces": [HISTORY_NS, PLAIN_NS, BINARY_NS]})
    await n.start()
    yield n
    await n.close()


async def call(node: Node, method: str, params: dict[str, Any]) -> Any:
    """Run a method as the HTTP layer does; return the JSON of its result."""
    result = await METHODS[method].call(Executor(node), json.dumps(params).encode())
    return json.loads(msgspec.json.encode(result))


async def error_of(node: Node, method: str, params: dict[str, Any]) -> int:
    with pytest.raises(ApiError) as exc:
        await call(node, method, params)
    return exc.value.code


async def connected(node: Node, user: str) -> Client:
    from session_harness import token

    c = Client(node)
    reply = await c.connect(token(user))
    assert "connect" in reply
    return c


# -- publish / broadcast ---------------------------------------------------------------------


async def test_publish_without_history_returns_empty_result_api_10(node: Node) -> None:
    assert await call(node, "publish", {"channel": "plain:a", "data": {"x": 1}}) == {}


async def test_publish_with_history_returns_position_api_10(node: Node) -> None:
    first = await call(node, "publish", {"channel": "hist:a", "data": {"x": 1}})
    second = await call(node, "publish", {"channel": "hist:a", "data": {"x": 2}})
    assert first["offset"] == 1 and second["offset"] == 2
    assert first["epoch"] == second["epoch"] != ""
    assert await call(node, "publish", {"channel": "hist:a", "data": 1, "skip_history": True}) == {}


async def test_publish_errors_api_10(node: Node) -> None:
    assert await error_of(node, "publish", {"data": {}}) == 107
    assert await error_of(node, "publish", {"channel": "nope:a", "data": {}}) == 102
    assert await error_of(node, "publish", {"channel": "plain:a"}) == 107  # empty data
    assert await error_of(node, "publish", {"channel": "plain:a", "b64data": "%%"}) == 107
    assert await call(node, "publish", {"channel": "bin:a", "b64data": "AAE="}) == {}


async def test_history_of_binary_publications_is_error_100_api_18(node: Node) -> None:
    """A publication sent as b64data cannot be embedded in a JSON answer: history answers
    error 100 (Centrifugo answers HTTP 500), never a body that is not JSON."""
    assert await call(node, "publish", {"channel": "hist:bin", "b64data": "rq=="}) != {}
    assert await error_of(node, "history", {"channel": "hist:bin", "limit": -1}) == 100
    await call(node, "publish", {"channel": "hist:text", "data": "text"})
    result = await call(node, "history", {"channel": "hist:text", "limit": -1})
    assert [p["data"] for p in result["publications"]] == ["text"]


async def test_publish_idempotency_key_returns_first_result_api_10(node: Node) -> None:
    params = {"channel": "hist:i", "data": {}, "idempotency_key": "k1"}
    first = await call(node, "publish", params)
    again = await call(node, "publish", params)
    assert again == first
    hist = await call(node, "history", {"channel": "hist:i", "limit": -1})
    assert len(hist["publications"]) == 1


async def test_publish_reaches_subscriber_with_tags_api_10(node: Node) -> None:
    c = await connected(node, "u1")
    await c.cmd(subscribe={"channel": "plain:room"})
    await call(node, "publish", {"channel": "plain:room", "data": {"t": 1}, "tags": {"k": "v"}})
    pushes = c.sink.take()
    assert pushes == [
        {"push": {"channel": "plain:room", "pub": {"data": {"t": 1}, "tags": {"k": "v"}}}}
    ]


async def test_broadcast_responses_in_order_api_11(node: Node) -> None:
    res = await call(node, "broadcast", {"channels": ["plain:a", "x:b", "hist:c", ""], "data": {}})
    r = res["responses"]
    assert r[0] == {"result": {}}
    assert r[1] == {"error": {"code": 102, "message": "unknown channel"}}
    assert r[2]["result"]["offset"] == 1
    assert r[3] == {"error": {"code": 107, "message": "bad request"}}
    assert await error_of(node, "broadcast", {"channels": [], "data": {}}) == 107


# -- user-targeted -------------------------------------------------------------------------------


async def test_subscribe_sends_subscribe_push_to_all_user_sessions_api_12(node: Node) -> None:
    a, b, other = [await connected(node, u) for u in ("u1", "u1", "u2")]
    res = await call(node, "subscribe", {"user": "u1", "channel": "plain:s", "data": {"w": 1}})
    assert res == {}
    for c in (a, b):
        assert c.sink.take() == [{"push": {"channel": "plain:s", "subscribe": {"data": {"w": 1}}}}]
    assert other.sink.take() == []
    assert "plain:s" in a.session.subs and "plain:s" not in other.session.subs
    assert await error_of(node, "subscribe", {"user": "u1", "channel": "zz:s"}) == 102
    assert await error_of(node, "subscribe", {"user": "u1"}) == 107


async def test_subscribe_only_named_client_api_12(node: Node) -> None:
    a, b = await connected(node, "u1"), await connected(node, "u1")
    params = {"user": "u1", "channel": "plain:one", "client": b.session.client_id}
    await call(node, "subscribe", params)
    assert "plain:one" not in a.session.subs and "plain:one" in b.session.subs


async def test_unsubscribe_pushes_2000_api_13(node: Node) -> None:
    c = await connected(node, "u1")
    await c.cmd(subscribe={"channel": "plain:u"})
    assert await call(node, "unsubscribe", {"user": "u1", "channel": "plain:u"}) == {}
    assert c.sink.take() == [
        {
            "push": {
                "channel": "plain:u",
                "unsubscribe": {"code": 2000, "reason": "server unsubscribe"},
            }
        }
    ]
    assert await error_of(node, "unsubscribe", {"user": "u1", "channel": "zz:u"}) == 102


async def test_disconnect_default_and_custom_and_whitelist_api_14(node: Node) -> None:
    a, b, c = [await connected(node, "u1") for _ in range(3)]
    await call(
        node,
        "disconnect",
        {"user": "u1", "whitelist": [b.session.client_id], "client": a.session.client_id},
    )
    assert a.sink.closed == (3503, "force disconnect")
    assert b.sink.closed is None and c.sink.closed is None
    await call(
        node,
        "disconnect",
        {
            "user": "u1",
            "whitelist": [b.session.client_id],
            "disconnect": {"code": 4501, "reason": "bye"},
        },
    )
    assert c.sink.closed == (4501, "bye") and b.sink.closed is None


async def test_refresh_expired_and_new_expiry_api_15(node: Node) -> None:
    a, b = await connected(node, "u1"), await connected(node, "u2")
    await call(node, "refresh", {"user": "u1", "expired": True})
    assert a.sink.closed == (3005, "connection expired")
    await call(node, "refresh", {"user": "u2", "expire_at": now() + 100, "info": {"n": 1}})
    push = b.sink.take()[-1]["push"]["refresh"]
    assert push["expires"] is True and 98 <= push["ttl"] <= 100
    assert b.session.conn_info == b'{"n": 1}'


# -- presence / history ------------------------------------------------------------------------


async def test_presence_and_stats_api_16_api_17(node: Node) -> None:
    c = await connected(node, "u1")
    await c.cmd(subscribe={"channel": "plain:pres"})
    res = await call(node, "presence", {"channel": "plain:pres"})
    assert res == {"presence": {c.session.client_id: {"client": c.session.client_id, "user": "u1"}}}
    assert await call(node, "presence_stats", {"channel": "plain:pres"}) == {
        "num_clients": 1,
        "num_users": 1,
    }
    assert await error_of(node, "presence", {"channel": "bin:x"}) == 108
    assert await error_of(node, "presence_stats", {"channel": ""}) == 107
    assert await error_of(node, "presence", {"channel": "zz:x"}) == 102


async def test_history_paging_and_errors_api_18(node: Node) -> None:
    for i in range(1, 5):
        await call(node, "publish", {"channel": "hist:p", "data": {"i": i}, "tags": {"n": str(i)}})
    full = await call(node, "history", {"channel": "hist:p", "limit": -1})
    assert [p["data"]["i"] for p in full["publications"]] == [2, 3, 4]  # history_size 3
    assert full["publications"][0] == {"data": {"i": 2}, "offset": 2, "tags": {"n": "2"}}
    assert full["offset"] == 4
    pos = await call(node, "history", {"channel": "hist:p"})
    assert pos == {"publications": [], "epoch": full["epoch"], "offset": 4}
    since = {"offset": 2, "epoch": full["epoch"]}
    fwd = await call(node, "history", {"channel": "hist:p", "limit": 1, "since": since})
    assert [p["offset"] for p in fwd["publications"]] == [3]
    rev = await call(node, "history", {"channel": "hist:p", "limit": -1, "reverse": True})
    assert [p["offset"] for p in rev["publications"]] == [4, 3, 2]
    bad = {"channel": "hist:p", "limit": 1, "since": {"offset": 1, "epoch": "other"}}
    assert await error_of(node, "history", bad) == 112
    assert await error_of(node, "history", {"channel": "plain:p"}) == 108


async def test_history_remove_keeps_position_api_19(node: Node) -> None:
    await call(node, "publish", {"channel": "hist:r", "data": {}})
    before = await call(node, "history", {"channel": "hist:r"})
    assert await call(node, "history_remove", {"channel": "hist:r"}) == {}
    after = await call(node, "history", {"channel": "hist:r", "limit": -1})
    assert after == {"publications": [], "epoch": before["epoch"], "offset": 1}
    assert await error_of(node, "history_remove", {"channel": "plain:r"}) == 108


# -- node level --------------------------------------------------------------------------------


async def test_channels_with_pattern_api_20(node: Node) -> None:
    a, b = await connected(node, "u1"), await connected(node, "u2")
    for c in (a, b):
        await c.cmd(subscribe={"channel": "plain:1"})
    await a.cmd(subscribe={"channel": "plain:2"})
    await a.cmd(subscribe={"channel": "plain:pres"})
    assert await call(node, "channels", {}) == {
        "channels": {
            "plain:1": {"num_clients": 2},
            "plain:2": {"num_clients": 1},
            "plain:pres": {"num_clients": 1},
        }
    }
    assert await call(node, "channels", {"pattern": "plain:?"}) == {
        "channels": {"plain:1": {"num_clients": 2}, "plain:2": {"num_clients": 1}}
    }
    assert await error_of(node, "channels", {"pattern": "[x"}) == 107


async def test_info_api_21(node: Node) -> None:
    c = await connected(node, "u1")
    await c.cmd(subscribe={"channel": "plain:1"})
    res = await call(node, "info", {})
    (entry,) = res["nodes"]
    assert entry["uid"] == node.uid and entry["name"] == node.name
    assert entry["version"] == node.version
    assert (entry["num_clients"], entry["num_users"], entry["num_channels"]) == (1, 1, 1)
    assert entry["num_subs"] == 1 and entry["uptime"] >= 0


async def test_rpc_api_22(node: Node) -> None:
    assert await error_of(node, "rpc", {}) == 107
    assert await error_of(node, "rpc", {"method": "getUserStatus"}) == 104


async def test_batch_api_23(node: Node) -> None:
    params = {
        "commands": [
            {"publish": {"channel": "plain:a", "data": {}}},
            {"publish": {"channel": "x:b", "data": {}}},
            None,
            {"connections": {"user": "u"}},
            {"history": {"channel": "hist:z"}},
            {},
            {"info": {}, "publish": {"channel": "plain:a", "data": {}}},
        ]
    }
    for parallel in (False, True):
        res = await call(node, "batch", {**params, "parallel": parallel})
        assert res["replies"][:4] == [
            {"publish": {}},
            {"error": {"code": 102, "message": "unknown channel"}},
            {"error": {"code": 107, "message": "bad request"}},
            {"error": {"code": 104, "message": "not found"}},
        ]
        assert set(res["replies"][4]["history"]) == {"publications", "epoch", "offset"}
        assert res["replies"][5] == {"error": {"code": 104, "message": "not found"}}
        assert res["replies"][6] == {"publish": {}}  # Centrifugo's order: publish first


async def test_batch_item_of_wrong_type_fails_the_whole_body_api_23_api_05(node: Node) -> None:
    """Items are decoded with the batch body, as Centrifugo's ``DecodeBatch`` does."""
    ok = {"publish": {"channel": "plain:a", "data": {}}}
    for bad in (
        {"publish": {"channel": 5}},
        {"publish": {"channel": "plain:a", "data": {}, "version": 2**64}},
        {"history": {"channel": "hist:z", "limit": 2**31}},
        {"disconnect": {"disconnect": {"code": -1}}},
    ):
        assert await error_of(node, "batch", {"commands": [ok, bad]}) == 107


async def test_legacy_body_api_03(node: Node) -> None:
    body = (
        b'{"id":1,"method":"publish","params":{"channel":"plain:a","data":{}}}\n'
        b'{"id":2,"method":0,"params":{"channel":"nope:a","data":{}}}\n'
        b'{"method":"PRESENCE_STATS","params":{"channel":"pres"}}\n'
        b'{"id":4,"method":"connections","params":{}}\n'
        b'{"id":5,"method":"publish","params":{"channel":7}}\n'
        b'{"id":6,"method":9}'
    )
    lines = [json.loads(x) for x in (await run_legacy(Executor(node), body)).split(b"\n")]
    assert lines[:5] == [
        {"id": 1, "result": {}},
        {"id": 2, "error": {"code": 102, "message": "unknown channel"}},
        {"result": {"num_clients": 0, "num_users": 0}},
        {"id": 4, "error": {"code": 104, "message": "not found"}},
        {"id": 5, "error": {"code": 107, "message": "bad request"}},
    ]
    assert lines[5]["id"] == 6 and lines[5]["result"]["nodes"][0]["uid"] == node.uid
