"""Client protocol v1, JSON codec: commands, replies, pushes (spec §2 L-02..L-07, TV-14)."""

from __future__ import annotations

import json

import pytest

from centripetal.engines.base import ClientInfo
from centripetal.protocol import messages as m
from centripetal.protocol.codes import DecodeError
from centripetal.protocol.v1.json_codec import JSON_V1_CODEC as C

INFO = ClientInfo(user="tutorial-user", client="c1")


def one(frame: str) -> m.Command:
    (cmd,) = C.decode_commands(frame.encode())
    return cmd


# -- commands (L-02, L-03) -------------------------------------------------------------------------


def test_tv14_connect_without_method_is_connect_l02() -> None:
    assert one('{"id":1,"params":{"token":"T"}}') == m.Command(
        id=1, connect=m.ConnectRequest(token="T")
    )


def test_connect_params_l11() -> None:
    cmd = one(
        '{"id":1,"params":{"token":"T","data":{"a":1},"name":"js","version":"2.8.3",'
        '"subs":{"news":{"recover":true,"offset":3,"epoch":"e"}}}}'
    )
    assert cmd.connect == m.ConnectRequest(
        token="T",
        data=b'{"a":1}',
        name="js",
        version="2.8.3",
        subs={"news": m.SubscribeRequest(recover=True, offset=3, epoch="e")},
    )


def test_connect_without_params_l02() -> None:
    assert one('{"id":1}') == m.Command(id=1, connect=m.ConnectRequest())
    assert one('{"id":1,"params":null}') == m.Command(id=1, connect=m.ConnectRequest())


def test_tv14_subscribe_l12() -> None:
    assert one('{"id":2,"method":1,"params":{"channel":"rooms:lobby"}}') == m.Command(
        id=2, subscribe=m.SubscribeRequest(channel="rooms:lobby")
    )


def test_subscribe_recovery_fields_and_v2_only_fields_dropped_l12_l58() -> None:
    cmd = one(
        '{"id":2,"method":1,"params":{"channel":"c","token":"t","recover":true,"offset":7,'
        '"epoch":"ab","data":{"x":1},"seq":3,"gen":1,"delta":"fossil","join_leave":true,'
        '"positioned":true}}'
    )
    assert cmd.subscribe == m.SubscribeRequest(
        channel="c", token="t", recover=True, offset=7, epoch="ab", data=b'{"x":1}'
    )


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (
            '{"id":3,"method":2,"params":{"channel":"c"}}',
            m.Command(id=3, unsubscribe=m.UnsubscribeRequest(channel="c")),
        ),
        (
            '{"id":3,"method":3,"params":{"channel":"rooms:lobby","data":{"message":"hi"}}}',
            m.Command(
                id=3, publish=m.PublishRequest(channel="rooms:lobby", data=b'{"message":"hi"}')
            ),
        ),
        (
            '{"id":4,"method":4,"params":{"channel":"c"}}',
            m.Command(id=4, presence=m.PresenceRequest(channel="c")),
        ),
        (
            '{"id":5,"method":5,"params":{"channel":"c"}}',
            m.Command(id=5, presence_stats=m.PresenceStatsRequest(channel="c")),
        ),
        (
            '{"id":6,"method":6,"params":{"channel":"c","limit":2,"since":{"offset":1,"epoch":"e"},"reverse":true}}',
            m.Command(
                id=6,
                history=m.HistoryRequest(
                    channel="c", limit=2, since=m.StreamPosition(offset=1, epoch="e"), reverse=True
                ),
            ),
        ),
        ('{"id":4,"method":7}', m.Command(id=4, ping=m.PingRequest())),
        ('{"method":8,"params":{"data":{"x":1}}}', m.Command(send=m.SendRequest(data=b'{"x":1}'))),
        (
            '{"id":9,"method":9,"params":{"method":"getPrice","data":{"id":1}}}',
            m.Command(id=9, rpc=m.RPCRequest(method="getPrice", data=b'{"id":1}')),
        ),
        (
            '{"id":10,"method":10,"params":{"token":"T2"}}',
            m.Command(id=10, refresh=m.RefreshRequest(token="T2")),
        ),
        (
            '{"id":11,"method":11,"params":{"channel":"$c","token":"S"}}',
            m.Command(id=11, sub_refresh=m.SubRefreshRequest(channel="$c", token="S")),
        ),
    ],
)
def test_each_method_maps_to_its_v2_request_l03_l13(frame: str, expected: m.Command) -> None:
    assert one(frame) == expected


