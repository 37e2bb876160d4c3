"""The session state machine driven with no sockets (spec P-20..P-56, P-90..P-92, HR-05, AU-04)."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from session_harness import Client, make_node, now, sub_token, token

from centripetal.core.session import new_client_id
from centripetal.engines.base import Publication, StreamPosition


def test_client_ids_are_random_version_4_uuids_p30() -> None:
    ids = [new_client_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    for client_id in ids:
        parsed = uuid.UUID(client_id)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == client_id  # the canonical lower-case 8-4-4-4-12 form


async def test_connect_reply_fields_p30() -> None:
    node = make_node()
    c = Client(node)
    reply = await c.connect(token())
    res = reply["connect"]
    assert res["client"] == c.session.client_id
    assert res["version"].endswith(" OSS")
    assert res["ping"] == 25 and res["pong"] is True
    assert "expires" not in res and "ttl" not in res
    assert node.user_connection_count("42") == 1


async def test_connect_with_exp_reports_ttl_p30() -> None:
    c = Client(make_node())
    res = (await c.connect(token(exp=now() + 100)))["connect"]
    assert res["expires"] is True
    assert 98 <= res["ttl"] <= 100


async def test_first_command_must_be_connect_p22() -> None:
    c = Client(make_node())
    await c.send('{"id":1,"subscribe":{"channel":"x"}}')
    assert c.sink.closed == (3501, "bad request")


async def test_second_connect_is_bad_request_p22() -> None:
    c = Client(make_node())
    await c.connect(token())
    await c.send(json.dumps({"id": 9, "connect": {"token": token()}}))
    assert c.sink.closed == (3501, "bad request")


async def test_invalid_token_disconnects_3500_au04() -> None:
    c = Client(make_node())
    await c.send('{"id":1,"connect":{"token":"not-a-jwt"}}')
    assert c.sink.closed == (3500, "invalid token")


async def test_expired_token_error_109_then_unusable_p22() -> None:
    c = Client(make_node())
    reply = await c.connect(token(exp=now() - 10))
    assert reply["error"] == {"code": 109, "message": "token expired"}
    assert c.sink.closed is None
    await c.send('{"id":2,"subscribe":{"channel":"x"}}')
    assert c.sink.closed == (3501, "bad request")


async def test_expire_at_in_past_is_error_110() -> None:
    c = Client(make_node())
    reply = await c.connect(token(expire_at=now() - 5))
    assert reply["error"]["code"] == 110


async def test_no_credentials_is_bad_request_au30() -> None:
    c = Client(make_node())
    await c.send('{"id":1,"connect":{}}')
    assert c.sink.closed == (3501, "bad request")


async def test_anonymous_connect_when_allowed_au30() -> None:
    c = Client(make_node({"client.allow_anonymous_connect_without_token": True}))
    reply = await c.connect()
    assert reply["connect"]["client"]


async def test_disallow_anonymous_connection_tokens_3507_au08() -> None:
    c = Client(make_node({"client.disallow_anonymous_connection_tokens": True}))
    await c.send(json.dumps({"id": 1, "connect": {"token": token("")}}))
    assert c.sink.closed == (3507, "permission denied")


async def test_user_connection_limit_3504_p97() -> None:
    node = make_node({"client.user_connection_limit": 1})
    await Client(node).connect(token())
    c2 = Client(node)
    await c2.send(json.dumps({"id": 1, "connect": {"token": token()}}))
    assert c2.sink.closed == (3504, "connection limit")


async def test_personal_channel_server_side_subscription_sv14() -> None:
    node = make_node({"client.subscribe_to_user_personal_channel": {"enabled": True}})
    c = Client(node)
    res = (await c.connect(token()))["connect"]
    assert set(res["subs"]) == {"#42"}
    sub = res["subs"]["#42"]
    assert sub["recoverable"] is True and sub["positioned"] is True
    assert "offset" not in sub and len(sub["epoch"]) == 8  # offset 0 omitted (P-10)
    # own join push follows the reply (force_push_join_leave)
    assert c.pushes == [
        {
            "push": {
                "channel": "#42",
                "join": {"info": {"user": "42", "client": c.session.client_id}},
            }
        }
    ]


async def test_token_channels_unknown_namespace_is_102_p30() -> None:
    c = Client(make_node())
    reply = await c.connect(token(channels=["nope:x"]))
    assert reply["error"]["code"] == 102


async def test_too_many_server_side_channels_3505() -> None:
    c = Client(make_node({"client.channel_limit": 2}))
    await c.send(json.dumps({"id": 1, "connect": {"token": token(channels=["a", "b", "c"])}}))
    assert c.sink.closed == (3505, "channel limit")


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        ({"channel": "x" * 256}, 107),
        ({"channel": "nope:x"}, 102),
        ({"channel": "closed:x"}, 103),
        ({"channel": "чат"}, 107),
        ({"channel": "$private"}, 103),
    ],
)
async def test_subscribe_errors_p31(request_: dict[str, str], code: int) -> None:
    c = Client(make_node())
    await c.connect(token())
    reply = await c.cmd(subscribe=request_)
    assert reply["error"]["code"] == code


async def test_subscribe_empty_channel_and_bad_delta_3501() -> None:
    c = Client(make_node())
    await c.connect(token())
    await c.send('{"id":2,"subscribe":{"channel":""}}')
    assert c.sink.closed == (3501, "bad request")
    c2 = Client(make_node())
    await c2.connect(token())
    await c2.send('{"id":2,"subscribe":{"channel":"x","token":"t","delta":"zstd"}}')
    assert c2.sink.closed == (3501, "bad request")


async def test_already_subscribed_105_and_channel_limit_106() -> None:
    c = Client(make_node({"client.channel_limit": 1}))
    await c.connect(token())
    assert "subscribe" in await c.cmd(subscribe={"channel": "open:a"})
    assert (await c.cmd(subscribe={"channel": "open:a"}))["error"]["code"] == 105
    assert (await c.cmd(subscribe={"channel": "open:b"}))["error"]["code"] == 106


async def test_subscription_token_paths_au21() -> None:
    node = make_node()
    c = Client(node)
    await c.connect(token())
    assert (await c.cmd(subscribe={"channel": "a", "token": "garbage"}))["error"]["code"] == 103
    expired = sub_token("a", exp=now() - 5)
    assert (await c.cmd(subscribe={"channel": "a", "token": expired}))["error"]["code"] == 109
    ok = await c.cmd(subscribe={"channel": "a", "token": sub_token("a"), "flag": 1})
    assert ok["subscribe"]["recoverable"] is True
    await c.send(json.dumps({"id": 50, "subscribe": {"channel": "b", "token": sub_token("zz")}}))
    assert c.sink.closed == (3500, "invalid token")


async def test_publish_fanout_with_info_and_offsets_p33_p42() -> None:
    node = make_node()
    a, b = Client(node), Client(node)
    for cl in (a, b):
        await cl.connect(token())
        await cl.cmd(subscribe={"channel": "room", "token": sub_token("room")})
    a.sink.take()
    b.sink.take()
    reply = await a.cmd(publish={"channel": "room", "data": {"text": "hi"}})
    assert reply["publish"] == {}
    epoch = a.pushes[0]["push"]["pub"]["epoch"]
    assert epoch
    expected = {
        "push": {
            "channel": "room",
            "pub": {
                "data": {"text": "hi"},
                "info": {"user": "42", "client": a.session.client_id},
                "offset": 1,
                "epoch": epoch,  # the first publication of a stream names its epoch
            },
        }
    }
    assert a.pushes == [expected]
    assert b.sink.take() == [expected]
    await a.cmd(publish={"channel": "room", "data": {"text": "again"}})
    assert "epoch" not in a.pushes[-1]["push"]["pub"]  # only offset 1 carries it


async def test_publish_permission_and_data_format_p91() -> None:
    c = Client(make_node())
    await c.connect(token())
    assert (await c.cmd(publish={"channel": "room", "data": {}}))["error"]["code"] == 103
    assert (await c.cmd(publish={"channel": "open:x"}))["error"]["code"] == 107
    assert (await c.cmd(publish={"channel": "open:x", "data": 1}))["publish"] == {}


async def test_history_presence_stats_p34_p36() -> None:
    node = make_node()
    c = Client(node)
    await c.connect(token())
    assert (await c.cmd(history={"channel": "h", "limit": -1}))["error"]["code"] == 103
    await c.cmd(subscribe={"channel": "h", "token": sub_token("h")})
    for i in range(3):
        await c.cmd(publish={"channel": "h", "data": {"i": i}})
    hist = (await c.cmd(history={"channel": "h", "limit": 2}))["history"]
    assert [p["offset"] for p in hist["publications"]] == [1, 2]
    assert hist["offset"] == 3 and len(hist["epoch"]) == 8
    pos = (await c.cmd(history={"channel": "h"}))["history"]
    assert pos == {"publications": [], "epoch": hist["epoch"], "offset": 3} or pos == {
        "publications": None,
        "epoch": hist["epoch"],
        "offset": 3,
    }
    rev = (await c.cmd(history={"channel": "h", "limit": -1, "reverse": True}))["history"]
    assert [p["offset"] for p in rev["publications"]] == [3, 2, 1]
    bad = await c.cmd(history={"channel": "h", "limit": 1, "since": {"offset": 1, "epoch": "x"}})
    assert bad["error"]["code"] == 112
    presence = (await c.cmd(presence={"channel": "h"}))["presence"]["presence"]
    assert presence == {c.session.client_id: {"user": "42", "client": c.session.client_id}}
    stats = (await c.cmd(presence_stats={"channel": "h"}))["presence_stats"]
    assert stats == {"num_clients": 1, "num_users": 1}
    assert (await c.cmd(presence={"channel": "open:x"}))["error"]["code"] == 108


async def test_recovery_recovered_true_hr05() -> None:
    node = make_node()
    pub = Client(node)
    await pub.connect(token())
    await pub.cmd(subscribe={"channel": "r", "token": sub_token("r")})
    first = (await pub.cmd(history={"channel": "r"}))["history"]
    for i in range(3):
        await pub.cmd(publish={"channel": "r", "data": {"i": i}})
    c = Client(node)
    await c.connect(token())
    res = (
        await c.cmd(
            subscribe={
                "channel": "r",
                "token": sub_token("r"),
                "recover": True,
                "offset": 1,
                "epoch": first["epoch"],
            }
        )
    )["subscribe"]
    assert res["recovered"] is True and res["was_recovering"] is True
    assert res["offset"] == 1  # the requested offset (HR-05)
    assert [p["offset"] for p in res["publications"]] == [2, 3]


async def test_recovery_epoch_mismatch_not_recovered_and_flag2_112() -> None:
    node = make_node()
    c = Client(node)
    await c.connect(token())
    req = {"channel": "r", "token": sub_token("r"), "recover": True, "offset": 5, "epoch": "zz"}
    res = (await c.cmd(subscribe=req))["subscribe"]
    assert "recovered" not in res and res["was_recovering"] is True
    await c.cmd(unsubscribe={"channel": "r"})
    err = await c.cmd(subscribe={**req, "flag": 2})
    assert err["error"] == {"code": 112, "message": "unrecoverable position"}
    assert "r" not in c.session.subs and node.hub.num_subscribers("r") == 0


async def test_insufficient_state_unsubscribes_2500_hr03() -> None:
    node = make_node()
    c = Client(node)
    await c.connect(token())
    await c.cmd(subscribe={"channel": "g", "token": sub_token("g")})
    epoch = c.session.subs["g"].epoch
    node.hub.broadcast_publication(
        "g", Publication(data=b"{}", offset=5), StreamPosition(5, epoch), False, None
    )
    assert c.sink.take() == [
        {"push": {"channel": "g", "unsubscribe": {"code": 2500, "reason": "insufficient state"}}}
    ]
    await asyncio.sleep(0)
    assert "g" not in c.session.subs


async def test_pong_rules_p52() -> None:
    c = Client(make_node())
    await c.connect(token())
    await c.send("{}")
    assert c.sink.closed == (3501, "bad request")


async def test_no_pong_disconnects_3012() -> None:
    node = make_node({"client.ping_interval": "0.2s", "client.pong_timeout": "0.1s"})
    c = Client(node)
    await c.connect(token())
    await asyncio.sleep(0.6)
    assert c.sink.closed == (3012, "no pong")


async def test_ping_answered_keeps_connection() -> None:
    node = make_node({"client.ping_interval": "0.2s", "client.pong_timeout": "0.15s"})
    c = Client(node)
    await c.connect(token())
    for _ in range(4):
        await asyncio.sleep(0.2)
        if {} in c.sink.take():
            await c.send("{}")
    assert c.sink.closed is None


async def test_stale_connection_3502_p93() -> None:
    c = Client(make_node({"client.stale_close_delay": "0.1s"}))
    await asyncio.sleep(0.3)
    assert c.sink.closed == (3502, "stale")


async def test_send_without_handler_3508_and_rpc_p38_p39() -> None:
    c = Client(make_node())
    await c.connect(token())
    assert (await c.cmd(rpc={"method": "x"}))["error"]["code"] == 108
    await c.send('{"send":{"data":{}}}')
    assert c.sink.closed == (3508, "not available")
    c2 = Client(make_node({"rpc.ping": {"enabled": True}}))
    await c2.connect(token())
    assert (await c2.cmd(rpc={"method": "ping"})) == {"id": 2, "rpc": {}}
    assert (await c2.cmd(rpc={"method": "other"}))["error"]["code"] == 104


async def test_refresh_updates_expiry_p40() -> None:
    c = Client(make_node())
    await c.connect(token(exp=now() + 10))
    res = (await c.cmd(refresh={"token": token(exp=now() + 500)}))["refresh"]
    assert res["expires"] is True and 498 <= res["ttl"] <= 500
    await c.send(json.dumps({"id": 99, "refresh": {"token": token("other")}}))
    assert c.sink.closed == (3500, "invalid token")


async def test_registries_empty_after_200_connections() -> None:
    """DESIGN §5: every dict keyed by channel, user or client is cleaned on the last leave."""
    node = make_node({"client.subscribe_to_user_personal_channel": {"enabled": True}})
    clients = []
    for i in range(200):
        cl = Client(node)
        await cl.connect(token(str(i % 50)))
        await cl.cmd(
            subscribe={"channel": f"c{i % 20}", "token": sub_token(f"c{i % 20}", str(i % 50))}
        )
        await cl.cmd(publish={"channel": f"c{i % 20}", "data": {"n": i}})
        clients.append(cl)
    assert node.hub.num_channels() == 70
    for i, cl in enumerate(clients):
        if i % 2:
            await cl.cmd(unsubscribe={"channel": f"c{i % 20}"})
        cl.session.disconnect(3000)
        await cl.session.on_transport_closed()
    assert node.hub.num_channels() == 0
    assert node.sessions == {} and node.users == {}
    for ch in [f"c{i}" for i in range(20)] + [f"#{u}" for u in range(50)]:
        assert await node.presence_manager.presence(ch) == {}
    assert len(node.timers) == 0


async def test_binary_payload_disconnects_json_subscriber_3506() -> None:
    """D-3506: a protobuf client's non-JSON payload cannot reach a JSON client."""
    node = make_node()
    json_client = Client(node)
    await json_client.connect(token())
    await json_client.cmd(subscribe={"channel": "mix", "token": sub_token("mix")})
    pb = Client(node, binary=True)
    from centripetal.protocol import messages

    await pb.session.handle_commands(
        [messages.Command(id=1, connect=messages.ConnectRequest(token=token()))]
    )
    await pb.session.handle_commands(
        [
            messages.Command(
                id=2, subscribe=messages.SubscribeRequest(channel="mix", token=sub_token("mix"))
            ),
            messages.Command(
                id=3, publish=messages.PublishRequest(channel="mix", data=b"\x00\xffbinary")
            ),
        ]
    )
    assert json_client.sink.closed == (3506, "inappropriate protocol")
    assert pb.sink.closed is None


