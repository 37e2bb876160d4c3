"""Client protocol v1, protobuf codec (spec §2 L-01..L-06, L-15): envelopes checked byte by
byte against hand-computed vectors, bodies against the v2 messages whose numbers v1 shares."""

from __future__ import annotations

import pytest

from centripetal.engines.base import ClientInfo
from centripetal.protocol import client_pb2 as pb
from centripetal.protocol import messages as m
from centripetal.protocol.codes import DecodeError
from centripetal.protocol.v1.protobuf_codec import PROTOBUF_V1_CODEC as C
from centripetal.protocol.v1.protobuf_codec import read_fields


def framed(*msgs: bytes) -> bytes:
    return C.frame(list(msgs))


def test_connect_without_method_l02() -> None:
    # Command{id=1, params=ConnectRequest{token="t"}}: 08 01 1a 03 0a 01 74
    (cmd,) = C.decode_commands(bytes.fromhex("07 08 01 1a 03 0a 01 74"))
    assert cmd == m.Command(id=1, connect=m.ConnectRequest(token="t"))


def test_subscribe_with_recovery_fields_l12() -> None:
    params = pb.SubscribeRequest(channel="ch", recover=True, offset=5, epoch="e", delta="fossil")
    body = b"\x08\x02\x10\x01\x1a" + bytes([len(params.SerializeToString())])
    body += params.SerializeToString()
    (cmd,) = C.decode_commands(framed(body))
    assert cmd == m.Command(
        id=2, subscribe=m.SubscribeRequest(channel="ch", recover=True, offset=5, epoch="e")
    )


def test_ping_without_params_and_unknown_method_l03_l09() -> None:
    ping, unknown = C.decode_commands(framed(b"\x08\x04\x10\x07", b"\x08\x05\x10\x63"))
    assert ping == m.Command(id=4, ping=m.PingRequest())
    assert unknown == m.Command(id=5)


def test_publish_and_history_params_l13() -> None:
    pub = pb.PublishRequest(channel="c", data=b'{"a":1}').SerializeToString()
    hist = pb.HistoryRequest(
        channel="c", limit=3, since=pb.StreamPosition(offset=2, epoch="x")
    ).SerializeToString()
    cmds = C.decode_commands(
        framed(
            b"\x08\x03\x10\x03\x1a" + bytes([len(pub)]) + pub,
            b"\x08\x06\x10\x06\x1a" + bytes([len(hist)]) + hist,
        )
    )
    assert cmds[0].publish == m.PublishRequest(channel="c", data=b'{"a":1}')
    assert cmds[1].history == m.HistoryRequest(
        channel="c", limit=3, since=m.StreamPosition(offset=2, epoch="x")
    )


def test_unknown_envelope_fields_are_skipped() -> None:
    # field 9 varint, field 10 fixed32, then id=1 method=7
    (cmd,) = C.decode_commands(framed(b"\x48\x01\x55\x00\x00\x00\x00\x08\x01\x10\x07"))
    assert cmd == m.Command(id=1, ping=m.PingRequest())


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\x05\x08",  # truncated message
        b"\x02\x0a\x01",  # id with length-delimited wire type
        b"\x03\x1a\x05\x00",  # truncated params
        b"\x04\x10\x01\x1a\x01",  # params length runs past the message
        b"\x05\x10\x01\x1a\x01\xff",  # params not a SubscribeRequest
        b"\x02\x0b\x00",  # group wire type
        b"\x80",  # truncated length varint
    ],
)
def test_malformed_frames_raise_decode_error(frame: bytes) -> None:
    with pytest.raises(DecodeError):
        C.decode_commands(frame)


def test_read_fields_lists_numbers_wire_types_values() -> None:
    assert read_fields(b"\x08\x96\x01\x12\x02hi\x1d\x01\x02\x03\x04") == [
        (1, 0, 150),
        (2, 2, b"hi"),
        (3, 5, b"\x01\x02\x03\x04"),
    ]


# -- replies (L-04) --------------------------------------------------------------------------------


def test_ping_reply_is_id_only_l09() -> None:
    assert C.encode_reply(m.Reply(id=4)) == b"\x08\x04"


def test_empty_result_is_present_but_empty_l04() -> None:
    assert C.encode_reply(m.Reply(id=2, subscribe=m.SubscribeResult())) == b"\x08\x02\x1a\x00"


def test_error_reply_without_temporary_l55() -> None:
    reply = m.Reply(id=3, error=m.Error(code=103, message="permission denied", temporary=True))
    assert C.encode_reply(reply) == (b"\x08\x03\x12\x15\x08\x67\x12\x11permission denied")


def test_connect_result_body_is_v1_connect_result_l57() -> None:
    reply = m.Reply(
        id=1, connect=m.ConnectResult(client="c", version="3", ttl=9, expires=True, ping=25)
    )
    out = C.encode_reply(reply)
    fields = read_fields(out)
    assert [(n, w) for n, w, _ in fields] == [(1, 0), (3, 2)]
    body = fields[1][2]
    assert isinstance(body, bytes)
    assert body == b"\x0a\x01c\x12\x013\x18\x01\x20\x09"


# -- pushes (L-05, L-06) ---------------------------------------------------------------------------


def test_publication_push_l06() -> None:
    out = C.encode_pub_push("ch", b'{"a":1}', ClientInfo(user="u", client="c"), 5, {"k": "v"})
    # Reply{result: Push{channel="ch", data: Publication{data, info{user,client}, offset}}}
    pub = b'\x22\x07{"a":1}' + b"\x2a\x06\x0a\x01u\x12\x01c" + b"\x30\x05"
    push = b"\x12\x02ch" + b"\x1a" + bytes([len(pub)]) + pub
    assert out == b"\x1a" + bytes([len(push)]) + push


def test_join_leave_unsubscribe_pushes_l06_l56() -> None:
    info = ClientInfo(user="u", client="c")
    join = b"\x08\x01\x12\x01x\x1a\x08\x0a\x06\x0a\x01u\x12\x01c"
    assert C.encode_join_push("x", info) == b"\x1a" + bytes([len(join)]) + join
    leave = b"\x08\x02" + join[2:]
    assert C.encode_leave_push("x", info) == b"\x1a" + bytes([len(leave)]) + leave
    assert C.encode_unsubscribe_push("x", 2000, "server unsubscribe") == (
        b"\x1a\x05\x08\x03\x12\x01x"
    )


def test_disconnect_push_maps_to_v3_table_l06() -> None:
    out = C.encode_disconnect_push(3500, "invalid token")
    body = pb.Disconnect(code=3002, reason="invalid token").SerializeToString()
    push = b"\x08\x07\x1a" + bytes([len(body)]) + body
    assert out == b"\x1a" + bytes([len(push)]) + push


def test_codec_identity_slot_and_flags_l15() -> None:
    assert (C.name, C.binary, C.slot, C.legacy) == ("protobuf", True, 3, True)
    assert C.frame([b"\x08\x01", b""]) == b"\x02\x08\x01\x00"
