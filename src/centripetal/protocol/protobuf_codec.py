"""Protobuf client protocol codec (spec §1.1 P-03, §1.9 PF-01..PF-32).

Every message in a frame is prefixed with its length as an unsigned varint, even a single one
(P-03); the ping is the empty message, framed as ``b"\\x00"`` (P-25). Generic messages go
through the generated ``client_pb2`` classes; the per-publication pushes are encoded by hand
(field tags from §1.9), because they run once per publication on the fan-out path.

Decoding raises ``DecodeError`` (3501, P-13) and nothing else, whatever the bytes: varints
longer than 64 bits, length prefixes past the end of the frame and anything upb rejects
(nesting deeper than its limit included). upb keeps every integer within its field's type, so
decoded values never need a range check of their own.
"""

from __future__ import annotations

from typing import Any

import msgspec

from centripetal.engines.base import ClientInfo
from centripetal.protocol import _fields as F
from centripetal.protocol import client_pb2 as pb
from centripetal.protocol import messages as m
from centripetal.protocol.codec import PushEncoders
from centripetal.protocol.codes import DecodeError

__all__ = [
    "PROTOBUF_CODEC",
    "ProtobufCodec",
    "decode_commands",
    "decode_replies",
    "encode_command",
    "encode_join_push",
    "encode_leave_push",
    "encode_pub_push",
    "encode_push",
    "encode_reply",
    "frame",
    "frame_one",
    "message_spans",
    "ping_message",
]

# -- varints (P-03) -------------------------------------------------------------------------------

_SMALL = [bytes((i,)) for i in range(128)]
_MASK64 = (1 << 64) - 1


