"""JSON codec: framing (P-02), names (P-07), raw payloads (P-08), omission (P-10, P-11),
Appendix A vectors TV-01, TV-03..TV-09."""

from __future__ import annotations

import json
from typing import Any

import pytest

from centripetal.engines.base import ClientInfo
from centripetal.protocol import json_codec as jc
from centripetal.protocol import messages as m
from centripetal.protocol.codec import DecodeError, get_codec

JSON = jc.JSON_CODEC


def parse(data: bytes) -> Any:
    return json.loads(data)


# -- decoding commands -------------------------------------------------------------------------


def test_tv01_decode_connect() -> None:
    (cmd,) = jc.decode_commands(b'{"id":1,"connect":{"token":"<JWT>","name":"js"}}')
    assert cmd == m.Command(id=1, connect=m.ConnectRequest(token="<JWT>", name="js"))


def test_tv03_decode_subscribe() -> None:
    (cmd,) = jc.decode_commands(b'{"id":2,"subscribe":{"channel":"chat:index"}}')
    assert cmd.id == 2
    assert cmd.subscribe == m.SubscribeRequest(channel="chat:index")
    assert cmd.connect is None and cmd.publish is None


def test_decode_current_sdk_subscribe_with_flag_p31() -> None:
    frame = b'{"id":3,"subscribe":{"channel":"ch","recover":true,"offset":7,"epoch":"e","flag":1}}'
    (cmd,) = jc.decode_commands(frame)
    assert cmd.subscribe == m.SubscribeRequest(
        channel="ch", recover=True, offset=7, epoch="e", flag=1
    )


def test_tv04_publish_data_is_raw_json_text_p08() -> None:
    (cmd,) = jc.decode_commands(
        b'{"id":3,"publish":{"channel":"chat:index","data": {"text" : "yo"}}}'
    )
    assert cmd.publish is not None
    assert cmd.publish.data == b'{"text" : "yo"}'  # exact raw text, no re-encoding


def test_tv06_decode_recovery_subscribe() -> None:
    (cmd,) = jc.decode_commands(
        b'{"id":6,"subscribe":{"channel":"chat:index","recover":true,"offset":1,"epoch":"xYzAbCdE"}}'
    )
    assert cmd.subscribe == m.SubscribeRequest(
        channel="chat:index", recover=True, offset=1, epoch="xYzAbCdE"
    )


def test_tv07_decode_history_with_since() -> None:
    (cmd,) = jc.decode_commands(
        b'{"id":5,"history":{"channel":"c","limit":2,"since":{"offset":3,"epoch":"q"},"reverse":true}}'
    )
    assert cmd.history == m.HistoryRequest(
        channel="c", limit=2, since=m.StreamPosition(offset=3, epoch="q"), reverse=True
    )


def test_unknown_fields_ignored_gap02() -> None:
    (cmd,) = jc.decode_commands(
        b'{"id":1,"future":[1,2],"connect":{"token":"t","dict":1,"profile":"p","zzz":{}}}'
    )
    assert cmd.id == 1
    assert cmd.connect is not None and cmd.connect.token == "t"


def test_connect_subs_and_headers_maps() -> None:
    (cmd,) = jc.decode_commands(
        b'{"id":1,"connect":{"subs":{"news":{"recover":true,"offset":4,"epoch":"e"}},'
        b'"headers":{"X-A":"1"},"data":{"k":1}}}'
    )
    assert cmd.connect == m.ConnectRequest(
        subs={"news": m.SubscribeRequest(recover=True, offset=4, epoch="e")},
        headers={"X-A": "1"},
        data=b'{"k":1}',
    )


def test_filter_node_tree_decodes_recursively() -> None:
    (cmd,) = jc.decode_commands(
        b'{"id":1,"subscribe":{"channel":"c","tf":{"op":"and","nodes":'
        b'[{"key":"a","cmp":"eq","val":"1"},{"key":"b","cmp":"in","vals":["x","y"]}]}}}'
    )
    assert cmd.subscribe is not None
    assert cmd.subscribe.tf == m.FilterNode(
        op="and",
        nodes=[
            m.FilterNode(key="a", cmp="eq", val="1"),
            m.FilterNode(key="b", cmp="in", vals=["x", "y"]),
        ],
    )


