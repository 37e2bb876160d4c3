"""JSON client protocol codec (spec §1.1, P-02, P-07..P-11, P-13, HR-09).

Messages are JSON objects with snake_case proto names (P-07). Payload fields are embedded as
raw JSON, with raw ``\\n`` bytes stripped on output (P-08). Frames join messages with ``\\n``,
no trailing newline (P-02). Decoding reads ``bytes`` payloads as the raw JSON text of the field.
Zero values are omitted except the P-10 fields; result objects are kept even when empty (P-11).

Decoding is strict where Go's is: integers must fit their protobuf type (``client.proto``), so
``"offset": 1e40`` or ``"id": -1`` is a malformed command like any other undecodable input —
``DecodeError``, which closes the connection with 3501 (P-13). Nothing but ``DecodeError`` leaves
the decoder, whatever the bytes (nesting too deep included).
"""

from __future__ import annotations

import keyword
import re
import sys
from itertools import islice
from typing import Any

import msgspec
from google.protobuf.descriptor import FieldDescriptor

from centripetal.engines.base import ClientInfo
from centripetal.protocol import _fields as F
from centripetal.protocol import client_pb2 as pb
from centripetal.protocol import ints
from centripetal.protocol import messages as m
from centripetal.protocol.codec import PushEncoders
from centripetal.protocol.codes import DecodeError

__all__ = [
    "JSON_CODEC",
    "JsonCodec",
    "check_line_count",
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
    "ping_message",
]

_encoder = msgspec.json.Encoder()
_encode = _encoder.encode
_Raw = msgspec.Raw

# -- mirrors: the message Structs with payload fields typed msgspec.Raw, for decoding -------------

_MIRRORS: dict[type, type[msgspec.Struct]] = {}
_Dict = dict  # mirrors of ConnectRequest/ConnectResult have a field named "dict"


def _mirror_name(cls: type) -> str:
    return "_J" + cls.__name__


_FD = FieldDescriptor
_PB_RANGES: dict[int, tuple[int, int]] = {
    _FD.TYPE_INT32: (ints.INT32_MIN, ints.INT32_MAX),
    _FD.TYPE_SINT32: (ints.INT32_MIN, ints.INT32_MAX),
    _FD.TYPE_SFIXED32: (ints.INT32_MIN, ints.INT32_MAX),
    _FD.TYPE_ENUM: (ints.INT32_MIN, ints.INT32_MAX),
    _FD.TYPE_UINT32: (0, ints.UINT32_MAX),
    _FD.TYPE_FIXED32: (0, ints.UINT32_MAX),
    _FD.TYPE_INT64: (ints.INT64_MIN, ints.INT64_MAX),
    _FD.TYPE_SINT64: (ints.INT64_MIN, ints.INT64_MAX),
    _FD.TYPE_SFIXED64: (ints.INT64_MIN, ints.INT64_MAX),
    _FD.TYPE_UINT64: (0, ints.UINT64_MAX),
    _FD.TYPE_FIXED64: (0, ints.UINT64_MAX),
}


def int_range(cls: type, name: str) -> tuple[int, int]:
    """The range of the integer field ``name`` of message ``cls``, from its protobuf type in
    ``client.proto`` (the generated ``client_pb2`` descriptors)."""
    field = getattr(pb, cls.__name__).DESCRIPTOR.fields_by_name[name]
    return _PB_RANGES[field.type]


def _uint64_post_init(names: tuple[str, ...]) -> Any:
    """``__post_init__`` checking the upper bound of the mirror's uint64 fields (msgspec
    reports the ``ValueError`` as a validation error). Request messages have one such field:
    it gets a check without a loop, as it runs for every subscribe command."""
    if len(names) == 1:
        (name,) = names

        def __post_init__(self: Any) -> None:
            if getattr(self, name) > ints.UINT64_MAX:
                raise ValueError(f"`{name}` out of range for uint64")

        return __post_init__

    def check_all(self: Any) -> None:
        ints.check_uint64(self, names)

    return check_all