def uvarint(n: int) -> bytes:
    """Unsigned LEB128 varint (negative int64 values as 10-byte two's complement)."""
    if 0 <= n < 128:
        return _SMALL[n]
    n &= _MASK64
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode a varint at ``pos``; returns (value, next position) with value < 2^64. Raises
    ``DecodeError`` on a truncated varint, one longer than 10 bytes, or one whose 10th byte
    carries more than the 64th bit."""
    result = 0
    shift = 0
    end = len(buf)
    while True:
        if pos >= end:
            raise DecodeError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            if shift == 63 and b > 1:
                raise DecodeError("varint overflows 64 bits")
            return result, pos
        shift += 7
        if shift >= 70:
            raise DecodeError("varint too long")


# -- Struct <-> generated message ------------------------------------------------------------------


def _fill(target: Any, obj: msgspec.Struct) -> None:
    for f in F.specs(type(obj)):
        v = getattr(obj, f.name)
        kind = f.kind
        if kind == F.MSG:
            if v is not None:
                sub = getattr(target, f.name)
                sub.SetInParent()  # an empty result still marks its presence (P-11)
                _fill(sub, v)
        elif not v:
            continue
        elif kind in (F.SCALAR, F.RAW):
            setattr(target, f.name, v)
        elif kind == F.MSG_LIST:
            rep = getattr(target, f.name)
            for item in v:
                _fill(rep.add(), item)
        elif kind == F.MSG_MAP:
            mp = getattr(target, f.name)
            for key, item in v.items():
                entry = mp[key]
                entry.SetInParent()
                _fill(entry, item)
        elif kind == F.SCALAR_MAP:
            getattr(target, f.name).update(v)
        else:
            getattr(target, f.name).extend(v)


_BY_NAME: dict[type, dict[str, F.FieldSpec]] = {}


def _from_pb(cls: type[Any], msg: Any) -> Any:
    table = _BY_NAME.get(cls)
    if table is None:
        table = _BY_NAME[cls] = {f.name: f for f in F.specs(cls)}
    kw: dict[str, Any] = {}
    for desc, v in msg.ListFields():
        f = table.get(desc.name)
        if f is None:
            continue
        kind = f.kind
        if kind in (F.SCALAR, F.RAW):
            kw[f.name] = v
        elif kind == F.MSG:
            kw[f.name] = _from_pb(f.cls, v)
        elif kind == F.MSG_LIST:
            kw[f.name] = [_from_pb(f.cls, x) for x in v]
        elif kind == F.MSG_MAP:
            kw[f.name] = {k: _from_pb(f.cls, x) for k, x in v.items()}
        elif kind == F.SCALAR_MAP:
            kw[f.name] = dict(v)
        else:
            kw[f.name] = list(v)
    return cls(**kw)


def to_pb(obj: msgspec.Struct) -> Any:
    """A message Struct as its generated protobuf message."""
    target = getattr(pb, type(obj).__name__)()
    _fill(target, obj)
    return target


def from_pb(cls: type[Any], msg: Any) -> Any:
    """A generated protobuf message as the message Struct ``cls``."""
    return _from_pb(cls, msg)


# -- generic messages ------------------------------------------------------------------------------


def message_spans(frame: bytes, max_commands: int = 0) -> list[tuple[int, int]]:
    """``(start, stop)`` of each length-prefixed message of a frame (P-03), found by walking
    the prefixes alone. Raises ``DecodeError`` on a truncated frame, an empty one, or one
    holding more than ``max_commands`` messages (0: no limit) - before anything is decoded."""
    spans: list[tuple[int, int]] = []
    pos = 0
    end = len(frame)
    while pos < end:
        size, pos = read_uvarint(frame, pos)
        stop = pos + size
        if stop > end:
            raise DecodeError("truncated message")
        spans.append((pos, stop))
        if max_commands and len(spans) > max_commands:
            raise DecodeError("too many commands in frame")
        pos = stop
    if not spans:
        raise DecodeError("frame contains no messages")
    return spans


def _decode_frame(frame: bytes, pb_cls: Any, cls: type[Any], max_commands: int) -> list[Any]:
    if frame:
        size, pos = read_uvarint(frame, 0)
        if pos + size == len(frame):  # one message, the common case: no span list
            try:
                return [_from_pb(cls, pb_cls.FromString(frame[pos:]))]
            except Exception as exc:  # any undecodable input is a protocol violation (P-13)
                raise DecodeError(f"invalid protobuf message: {exc}") from None
    out = []
    for start, stop in message_spans(frame, max_commands):
        try:
            out.append(_from_pb(cls, pb_cls.FromString(frame[start:stop])))
        except Exception as exc:  # any undecodable input is a protocol violation (P-13)
            raise DecodeError(f"invalid protobuf message: {exc}") from None
    return out


def decode_commands(frame: bytes, *, max_commands: int = 0) -> list[m.Command]:
    """Varint-length-delimited commands (P-03). Raises ``DecodeError`` (P-13), and nothing
    else, on any input; also when the frame holds more than ``max_commands`` commands
    (0: no limit), counted from the length prefixes before any command is decoded."""
    return _decode_frame(bytes(frame), pb.Command, m.Command, max_commands)


def decode_replies(frame: bytes) -> list[m.Reply]:
    """Varint-length-delimited replies (the client side of P-03)."""
    return _decode_frame(bytes(frame), pb.Reply, m.Reply, 0)


def encode_reply(reply: m.Reply) -> bytes:
    """One reply without its length prefix."""
    return bytes(to_pb(reply).SerializeToString())


def encode_command(command: m.Command) -> bytes:
    """One command without its length prefix (client side)."""
    return bytes(to_pb(command).SerializeToString())


def encode_push(push: m.Push) -> bytes:
    """A bare push for unidirectional transports (P-01)."""
    return bytes(to_pb(push).SerializeToString())


def frame(messages: list[bytes]) -> bytes:
    """Each message prefixed with its uvarint length, concatenated (P-03)."""
    parts: list[bytes] = []
    for msg in messages:
        parts.append(uvarint(len(msg)))
        parts.append(msg)
    return b"".join(parts)


def frame_one(message: bytes) -> bytes:
    """A single message is length-prefixed as well (P-03)."""
    return uvarint(len(message)) + message


def ping_message() -> bytes:
    """The server ping: the empty Reply, framed as ``b"\\x00"`` (P-25)."""
    return b""


# -- hot-path pushes: hand-encoded Reply{push: Push{...}} ------------------------------------------


def _ld(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag byte, uvarint length, payload."""
    n = len(payload)
    return tag + (_SMALL[n] if n < 128 else uvarint(n)) + payload


def _info(info: ClientInfo) -> bytes:
    # ClientInfo: 1 user, 2 client, 3 conn_info, 4 chan_info (PF-05)
    s = b""
    if info.user:
        s = _ld(b"\x0a", info.user.encode())
    if info.client:
        s += _ld(b"\x12", info.client.encode())
    if info.conn_info:
        s += _ld(b"\x1a", info.conn_info)
    if info.chan_info:
        s += _ld(b"\x22", info.chan_info)
    return s


