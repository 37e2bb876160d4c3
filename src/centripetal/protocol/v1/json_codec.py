"""JSON codec of the legacy client protocol v1 (spec §2, L-01..L-07, TV-14).

Commands ``{"id":N,"method":M,"params":{…}}`` (``method`` omitted = CONNECT, L-02) become v2
``Command`` Structs; v2 replies become ``{"id":N,"result":{…}}`` or
``{"id":N,"error":{"code":…,"message":…}}`` (L-04) and pushes
``{"result":{"type":T,"channel":…,"data":{…}}}`` (L-05, L-06). Framing is the v2 JSON framing
(L-01). The publication/join/leave pushes are built by hand: they run once per event on the
fan-out path and their bytes are shared by every v1 JSON subscriber (DESIGN §5).
"""

from __future__ import annotations

from typing import Any

import msgspec

from centripetal.engines.base import ClientInfo
from centripetal.protocol import json_codec as v2
from centripetal.protocol import messages as m
from centripetal.protocol.codec import PushEncoders
from centripetal.protocol.codes import DecodeError
from centripetal.protocol.ints import Int32, Uint32
from centripetal.protocol.v1 import common

__all__ = [
    "JSON_V1_CODEC",
    "JsonV1Codec",
    "decode_commands",
    "encode_join_push",
    "encode_leave_push",
    "encode_pub_push",
    "encode_push_reply",
    "encode_reply",
]

_encode = msgspec.json.Encoder().encode


class _Envelope(msgspec.Struct):
    """L-02: the v1 command envelope; ``params`` kept as raw JSON. ``id`` is a uint32 and
    ``method`` an int32 enum: other numbers are malformed commands (P-13)."""

    id: Uint32 = 0
    method: Int32 = 0
    params: msgspec.Raw = msgspec.Raw()


_envelope_decoder = msgspec.json.Decoder(_Envelope)
_EMPTY = b"{}"


def _decode_one(line: bytes) -> m.Command:
    env = _envelope_decoder.decode(line)
    field = common.METHOD_FIELDS[env.method] if common.request_class(env.method) else ""
    if not field:
        return common.command_from_request(env.id, env.method, None)
    params = bytes(env.params) or _EMPTY
    if params == b"null":
        params = _EMPTY
    # the v2 decoder reads the request body; splicing raw JSON is safe, it is one JSON value
    (cmd,) = v2.decode_commands(b'{"' + field.encode() + b'":' + params + b"}")
    request = getattr(cmd, field)
    if request is None:
        raise DecodeError("params is not an object")
    return common.command_from_request(env.id, env.method, request)


def decode_commands(frame: bytes, *, max_commands: int = 0) -> list[m.Command]:
    """Newline-delimited v1 commands (L-01, L-02). Raises ``DecodeError`` (3501, shown to the
    client as 3003 bad request, L-33), and nothing else, on any input; also when the frame
    holds more than ``max_commands`` commands (0: no limit), counted before decoding."""
    out = []
    try:
        frame = bytes(frame)
        if 10 not in frame:  # one line, the common case (10 is a newline: a memchr)
            if frame.strip():
                return [_decode_one(frame)]
        elif max_commands:
            v2.check_line_count(frame, max_commands)
        for line in frame.split(b"\n"):
            if line.strip():
                out.append(_decode_one(line))
    except DecodeError:
        raise
    except Exception as exc:  # any undecodable input is a protocol violation
        reason = "nesting too deep" if isinstance(exc, RecursionError) else exc
        raise DecodeError(f"invalid JSON message: {reason}") from None
    if not out:
        raise DecodeError("frame contains no messages")
    return out


def _obj(msg: msgspec.Struct) -> dict[str, Any]:
    return v2.to_json_obj(msg)


def encode_reply(reply: m.Reply) -> bytes:
    """A v2 reply as v1 (L-04): errors without ``temporary``, an empty ``result`` kept
    (``{"id":2,"result":{}}``) except for ping (``{"id":N}``); pushes per L-05."""
    if reply.push is not None:
        return encode_push_reply(reply.push)
    out: dict[str, Any] = {}
    if reply.id:
        out["id"] = reply.id
    if reply.error is not None:
        out["error"] = {"code": reply.error.code, "message": reply.error.message}
        return _encode(out)
    result = common.reply_result(reply)
    if result is not None:
        out["result"] = _obj(result)
    return _encode(out)


def encode_push_reply(push: m.Push) -> bytes:
    """``{"result":{"type":T,"channel":…,"data":{…}}}``, type omitted when 0 (L-05, L-06)."""
    push_type, body = common.push_body(push)
    out: dict[str, Any] = {}
    if push_type:
        out["type"] = push_type
    if push.channel:
        out["channel"] = push.channel
    out["data"] = _obj(body)
    return _encode({"result": out})


def ping_message() -> bytes:
    """Never sent: v1 clients ping the server (L-09, L-53)."""
    return b""


# -- hot-path pushes -------------------------------------------------------------------------------


def _clean(payload: bytes) -> bytes:
    return payload.replace(b"\n", b"") if 10 in payload else payload


def _info(info: ClientInfo) -> bytes:
    s = b'{"user":' + _encode(info.user) + b',"client":' + _encode(info.client)
    if info.conn_info:
        s += b',"conn_info":' + _clean(info.conn_info)
    if info.chan_info:
        s += b',"chan_info":' + _clean(info.chan_info)
    return s + b"}"


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
    """``{"result":{"channel":…,"data":{"data":…,"info":…,"offset":…}}}`` (L-06, L-07, TV-14).
    ``tags``, ``delta``, ``time``, ``data_as_string`` and ``epoch`` are v2 features v1 clients
    never negotiate; they are ignored."""
    parts = []
    if data:
        parts.append(b'"data":' + _clean(data))
    if info is not None:
        parts.append(b'"info":' + _info(info))
    if offset:
        parts.append(b'"offset":' + _encode(offset))
    head = b'{"result":{"channel":' + _encode(channel) if channel else b'{"result":{'
    sep = b"," if channel else b""
    return head + sep + b'"data":{' + b",".join(parts) + b"}}}"


def _info_push(push_type: int, channel: str, info: ClientInfo) -> bytes:
    return (
        b'{"result":{"type":'
        + _encode(push_type)
        + b',"channel":'
        + _encode(channel)
        + b',"data":{"info":'
        + _info(info)
        + b"}}}"
    )


def encode_join_push(channel: str, info: ClientInfo) -> bytes:
    """``{"result":{"type":1,"channel":…,"data":{"info":{…}}}}`` (L-07)."""
    return _info_push(1, channel, info)


def encode_leave_push(channel: str, info: ClientInfo) -> bytes:
    """``{"result":{"type":2,"channel":…,"data":{"info":{…}}}}`` (L-06)."""
    return _info_push(2, channel, info)


class JsonV1Codec(PushEncoders):
    """The JSON protocol v1 implementation of :class:`centripetal.protocol.codec.Codec`.
    ``name`` stays ``"json"``: proxies report the encoding, not the protocol (PX-05)."""

    name = "json"
    binary = False
    slot = 2
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


JSON_V1_CODEC = JsonV1Codec()
