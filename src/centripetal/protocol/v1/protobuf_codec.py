"""Protobuf codec of the legacy client protocol v1 (spec §2, L-01..L-06, L-15).

Envelopes (field numbers of the v1 ``client.proto``):
``Command{id=1 uint32, method=2 enum, params=3 bytes}``,
``Reply{id=1 uint32, error=2 Error{code=1, message=2}, result=3 bytes}``,
``Push{type=1 enum, channel=2 string, data=3 bytes}`` (sent as ``Reply{result=Push}``).
The envelopes are three fields each and are read and written by hand; request, result and push
bodies are v2 messages restricted to their v1 fields, whose numbers v2 kept (§1.9), so they
go through the generated v2 classes. Framing is v2's varint length prefix (L-01).
"""

from __future__ import annotations

import msgspec

from centripetal.engines.base import ClientInfo
from centripetal.protocol import client_pb2 as pb
from centripetal.protocol import messages as m
from centripetal.protocol import protobuf_codec as v2
from centripetal.protocol.codec import PushEncoders
from centripetal.protocol.codes import DecodeError
from centripetal.protocol.v1 import common

__all__ = [
    "PROTOBUF_V1_CODEC",
    "ProtobufV1Codec",
    "decode_commands",
    "encode_join_push",
    "encode_leave_push",
    "encode_pub_push",
    "encode_push_reply",
    "encode_reply",
    "read_fields",
]

uvarint = v2.uvarint
read_uvarint = v2.read_uvarint