@pytest.mark.parametrize("method", [12, 99, -1])
def test_unknown_method_is_a_command_without_request_l03(method: int) -> None:
    assert one(f'{{"id":7,"method":{method},"params":{{}}}}') == m.Command(id=7)


def test_batch_of_commands_in_order_l01() -> None:
    cmds = C.decode_commands(
        b'{"id":1,"params":{}}\n{"id":2,"method":1,"params":{"channel":"a"}}\n\n{"id":3,"method":7}'
    )
    assert [c.id for c in cmds] == [1, 2, 3]
    assert cmds[1].subscribe == m.SubscribeRequest(channel="a")
    assert cmds[2].ping == m.PingRequest()


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\n",
        b"not json",
        b"[1,2]",
        b'{"id":"1","method":1}',
        b'{"id":1,"method":"ping"}',
        b'{"id":1,"method":1,"params":[1]}',
        b'{"id":1,"method":1,"params":"x"}',
        b'{"id":-1,"method":7}',
        b'{"id":1,"method":1,"params":{"channel":5}}',
    ],
)
def test_malformed_frames_raise_decode_error(frame: bytes) -> None:
    with pytest.raises(DecodeError):
        C.decode_commands(frame)


# -- replies (L-04) --------------------------------------------------------------------------------


def test_tv14_connect_reply_has_v1_fields_only_l57() -> None:
    reply = m.Reply(
        id=1,
        connect=m.ConnectResult(
            client="abc", version="3.1.1", ping=25, pong=True, session="s", node="n", time=5
        ),
    )
    assert C.encode_reply(reply) == b'{"id":1,"result":{"client":"abc","version":"3.1.1"}}'


def test_connect_reply_expires_ttl_data_subs_l11() -> None:
    reply = m.Reply(
        id=1,
        connect=m.ConnectResult(
            client="abc",
            version="v",
            expires=True,
            ttl=60,
            data=b'{"d":1}',
            subs={"news": m.SubscribeResult(recoverable=True, epoch="e", was_recovering=True)},
        ),
    )
    assert json.loads(C.encode_reply(reply)) == {
        "id": 1,
        "result": {
            "client": "abc",
            "version": "v",
            "expires": True,
            "ttl": 60,
            "data": {"d": 1},
            "subs": {"news": {"recoverable": True, "epoch": "e"}},
        },
    }


def test_tv14_empty_results_are_kept_l04() -> None:
    assert C.encode_reply(m.Reply(id=2, subscribe=m.SubscribeResult())) == b'{"id":2,"result":{}}'
    assert C.encode_reply(m.Reply(id=3, publish=m.PublishResult())) == b'{"id":3,"result":{}}'
    assert C.encode_reply(m.Reply(id=5, unsubscribe=m.UnsubscribeResult())) == (
        b'{"id":5,"result":{}}'
    )


def test_tv14_ping_reply_has_no_result_l09() -> None:
    assert C.encode_reply(m.Reply(id=4)) == b'{"id":4}'
    assert C.encode_reply(m.Reply(id=4, ping=m.PingResult())) == b'{"id":4}'


def test_error_reply_has_no_temporary_l55() -> None:
    reply = m.Reply(id=4, error=m.Error(code=100, message="internal server error", temporary=True))
    assert (
        C.encode_reply(reply) == b'{"id":4,"error":{"code":100,"message":"internal server error"}}'
    )


def test_subscribe_result_drops_v2_fields_l58() -> None:
    pub = m.Publication(data=b'{"a":1}', offset=2, tags={"k": "v"}, time=9)
    reply = m.Reply(
        id=6,
        subscribe=m.SubscribeResult(
            recoverable=True,
            epoch="e",
            publications=[pub],
            recovered=True,
            offset=1,
            positioned=True,
            was_recovering=True,
            delta=True,
        ),
    )
    assert C.encode_reply(reply) == (
        b'{"id":6,"result":{"recoverable":true,"epoch":"e","publications":'
        b'[{"data":{"a":1},"offset":2}],"recovered":true,"offset":1,"positioned":true}}'
    )