def _build_mirrors() -> None:
    module = sys.modules[__name__]
    for cls in F.message_classes():
        fields: list[tuple[str, Any, Any]] = []
        uint64: list[str] = []
        for info, spec in zip(msgspec.structs.fields(cls), F.specs(cls), strict=True):
            sub = _mirror_name(spec.cls) if spec.cls is not None else ""
            if info.type is int:  # bounded by the protobuf type (P-13)
                lo, hi = int_range(cls, info.name)
                if hi == ints.UINT64_MAX:
                    uint64.append(info.name)
                fields.append((info.name, ints.int_type(lo, hi), info.default))
            elif spec.kind == F.RAW:
                fields.append((info.name, msgspec.Raw, msgspec.Raw()))
            elif spec.kind == F.MSG:
                fields.append((info.name, f"{sub} | None", None))
            elif spec.kind == F.MSG_LIST:
                fields.append((info.name, f"list[{sub}]", msgspec.field(default_factory=list)))
            elif spec.kind == F.MSG_MAP:
                fields.append((info.name, f"_Dict[str, {sub}] | None", None))
            elif info.default_factory is not msgspec.NODEFAULT:
                fields.append((info.name, info.type, msgspec.field(default_factory=list)))
            else:
                fields.append((info.name, info.type, info.default))
        namespace = {"__post_init__": _uint64_post_init(tuple(uint64))} if uint64 else None
        mirror = msgspec.defstruct(
            _mirror_name(cls), fields, kw_only=True, module=__name__, namespace=namespace
        )
        setattr(module, mirror.__name__, mirror)
        _MIRRORS[cls] = mirror


_build_mirrors()


# -- converters: straight-line code per message class, generated from the field tables ----------
#
# Replies and commands are converted on every connect and subscribe: a loop over the field table
# of the class, with a ``getattr`` and a kind test per field, costs about twice the code below,
# which reads each field once and applies the same rule to it as the loop would.

_ENCODE_RULES = {
    F.SCALAR: "v",
    F.RAW: '_Raw(v.replace(b"\\n", b"") if b"\\n" in v else v)',
    F.MSG_LIST: "[to_json_obj(x) for x in v or ()]",
    F.MSG_MAP: "{k: to_json_obj(x) for k, x in (v or {}).items()}",
    F.SCALAR_MAP: "dict(v or {})",
    F.SCALAR_LIST: "list(v or ())",
}
_TO_JSON: dict[type, Any] = {}
_FROM_MIRROR: dict[type, Any] = {}


def _read(name: str) -> str:
    """The expression reading field ``name`` of ``obj``."""
    if name.isidentifier() and not keyword.iskeyword(name):
        return f"obj.{name}"
    return f"getattr(obj, {name!r})"


def _compile(name: str, lines: list[str], env: dict[str, Any]) -> Any:
    exec("\n".join(lines), env)  # the source is built above, from the field tables only
    return env[name]


def _to_json_converter(cls: type[Any]) -> Any:
    """``to_json_obj`` for one class: per field, the omission rule (P-10, P-11), then the
    conversion of its kind."""
    lines = ["def to_json(obj):", "    out = {}"]
    for f in F.specs(cls):
        lines.append(f"    v = {_read(f.name)}")
        if f.kind == F.MSG:
            lines += ["    if v is not None:", f"        out[{f.name!r}] = to_json_obj(v)"]
            continue
        indent = "    "
        if not f.always:
            lines.append("    if v:")
            indent = "        "
        lines.append(f"{indent}out[{f.name!r}] = {_ENCODE_RULES[f.kind]}")
    lines.append("    return out")
    fn = _compile("to_json", lines, {"_Raw": _Raw, "to_json_obj": to_json_obj})
    _TO_JSON[cls] = fn
    return fn