class _Deaf:
    """A broker event handler that drops everything: publications are lost in transit."""

    def handle_publication(self, *args: object) -> None: ...

    def handle_join(self, *args: object) -> None: ...

    def handle_leave(self, *args: object) -> None: ...

    def handle_control(self, *args: object) -> None: ...


async def test_position_check_detects_lost_publication_hr03() -> None:
    node = make_node()
    c = Client(node)
    await c.connect(token())
    await c.cmd(subscribe={"channel": "lost", "token": sub_token("lost")})
    c.sink.take()
    node.broker.set_event_handler(_Deaf())
    await node.publish("lost", b"{}", node.rules.options("lost"))
    node.broker.set_event_handler(node)
    node.handle_pubsub_lost(["lost"])  # PUB/SUB was lost, check positions now
    for _ in range(5):
        await asyncio.sleep(0)
    assert c.sink.take() == [
        {"push": {"channel": "lost", "unsubscribe": {"code": 2500, "reason": "insufficient state"}}}
    ]


async def test_position_check_quiet_when_nothing_lost() -> None:
    node = make_node()
    c = Client(node)
    await c.connect(token())
    await c.cmd(subscribe={"channel": "ok", "token": sub_token("ok")})
    await c.cmd(publish={"channel": "ok", "data": {}})
    c.sink.take()
    await c.session.check_position(c.session.subs["ok"])
    assert c.sink.take() == [] and "ok" in c.session.subs


async def test_presence_is_refreshed_periodically_pr01() -> None:
    node = make_node(
        {"client.presence_update_interval": "0.1s", "client.channel_position_check_delay": "5s"}
    )
    c = Client(node)
    await c.connect(token())
    await c.cmd(subscribe={"channel": "p", "token": sub_token("p")})
    await node.presence_manager.remove_presence("p", c.session.client_id, "42")
    assert await node.presence_manager.presence("p") == {}
    await asyncio.sleep(0.35)
    assert set(await node.presence_manager.presence("p")) == {c.session.client_id}