def test_batch_of_commands_in_order_p02() -> None:
    frame = (
        b'{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"a"}}\n'
        b'{"id":3,"rpc":{"method":"m","data":[1]}}'
    )
    cmds = jc.decode_commands(frame)
    assert [c.id for c in cmds] == [1, 2, 3]
    assert cmds[2].rpc == m.RPCRequest(method="m", data=b"[1]")


@pytest.mark.parametrize(
    "frame",
    [b'{"id":1}\n{"id":2}\n', b'{"id":1}\n\n{"id":2}', b'\n{"id":1}\r\n  \n{"id":2}\n\n'],
)
def test_trailing_newline_and_blank_lines_p02(frame: bytes) -> None:
    assert [c.id for c in jc.decode_commands(frame)] == [1, 2]


def test_pong_is_empty_command_tv02() -> None:
    assert jc.decode_commands(b"{}") == [m.Command()]


def test_send_without_id_p38() -> None:
    assert jc.decode_commands(b'{"send":{"data":"hi"}}') == [
        m.Command(send=m.SendRequest(data=b'"hi"'))
    ]


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\n\n",
        b"   ",
        b"{",
        b"[]",
        b"null",
        b'{"id":"1"}',
        b'{"id":1,"subscribe":{"channel":5}}',
        b'{"id":1,"subscribe":{"recover":"yes"}}',
        b'{"id":1}\n{oops}',
        b"\xff\xfe",
        b'{"id":1,"publish":{"data":}}',
    ],
)
def test_undecodable_frames_raise_decode_error_p13(frame: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        jc.decode_commands(frame)
    assert info.value.disconnect.code == 3501
    assert info.value.disconnect.reason == "bad request"


# -- encoding replies ------------------------------------------------------------------------------


def test_tv01_connect_reply() -> None:
    reply = m.Reply(
        id=1,
        connect=m.ConnectResult(
            client="9ac9de4e", version="6.9.1 OSS", expires=True, ttl=3599, ping=25, pong=True
        ),
    )
    out = jc.encode_reply(reply)
    assert parse(out) == {
        "id": 1,
        "connect": {
            "client": "9ac9de4e",
            "version": "6.9.1 OSS",
            "expires": True,
            "ttl": 3599,
            "ping": 25,
            "pong": True,
        },
    }
    assert out.startswith(b'{"id":1,"connect":{"client":')  # proto field order


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (m.Reply(id=2, subscribe=m.SubscribeResult()), b'{"id":2,"subscribe":{}}'),
        (m.Reply(id=3, publish=m.PublishResult()), b'{"id":3,"publish":{}}'),
        (m.Reply(id=4, unsubscribe=m.UnsubscribeResult()), b'{"id":4,"unsubscribe":{}}'),
        (m.Reply(id=5, rpc=m.RPCResult()), b'{"id":5,"rpc":{}}'),
        (m.Reply(id=6, sub_refresh=m.SubRefreshResult()), b'{"id":6,"sub_refresh":{}}'),
        (m.Reply(id=7, refresh=m.RefreshResult()), b'{"id":7,"refresh":{}}'),
    ],
)
def test_empty_results_are_present_p11(reply: m.Reply, expected: bytes) -> None:
    assert jc.encode_reply(reply) == expected


def test_always_emitted_fields_p10() -> None:
    assert parse(jc.encode_reply(m.Reply(id=1, presence_stats=m.PresenceStatsResult()))) == {
        "id": 1,
        "presence_stats": {"num_clients": 0, "num_users": 0},
    }
    assert parse(jc.encode_reply(m.Reply(id=2, history=m.HistoryResult()))) == {
        "id": 2,
        "history": {"publications": [], "epoch": "", "offset": 0},
    }
    assert parse(jc.encode_reply(m.Reply(id=3, presence=m.PresenceResult()))) == {
        "id": 3,
        "presence": {"presence": {}},
    }
    presence = m.PresenceResult(presence={"c1": m.ClientInfo()})
    assert parse(jc.encode_reply(m.Reply(id=4, presence=presence))) == {
        "id": 4,
        "presence": {"presence": {"c1": {"user": "", "client": ""}}},
    }


def test_zero_values_omitted_elsewhere_p10() -> None:
    result = m.SubscribeResult(recoverable=False, epoch="", offset=0, publications=[], data=b"")
    assert jc.encode_reply(m.Reply(id=1, subscribe=result)) == b'{"id":1,"subscribe":{}}'
    pub = m.Publication(data=b"{}", tags={})
    assert jc.encode_reply(m.Reply(history=m.HistoryResult(publications=[pub]))) == (
        b'{"history":{"publications":[{"data":{}}],"epoch":"","offset":0}}'
    )