def _reply_push(channel: str, body: bytes) -> bytes:
    # Reply.push = 4 (PF-03); Push.channel = 2 (PF-04); body holds the push field
    push = _ld(b"\x12", channel.encode()) + body if channel else body
    return _ld(b"\x22", push)


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
    """Reply{push:{channel, pub:{data(4), info(5), offset(6), tags(7), delta(8), time(9),
    epoch(14)}}} (P-42, PF-06). ``data_as_string`` is accepted for interface parity and
    ignored: protobuf carries delta payloads as raw bytes (HR-09). ``epoch`` comes with the
    first publication of a stream (offset 1), as in Centrifugo."""
    n = len(data)
    if n and info is None and not tags and not delta and not time and not epoch and channel:
        # the common case in one join: Reply.push{channel, pub{data, offset}}
        ch = channel.encode()
        c = len(ch)
        dlen = _SMALL[n] if n < 128 else uvarint(n)
        off = (b"\x30" + (_SMALL[offset] if offset < 128 else uvarint(offset))) if offset else b""
        p = 1 + len(dlen) + n + len(off)
        plen = _SMALL[p] if p < 128 else uvarint(p)
        clen = _SMALL[c] if c < 128 else uvarint(c)
        size = 2 + len(clen) + c + len(plen) + p
        return b"".join(
            (
                b"\x22",
                _SMALL[size] if size < 128 else uvarint(size),
                b"\x12",
                clen,
                ch,
                b"\x22",
                plen,
                b"\x22",
                dlen,
                data,
                off,
            )
        )
    pub = b"\x22" + (_SMALL[n] if n < 128 else uvarint(n)) + data if n else b""
    if info is not None:
        pub += _ld(b"\x2a", _info(info))
    if offset:
        pub += b"\x30" + (_SMALL[offset] if offset < 128 else uvarint(offset))
    if tags:
        for k, v in tags.items():
            entry = (_ld(b"\x0a", k.encode()) if k else b"") + (
                _ld(b"\x12", v.encode()) if v else b""
            )
            pub += _ld(b"\x3a", entry)
    if delta:
        pub += b"\x40\x01"
    if time:
        pub += b"\x48" + uvarint(time)
    if epoch:
        pub += _ld(b"\x72", epoch.encode())  # Publication.epoch = 14
    ch = channel.encode()
    n = len(ch)
    head = b"\x12" + (_SMALL[n] if n < 128 else uvarint(n)) + ch if n else b""
    n = len(pub)
    size = n + len(head) + (2 if n < 128 else 1 + len(uvarint(n)))
    return b"".join(
        (
            b"\x22",
            _SMALL[size] if size < 128 else uvarint(size),
            head,
            b"\x22",
            _SMALL[n] if n < 128 else uvarint(n),
            pub,
        )
    )


def encode_join_push(channel: str, info: ClientInfo) -> bytes:
    """Reply{push:{channel, join(5):{info(1)}}} (P-43)."""
    return _reply_push(channel, _ld(b"\x2a", _ld(b"\x0a", _info(info))))


def encode_leave_push(channel: str, info: ClientInfo) -> bytes:
    """Reply{push:{channel, leave(6):{info(1)}}} (P-43)."""
    return _reply_push(channel, _ld(b"\x32", _ld(b"\x0a", _info(info))))


def _push(push: m.Push) -> bytes:
    return encode_reply(m.Reply(push=push))


class ProtobufCodec(PushEncoders):
    """The protobuf implementation of :class:`centripetal.protocol.codec.Codec`."""

    name = "protobuf"
    binary = True
    slot = 1
    decode_commands = staticmethod(decode_commands)
    decode_replies = staticmethod(decode_replies)
    encode_reply = staticmethod(encode_reply)
    encode_command = staticmethod(encode_command)
    encode_push = staticmethod(encode_push)
    encode_push_reply = staticmethod(_push)
    frame = staticmethod(frame)
    frame_one = staticmethod(frame_one)
    ping_message = staticmethod(ping_message)
    encode_pub_push = staticmethod(encode_pub_push)
    encode_join_push = staticmethod(encode_join_push)
    encode_leave_push = staticmethod(encode_leave_push)


PROTOBUF_CODEC = ProtobufCodec()