def _from_mirror_converter(cls: type[Any]) -> Any:
    """``_from_mirror`` for one class: set fields only (messages are built with their own
    defaults), payloads copied out of ``msgspec.Raw``, nested messages converted."""
    env: dict[str, Any] = {"cls": cls, "_from_mirror": _from_mirror}
    lines = ["def from_mirror(obj):", "    kw = {}"]
    for i, f in enumerate(F.specs(cls)):
        lines.append(f"    v = {_read(f.name)}")
        sub = f"sub{i}"
        env[sub] = f.cls
        if f.kind == F.MSG:
            lines += ["    if v is not None:", f"        kw[{f.name!r}] = _from_mirror({sub}, v)"]
            continue
        if f.kind == F.RAW:
            value = "bytes(v)"
        elif f.kind == F.MSG_LIST:
            value = f"[_from_mirror({sub}, x) for x in v]"
        elif f.kind == F.MSG_MAP:
            value = f"{{k: _from_mirror({sub}, x) for k, x in v.items()}}"
        else:
            value = "v"
        lines += ["    if v:", f"        kw[{f.name!r}] = {value}"]
    lines.append("    return cls(**kw)")
    fn = _compile("from_mirror", lines, env)
    _FROM_MIRROR[cls] = fn
    return fn


def _from_mirror(cls: type[Any], obj: Any) -> Any:
    """The message of class ``cls`` holding what the decoded mirror ``obj`` holds."""
    convert = _FROM_MIRROR.get(cls)
    if convert is None:
        convert = _from_mirror_converter(cls)
    return convert(obj)


def to_json_obj(obj: msgspec.Struct) -> dict[str, Any]:
    """A message as a plain dict ready for msgspec: omission rules applied (P-10, P-11),
    payloads wrapped in ``msgspec.Raw`` with ``\\n`` stripped (P-08)."""
    convert = _TO_JSON.get(type(obj))
    if convert is None:
        convert = _to_json_converter(type(obj))
    result: dict[str, Any] = convert(obj)
    return result


# -- generic messages ------------------------------------------------------------------------------

_command_decoder = msgspec.json.Decoder(_MIRRORS[m.Command])
_reply_decoder = msgspec.json.Decoder(_MIRRORS[m.Reply])


_NON_BLANK_LINE = re.compile(rb"\S[^\n]*")  # one match per line holding a non-blank byte


def check_line_count(frame: bytes, max_commands: int) -> None:
    """Raise ``DecodeError`` when ``frame`` holds more than ``max_commands`` non-blank lines.

    Nothing is decoded: a frame with fewer newlines than the limit passes on one ``count``;
    otherwise the non-blank lines are counted with a regex that stops one past the limit.
    Blank lines (whitespace only, as ``bytes.strip`` sees it) are not commands (P-02).
    """
    if frame.count(b"\n") < max_commands:
        return
    found = sum(1 for _ in islice(_NON_BLANK_LINE.finditer(frame), max_commands + 1))
    if found > max_commands:
        raise DecodeError("too many commands in frame")


def _decode_lines(
    frame: bytes, decoder: msgspec.json.Decoder[Any], cls: type[Any], max_commands: int
) -> list[Any]:
    out = []
    try:
        if 10 not in frame:  # one line, the common case (10 is a newline: a memchr)
            if frame.strip():
                return [_from_mirror(cls, decoder.decode(frame))]
        elif max_commands:
            check_line_count(frame, max_commands)
        for line in frame.split(b"\n"):
            if line.strip():
                out.append(_from_mirror(cls, decoder.decode(line)))
    except DecodeError:
        raise
    except Exception as exc:  # any undecodable input is a protocol violation (P-13)
        raise DecodeError(f"invalid JSON message: {_reason(exc)}") from None
    if not out:
        raise DecodeError("frame contains no messages")
    return out