def test_tv05_error_replies() -> None:
    assert parse(
        jc.encode_reply(m.Reply(id=4, error=m.Error(code=108, message="not available")))
    ) == {
        "id": 4,
        "error": {"code": 108, "message": "not available"},
    }
    err = m.Error(code=100, message="internal server error", temporary=True)
    assert parse(jc.encode_reply(m.Reply(id=1, error=err))) == {
        "id": 1,
        "error": {"code": 100, "message": "internal server error", "temporary": True},
    }


def test_tv06_recovery_reply() -> None:
    result = m.SubscribeResult(
        recoverable=True,
        epoch="xYzAbCdE",
        publications=[m.Publication(data=b'{"n":2}', offset=2)],
        recovered=True,
        offset=1,
        positioned=True,
        was_recovering=True,
    )
    assert parse(jc.encode_reply(m.Reply(id=6, subscribe=result))) == {
        "id": 6,
        "subscribe": {
            "recoverable": True,
            "epoch": "xYzAbCdE",
            "publications": [{"data": {"n": 2}, "offset": 2}],
            "recovered": True,
            "offset": 1,
            "positioned": True,
            "was_recovering": True,
        },
    }


def test_tv07_history_reply() -> None:
    result = m.HistoryResult(
        publications=[
            m.Publication(data=b'{"a":1}', offset=2),
            m.Publication(data=b'{"a":2}', offset=3),
        ],
        epoch="qFhv",
        offset=4,
    )
    assert parse(jc.encode_reply(m.Reply(id=5, history=result))) == {
        "id": 5,
        "history": {
            "publications": [{"data": {"a": 1}, "offset": 2}, {"data": {"a": 2}, "offset": 3}],
            "epoch": "qFhv",
            "offset": 4,
        },
    }


def test_raw_payloads_embedded_and_newlines_stripped_p08() -> None:
    info = m.ClientInfo(user="u", client="c", conn_info=b'{\n"a": 1\n}', chan_info=b"[1,\n2]")
    reply = m.Reply(id=9, rpc=m.RPCResult(data=b'{"x":\n"y"}'))
    assert jc.encode_reply(reply) == b'{"id":9,"rpc":{"data":{"x":"y"}}}'
    out = jc.encode_reply(m.Reply(push=m.Push(channel="c", join=m.Join(info=info))))
    assert out == (
        b'{"push":{"channel":"c","join":{"info":{"user":"u","client":"c",'
        b'"conn_info":{"a": 1},"chan_info":[1,2]}}}}'
    )


def test_ping_message_p25() -> None:
    assert jc.ping_message() == b"{}"
    assert jc.encode_reply(m.Reply()) == b"{}"
    assert jc.frame([jc.ping_message()]) == b"{}"


def test_frame_joins_without_trailing_newline_p02() -> None:
    assert jc.frame([b'{"id":1}', b"{}", b'{"id":2}']) == b'{"id":1}\n{}\n{"id":2}'
    assert jc.frame_one(b'{"id":1}') == b'{"id":1}'


def test_batch_replies_round_trip() -> None:
    replies = [
        m.Reply(id=1, subscribe=m.SubscribeResult()),
        m.Reply(),
        m.Reply(push=m.Push(channel="c", pub=m.Publication(data=b"[1]"))),
    ]
    frame = jc.frame([jc.encode_reply(r) for r in replies])
    assert jc.decode_replies(frame) == replies


# -- pushes ---------------------------------------------------------------------------------


def test_tv03_publication_push() -> None:
    out = jc.encode_pub_push("chat:index", b'{"text":"hi"}', None, 0, None)
    assert out == b'{"push":{"channel":"chat:index","pub":{"data":{"text":"hi"}}}}'


def test_tv04_publication_push_with_info() -> None:
    info = ClientInfo(user="42", client="9ac9")
    out = jc.encode_pub_push("chat:index", b'{"text":"yo"}', info, 0, None)
    assert parse(out) == {
        "push": {
            "channel": "chat:index",
            "pub": {"data": {"text": "yo"}, "info": {"user": "42", "client": "9ac9"}},
        }
    }