def _ld(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag byte, varint length, payload."""
    return tag + uvarint(len(payload)) + payload


def read_fields(msg: bytes) -> list[tuple[int, int, int | bytes]]:
    """The top-level fields of one protobuf message as (number, wire type, value). Varints
    give ints, length-delimited fields bytes, fixed32/fixed64 their raw bytes. Raises
    ``DecodeError`` on truncated input, groups and unknown wire types."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    end = len(msg)
    while pos < end:
        key, pos = read_uvarint(msg, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise DecodeError("field number 0")
        value: int | bytes
        if wire == 0:
            value, pos = read_uvarint(msg, pos)
        elif wire == 2:
            size, pos = read_uvarint(msg, pos)
            if size > end - pos:
                raise DecodeError("truncated field")
            value = msg[pos : pos + size]
            pos += size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if size > end - pos:
                raise DecodeError("truncated field")
            value = msg[pos : pos + size]
            pos += size
        else:
            raise DecodeError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _decode_one(msg: bytes) -> m.Command:
    cmd_id = method = 0
    params = b""
    for number, wire, value in read_fields(msg):
        if number == 1 and wire == 0 and isinstance(value, int):
            cmd_id = value & 0xFFFFFFFF  # uint32
        elif number == 2 and wire == 0 and isinstance(value, int):
            # enum MethodType, an int32: the low 32 bits, signed (as Go reads it)
            method = value & 0xFFFFFFFF
            if method > 0x7FFFFFFF:
                method -= 1 << 32
        elif number == 3 and wire == 2 and isinstance(value, bytes):
            params = value
        elif number in (1, 2, 3):
            raise DecodeError(f"field {number} has wire type {wire}")
    cls = common.request_class(method)
    if cls is None:
        return common.command_from_request(cmd_id, method, None)
    try:
        request = v2.from_pb(cls, getattr(pb, cls.__name__).FromString(params))
    except Exception as exc:  # undecodable params are a protocol violation
        raise DecodeError(f"invalid params: {exc}") from None
    return common.command_from_request(cmd_id, method, request)


def decode_commands(frame: bytes, *, max_commands: int = 0) -> list[m.Command]:
    """Varint-length-delimited v1 commands (L-01, L-02). Raises ``DecodeError`` (P-13), and
    nothing else, on any input; also when the frame holds more than ``max_commands`` commands
    (0: no limit), counted from the length prefixes before any command is decoded."""
    frame = bytes(frame)
    try:
        if frame:
            size, pos = read_uvarint(frame, 0)
            if pos + size == len(frame):  # one message, the common case: no span list
                return [_decode_one(frame[pos:])]
        spans = v2.message_spans(frame, max_commands)
        return [_decode_one(frame[start:stop]) for start, stop in spans]
    except DecodeError:
        raise
    except Exception as exc:  # any undecodable input is a protocol violation (P-13)
        raise DecodeError(f"invalid protobuf message: {exc}") from None


def _body(msg: msgspec.Struct) -> bytes:
    return bytes(v2.to_pb(msg).SerializeToString())


def _reply(cmd_id: int, error: bytes, result: bytes | None) -> bytes:
    out = b"\x08" + uvarint(cmd_id) if cmd_id else b""
    if error:
        out += _ld(b"\x12", error)
    if result is not None:
        out += _ld(b"\x1a", result)
    return out


def encode_reply(reply: m.Reply) -> bytes:
    """A v2 reply as a v1 ``Reply`` (L-04); a ping reply has no result (L-09)."""
    if reply.push is not None:
        return encode_push_reply(reply.push)
    if reply.error is not None:
        err = reply.error
        body = (b"\x08" + uvarint(err.code) if err.code else b"") + (
            _ld(b"\x12", err.message.encode()) if err.message else b""
        )
        return _reply(reply.id, body, None)
    result = common.reply_result(reply)
    return _reply(reply.id, b"", None if result is None else _body(result))


def _push(push_type: int, channel: str, data: bytes) -> bytes:
    body = b"\x08" + uvarint(push_type) if push_type else b""
    if channel:
        body += _ld(b"\x12", channel.encode())
    if data:
        body += _ld(b"\x1a", data)
    return _ld(b"\x1a", body)


def encode_push_reply(push: m.Push) -> bytes:
    """``Reply{result: Push{type, channel, data}}`` (L-05, L-06)."""
    push_type, body = common.push_body(push)
    return _push(push_type, push.channel, _body(body))


def ping_message() -> bytes:
    """Never sent: v1 clients ping the server (L-09, L-53)."""
    return b""


# -- hot-path pushes -------------------------------------------------------------------------------


def _info(info: ClientInfo) -> bytes:
    # ClientInfo: 1 user, 2 client, 3 conn_info, 4 chan_info
    s = _ld(b"\x0a", info.user.encode()) if info.user else b""
    if info.client:
        s += _ld(b"\x12", info.client.encode())
    if info.conn_info:
        s += _ld(b"\x1a", info.conn_info)
    if info.chan_info:
        s += _ld(b"\x22", info.chan_info)
    return s


def encode_pub_push(
    channel: str,
    data: bytes,
    info: ClientInfo | None,
    offset: int,
    tags: dict[str, str] | None,
    delta: bool = False,
    time: int = 0,
    data_as_string: bool = False,
    epoch: str = "",
) -> bytes:
    """``Reply{result: Push{channel, data: Publication{data=4, info=5, offset=6}}}`` (L-06).
    The v2-only ``tags``, ``delta``, ``time``, ``epoch`` are not part of v1 and are ignored."""
    pub = _ld(b"\x22", data) if data else b""
    if info is not None:
        pub += _ld(b"\x2a", _info(info))
    if offset:
        pub += b"\x30" + uvarint(offset)
    return _push(0, channel, pub)


def encode_join_push(channel: str, info: ClientInfo) -> bytes:
    """``Push{type=JOIN(1), channel, data: Join{info=1}}`` (L-06)."""
    return _push(1, channel, _ld(b"\x0a", _info(info)))


def encode_leave_push(channel: str, info: ClientInfo) -> bytes:
    """``Push{type=LEAVE(2), channel, data: Leave{info=1}}`` (L-06)."""
    return _push(2, channel, _ld(b"\x0a", _info(info)))


class ProtobufV1Codec(PushEncoders):
    """The protobuf protocol v1 implementation of :class:`centripetal.protocol.codec.Codec`;
    selected by ``?format=protobuf`` (L-15) or the ``centrifuge-protobuf`` subprotocol."""

    name = "protobuf"
    binary = True
    slot = 3
    legacy = True
    decode_commands = staticmethod(decode_commands)
    encode_reply = staticmethod(encode_reply)
    encode_push_reply = staticmethod(encode_push_reply)
    frame = staticmethod(v2.frame)
    frame_one = staticmethod(v2.frame_one)
    ping_message = staticmethod(ping_message)
    encode_pub_push = staticmethod(encode_pub_push)
    encode_join_push = staticmethod(encode_join_push)
    encode_leave_push = staticmethod(encode_leave_push)
    close_frame = staticmethod(common.close_frame)


PROTOBUF_V1_CODEC = ProtobufV1Codec()