def test_history_presence_stats_rpc_refresh_results_l13() -> None:
    hist = m.Reply(id=7, history=m.HistoryResult(publications=[], epoch="e", offset=0))
    assert C.encode_reply(hist) == b'{"id":7,"result":{"publications":[],"epoch":"e","offset":0}}'
    stats = m.Reply(id=8, presence_stats=m.PresenceStatsResult(num_clients=2, num_users=1))
    assert C.encode_reply(stats) == b'{"id":8,"result":{"num_clients":2,"num_users":1}}'
    pres = m.Reply(
        id=9, presence=m.PresenceResult(presence={"c1": m.ClientInfo(user="u", client="c1")})
    )
    assert C.encode_reply(pres) == (
        b'{"id":9,"result":{"presence":{"c1":{"user":"u","client":"c1"}}}}'
    )
    rpc = m.Reply(id=10, rpc=m.RPCResult(data=b'{"r":1}'))
    assert C.encode_reply(rpc) == b'{"id":10,"result":{"data":{"r":1}}}'
    ref = m.Reply(id=11, refresh=m.RefreshResult(client="c", version="v", expires=True, ttl=5))
    assert C.encode_reply(ref) == (
        b'{"id":11,"result":{"client":"c","version":"v","expires":true,"ttl":5}}'
    )
    sref = m.Reply(id=12, sub_refresh=m.SubRefreshResult(expires=True, ttl=3))
    assert C.encode_reply(sref) == b'{"id":12,"result":{"expires":true,"ttl":3}}'


# -- pushes (L-05..L-07) ---------------------------------------------------------------------------


def test_tv14_publication_push_l07() -> None:
    assert C.encode_pub_push("rooms:lobby", b'{"message":"hello"}', INFO, 0, None) == (
        b'{"result":{"channel":"rooms:lobby","data":{"data":{"message":"hello"},'
        b'"info":{"user":"tutorial-user","client":"c1"}}}}'
    )


def test_publication_push_offset_no_v2_fields_l06() -> None:
    msg = C.encode_pub_push("c", b'{"a":\n1}', None, 7, {"k": "v"}, delta=False, time=5)
    assert msg == b'{"result":{"channel":"c","data":{"data":{"a":1},"offset":7}}}'


def test_publication_push_info_with_conn_and_chan_info_l07() -> None:
    info = ClientInfo(user="u", client="c", conn_info=b'{"n":1}', chan_info=b'{"m":2}')
    assert json.loads(C.encode_pub_push("c", b"1", info, 0, None)) == {
        "result": {
            "channel": "c",
            "data": {
                "data": 1,
                "info": {"user": "u", "client": "c", "conn_info": {"n": 1}, "chan_info": {"m": 2}},
            },
        }
    }


def test_tv14_join_and_leave_pushes_l06_l07() -> None:
    assert C.encode_join_push("rooms:lobby", INFO) == (
        b'{"result":{"type":1,"channel":"rooms:lobby","data":{"info":'
        b'{"user":"tutorial-user","client":"c1"}}}}'
    )
    assert C.encode_leave_push("rooms:lobby", INFO) == (
        b'{"result":{"type":2,"channel":"rooms:lobby","data":{"info":'
        b'{"user":"tutorial-user","client":"c1"}}}}'
    )


def test_unsubscribe_push_is_empty_l56() -> None:
    assert C.encode_unsubscribe_push("c", 2000, "server unsubscribe") == (
        b'{"result":{"type":3,"channel":"c","data":{}}}'
    )


def test_message_subscribe_connect_disconnect_refresh_pushes_l06() -> None:
    assert C.encode_message_push(b'{"x":1}') == b'{"result":{"type":4,"data":{"data":{"x":1}}}}'
    assert C.encode_subscribe_push("news", recoverable=True, epoch="e", offset=3) == (
        b'{"result":{"type":5,"channel":"news","data":{"recoverable":true,"epoch":"e","offset":3}}}'
    )
    push = m.Push(connect=m.Connect(client="c", version="v", ping=25, session="s"))
    assert C.encode_push_reply(push) == (
        b'{"result":{"type":6,"data":{"client":"c","version":"v"}}}'
    )
    assert C.encode_disconnect_push(3503, "force disconnect") == (
        b'{"result":{"type":7,"data":{"code":3012,"reason":"force disconnect"}}}'
    )
    assert C.encode_disconnect_push(3001, "shutdown") == (
        b'{"result":{"type":7,"data":{"code":3001,"reason":"shutdown","reconnect":true}}}'
    )
    assert C.encode_refresh_push(True, 60) == (
        b'{"result":{"type":8,"data":{"expires":true,"ttl":60}}}'
    )


def test_reply_carrying_a_push_is_encoded_as_v1_push_l05() -> None:
    reply = m.Reply(push=m.Push(channel="c", join=m.Join(info=m.ClientInfo(user="u", client="x"))))
    assert C.encode_reply(reply) == (
        b'{"result":{"type":1,"channel":"c","data":{"info":{"user":"u","client":"x"}}}}'
    )


def test_codec_identity_slot_and_flags() -> None:
    assert (C.name, C.binary, C.slot, C.legacy) == ("json", False, 2, True)
    assert C.frame([b"{}", b'{"id":1}']) == b'{}\n{"id":1}'