def _reason(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "nesting too deep"
    return str(exc) or type(exc).__name__


def decode_commands(frame: bytes, *, max_commands: int = 0) -> list[m.Command]:
    """Newline-delimited commands (P-02); blank lines ignored. Raises ``DecodeError`` (P-13),
    and nothing else, on any input; also when the frame holds more than ``max_commands``
    commands (0: no limit), checked before any command is decoded."""
    return _decode_lines(frame, _command_decoder, m.Command, max_commands)


def decode_replies(frame: bytes) -> list[m.Reply]:
    """Newline-delimited replies (the client side of P-02)."""
    return _decode_lines(frame, _reply_decoder, m.Reply, 0)


def encode_reply(reply: m.Reply) -> bytes:
    """One reply, not framed (P-23, P-11)."""
    return _encode(to_json_obj(reply))


def encode_command(command: m.Command) -> bytes:
    """One command, not framed (client side)."""
    return _encode(to_json_obj(command))


def encode_push(push: m.Push) -> bytes:
    """A bare push for unidirectional transports (P-01)."""
    return _encode(to_json_obj(push))


def frame(messages: list[bytes]) -> bytes:
    """Join encoded messages into one frame with ``\\n``, no trailing newline (P-02)."""
    return b"\n".join(messages)


def frame_one(message: bytes) -> bytes:
    return message


def ping_message() -> bytes:
    """The server ping: an empty reply ``{}`` (P-25)."""
    return b"{}"


# -- hot-path pushes (encoded once per publication / event, shared by subscribers) ----------------


def _info(info: ClientInfo) -> bytes:
    s = b'{"user":' + _encode(info.user) + b',"client":' + _encode(info.client)
    ci = info.conn_info
    if ci:
        s += b',"conn_info":' + (ci.replace(b"\n", b"") if 10 in ci else ci)
    ci = info.chan_info
    if ci:
        s += b',"chan_info":' + (ci.replace(b"\n", b"") if 10 in ci else ci)
    return s + b"}"


_PUB_HEAD = b'{"push":{"channel":'
_PUB_DATA = b',"pub":{"data":'
_PUB_OFFSET = b',"offset":'
_PUB_END = b"}}}"


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
    """``{"push":{"channel":..,"pub":{"data":<raw>,"info":..,"offset":..}}}`` (P-42, TV-03).

    Keys follow proto field order; empty values are omitted. ``data_as_string``: emit ``data``
    as a JSON string holding the payload, for JSON subscribers with fossil delta negotiated
    (HR-09, TV-09). ``epoch`` (Publication field 14) is given with the first publication of a
    stream (offset 1), so a client subscribed before the stream existed learns its epoch, as
    Centrifugo does.
    """
    if data_as_string:
        data = _encode(data.decode("utf-8", "replace"))
    elif 10 in data:  # memchr for b"\n" (P-08)
        data = data.replace(b"\n", b"")
    if info is None and not tags and not delta and not time and not epoch and data:
        # the common case: one join, no intermediate bytes objects
        if offset:
            return b"".join(
                (
                    _PUB_HEAD,
                    _encode(channel),
                    _PUB_DATA,
                    data,
                    _PUB_OFFSET,
                    _encode(offset),
                    _PUB_END,
                )
            )
        return b"".join((_PUB_HEAD, _encode(channel), _PUB_DATA, data, _PUB_END))
    parts = [b'"data":' + data] if data else []
    if info is not None:
        parts.append(b'"info":' + _info(info))
    if offset:
        parts.append(b'"offset":' + _encode(offset))
    if tags:
        parts.append(b'"tags":' + _encode(tags))
    if delta:
        parts.append(b'"delta":true')
    if time:
        parts.append(b'"time":' + _encode(time))
    if epoch:
        parts.append(b'"epoch":' + _encode(epoch))
    return _PUB_HEAD + _encode(channel) + b',"pub":{' + b",".join(parts) + _PUB_END


def encode_join_push(channel: str, info: ClientInfo) -> bytes:
    """``{"push":{"channel":..,"join":{"info":{..}}}}`` (P-43, TV-08)."""
    return b'{"push":{"channel":' + _encode(channel) + b',"join":{"info":' + _info(info) + b"}}}"


def encode_leave_push(channel: str, info: ClientInfo) -> bytes:
    """``{"push":{"channel":..,"leave":{"info":{..}}}}`` (P-43)."""
    return b'{"push":{"channel":' + _encode(channel) + b',"leave":{"info":' + _info(info) + b"}}}"


def _push(push: m.Push) -> bytes:
    return _encode({"push": to_json_obj(push)})


class JsonCodec(PushEncoders):
    """The JSON implementation of :class:`centripetal.protocol.codec.Codec`."""

    name = "json"
    binary = False
    slot = 0
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


JSON_CODEC = JsonCodec()