def test_publication_push_all_fields_match_generic_encoder() -> None:
    info = ClientInfo(user="", client="c", conn_info=b'{"a":1}', chan_info=b'{"b":\n2}')
    out = jc.encode_pub_push("ch", b'{"x":\n1}', info, 5, {"k": "v"}, delta=True, time=1700)
    wire_info = m.ClientInfo(user="", client="c", conn_info=b'{"a":1}', chan_info=b'{"b":\n2}')
    pub = m.Publication(
        data=b'{"x":\n1}', info=wire_info, offset=5, tags={"k": "v"}, delta=True, time=1700
    )
    assert out == jc.encode_reply(m.Reply(push=m.Push(channel="ch", pub=pub)))
    assert parse(out)["push"]["pub"] == {
        "data": {"x": 1},
        "info": {"user": "", "client": "c", "conn_info": {"a": 1}, "chan_info": {"b": 2}},
        "offset": 5,
        "tags": {"k": "v"},
        "delta": True,
        "time": 1700,
    }


def test_publication_push_with_offset_and_empty_data() -> None:
    assert jc.encode_pub_push("c", b"{}", None, 5, None) == (
        b'{"push":{"channel":"c","pub":{"data":{},"offset":5}}}'
    )
    assert jc.encode_pub_push("c", b"", None, 0, None) == b'{"push":{"channel":"c","pub":{}}}'
    assert jc.encode_pub_push("c", b"", None, 3, None) == (
        b'{"push":{"channel":"c","pub":{"offset":3}}}'
    )


def test_tv09_delta_data_as_json_string_hr09() -> None:
    first = jc.encode_pub_push("c", b'{"a":1}', None, 5, None, data_as_string=True)
    assert first == b'{"push":{"channel":"c","pub":{"data":"{\\"a\\":1}","offset":5}}}'
    assert parse(first)["push"]["pub"]["data"] == '{"a":1}'
    delta = b"7\n2:{}0;"  # raw delta bytes may contain newlines: kept inside the string
    nxt = jc.encode_pub_push("c", delta, None, 6, None, delta=True, data_as_string=True)
    assert parse(nxt) == {
        "push": {"channel": "c", "pub": {"data": "7\n2:{}0;", "offset": 6, "delta": True}}
    }


def test_tv08_pushes() -> None:
    info = ClientInfo(user="42", client="abc")
    assert parse(jc.encode_join_push("ch", info)) == {
        "push": {"channel": "ch", "join": {"info": {"user": "42", "client": "abc"}}}
    }
    assert parse(jc.encode_leave_push("ch", info)) == {
        "push": {"channel": "ch", "leave": {"info": {"user": "42", "client": "abc"}}}
    }
    assert JSON.encode_unsubscribe_push("ch", 2000, "server unsubscribe") == (
        b'{"push":{"channel":"ch","unsubscribe":{"code":2000,"reason":"server unsubscribe"}}}'
    )
    assert JSON.encode_subscribe_push("news") == b'{"push":{"channel":"news","subscribe":{}}}'
    assert JSON.encode_refresh_push(True, 600) == b'{"push":{"refresh":{"expires":true,"ttl":600}}}'
    assert JSON.encode_disconnect_push(3001, "shutdown") == (
        b'{"push":{"disconnect":{"code":3001,"reason":"shutdown"}}}'
    )
    assert JSON.encode_message_push(b'{"m":1}') == b'{"push":{"message":{"data":{"m":1}}}}'


def test_subscribe_push_with_position_p46() -> None:
    out = JSON.encode_subscribe_push("news", True, "ep", 3, True, b'{"d":1}')
    assert parse(out) == {
        "push": {
            "channel": "news",
            "subscribe": {
                "recoverable": True,
                "epoch": "ep",
                "offset": 3,
                "positioned": True,
                "data": {"d": 1},
            },
        }
    }


def test_join_push_info_newlines_stripped_p08() -> None:
    info = ClientInfo(user="u", client="c", conn_info=b'{"a":\n1}')
    assert jc.encode_join_push("ch", info) == (
        b'{"push":{"channel":"ch","join":{"info":{"user":"u","client":"c","conn_info":{"a":1}}}}}'
    )


def test_get_codec_json() -> None:
    codec = get_codec("json")
    assert codec is jc.JSON_CODEC
    assert (codec.name, codec.binary) == ("json", False)
    assert codec.decode_commands(b'{"id":1}') == [m.Command(id=1)]
    with pytest.raises(ValueError, match="unknown protocol codec 'xml'"):
        get_codec("xml")
