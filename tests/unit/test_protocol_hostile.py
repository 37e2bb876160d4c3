"""Hostile input tables for every client protocol decoder (P-13, L-33, L-59).

Each decoder returns commands or raises ``DecodeError`` (-> 3501; 3003 for v1 clients) and
nothing else: no ``RecursionError``, ``OverflowError``, ``ValueError``, ``UnicodeDecodeError``
or ``IndexError`` whatever the bytes. Integers are bounded by their ``client.proto`` types;
in-range extremes decode to exactly the value sent. ``max_commands`` limits the commands of a
frame before any of them is decoded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest

from centripetal.protocol import _fields as F
from centripetal.protocol import json_codec as jc
from centripetal.protocol import messages as m
from centripetal.protocol import protobuf_codec as pc
from centripetal.protocol.codec import get_codec
from centripetal.protocol.codes import DecodeError
from centripetal.protocol.detect import choose_codec, is_v1_json, is_v1_protobuf
from centripetal.protocol.ints import UINT64_MAX
from centripetal.protocol.v1 import common
from centripetal.protocol.v1.json_codec import JSON_V1_CODEC
from centripetal.protocol.v1.protobuf_codec import PROTOBUF_V1_CODEC

Decode = Callable[..., list[m.Command]]
JSON_DECODERS: dict[str, Decode] = {
    "json v2": jc.decode_commands,
    "json v1": JSON_V1_CODEC.decode_commands,
}
PB_DECODERS: dict[str, Decode] = {
    "protobuf v2": pc.decode_commands,
    "protobuf v1": PROTOBUF_V1_CODEC.decode_commands,
}
ALL_DECODERS = {**JSON_DECODERS, **PB_DECODERS}


def outcome(decode: Decode, frame: bytes, **kw: Any) -> list[m.Command] | DecodeError:
    """The commands, or the ``DecodeError``; any other exception fails the test."""
    try:
        return decode(frame, **kw)
    except DecodeError as exc:
        assert exc.disconnect.code == 3501
        return exc


def must_reject(decode: Decode, frame: bytes, what: str) -> None:
    got = outcome(decode, frame)
    assert isinstance(got, DecodeError), f"{what}: decoded {got!r:.200}"


def deep_array(n: int) -> bytes:
    return b"[" * n + b"]" * n


def deep_object(n: int) -> bytes:
    return b'{"a":' * n + b"1" + b"}" * n


DEEP = {
    "array x1000": deep_array(1_000),
    "object x1000": deep_object(1_000),
    "array x100000": deep_array(100_000),
    "object x100000": deep_object(100_000),
}


# -- every field position of every command (JSON) ----------------------------------------------

Wrap = Callable[[bytes], bytes]
Path = tuple[str, ...]


def _positions(cls: type[Any], depth: int = 0) -> Iterator[tuple[Path, type[Any], Any, Wrap]]:
    """``(path, owner class, field spec, wrap)`` for every field reachable from ``cls`` (nested
    messages four levels down); ``wrap(v)`` is the JSON text of a ``cls`` object holding the
    JSON value ``v`` at ``path`` (lists and maps get one element)."""
    for spec in F.specs(cls):
        key = b'"' + spec.name.encode() + b'":'

        def here(v: bytes, key: bytes = key) -> bytes:
            return b"{" + key + v + b"}"

        yield (spec.name,), cls, spec, here
        if spec.cls is None or depth >= 4:
            continue
        if spec.kind == F.MSG_LIST:

            def outer(v: bytes, here: Wrap = here) -> bytes:
                return here(b"[" + v + b"]")
        elif spec.kind == F.MSG_MAP:

            def outer(v: bytes, here: Wrap = here) -> bytes:
                return here(b'{"k":' + v + b"}")
        else:
            outer = here
        for path, owner, sub, wrap in _positions(spec.cls, depth + 1):

            def nested(v: bytes, wrap: Wrap = wrap, outer: Wrap = outer) -> bytes:
                return outer(wrap(v))

            yield (spec.name, *path), owner, sub, nested


def command_positions() -> Iterator[tuple[str, type[Any], Any, Wrap]]:
    """Every field of every request a v2 command carries, plus the command's own fields."""
    for path, owner, spec, wrap in _positions(m.Command):
        yield ".".join(path), owner, spec, wrap


POSITIONS = list(command_positions())


def _type_of(owner: type[Any], name: str) -> Any:
    return {f.name: f.type for f in msgspec.structs.fields(owner)}[name]


def _lookup(cmd: Any, path: str) -> Any:
    obj = cmd
    for name in path.split("."):
        obj = getattr(obj, name)
        if isinstance(obj, list):
            obj = obj[0]
        elif isinstance(obj, dict) and "k" in obj:
            obj = obj["k"]
    return obj


def test_positions_cover_nested_requests() -> None:
    paths = {p for p, *_ in POSITIONS}
    assert {
        "id",
        "publish.data",
        "subscribe.offset",
        "subscribe.tf.nodes.nodes.val",
        "connect.subs.offset",
        "history.since.offset",
        "sub_refresh.track.items.version",
    } <= paths


@pytest.mark.parametrize("kind", sorted(DEEP))
def test_deep_nesting_in_every_field_is_decode_error_p13(kind: str) -> None:
    """Deep nesting anywhere: the request itself, every field, raw ``data`` payloads. A raw
    payload 1,000 deep may decode on an interpreter with a deeper C stack: then byte-exact."""
    value = DEEP[kind]
    for name, decode in JSON_DECODERS.items():
        v1 = name == "json v1"
        must_reject(decode, value, f"{name}: frame {kind}")
        if v1:
            for field in ("id", "method", "params"):
                must_reject(decode, b'{"' + field.encode() + b'":' + value + b"}", field)
            continue
        for path, _owner, spec, wrap in POSITIONS:
            frame = b'{"id":1,' + wrap(value)[1:]
            got = outcome(decode, frame)
            if isinstance(got, DecodeError):
                continue
            assert spec.kind == F.RAW and "100000" not in kind, f"{path}: {got!r:.200}"
            assert _lookup(got[0], path) == value


def _bad_values(owner: type[Any], spec: Any) -> list[bytes]:
    """JSON values that do not fit the field: out of range, wrong type, invalid UTF-8."""
    tp = _type_of(owner, spec.name)
    if tp is int:
        lo, hi = jc.int_range(owner, spec.name)
        return [
            str(v).encode()
            for v in (hi + 1, lo - 1, 2**64, 10**40, -(2**63) - 1, -(10**40))
            if not lo <= v <= hi
        ] + [b"1.5", b"1e3", b'"1"', b"true", b"[]"]
    if tp is str:
        return [b"5", b"true", b"{}", b'"\xff\xfe"', b'"a\x00b"', b'"\xed\xa0\x80"']
    if tp is bool:
        return [b"1", b'"true"', b"[]"]
    if spec.kind in (F.MSG, F.MSG_MAP, F.SCALAR_MAP):
        return [b"5", b"[]", b'"x"']
    if spec.kind in (F.MSG_LIST, F.SCALAR_LIST):
        return [b"5", b"{}", b'"x"']
    return []  # raw payloads take any JSON value


def test_values_outside_their_protobuf_type_are_decode_error_p13() -> None:
    """2^64, 10^40, -2^63-1, -1 for unsigned, floats where integers go, wrong types, invalid
    UTF-8 and raw control bytes in strings, in every field of every command."""
    checked = 0
    for name, decode in JSON_DECODERS.items():
        for path, owner, spec, wrap in POSITIONS:
            for bad in _bad_values(owner, spec):
                if name == "json v1":
                    if path.count(".") == 0:
                        continue  # the envelope has its own table
                    field, _, _ = path.partition(".")
                    method = common.METHOD_FIELDS.index(field)
                    inner = wrap(bad)[len(field) + 4 : -1]
                    frame = b'{"id":1,"method":%d,"params":%s}' % (method, inner)
                else:
                    frame = b'{"id":1,' + wrap(bad)[1:]
                must_reject(decode, frame, f"{name} {path}={bad!r}")
                checked += 1
    assert checked > 1000


def test_integer_extremes_in_range_decode_exactly_p13() -> None:
    for path, owner, spec, wrap in POSITIONS:
        if _type_of(owner, spec.name) is not int:
            continue
        for value in jc.int_range(owner, spec.name):
            frame = b'{"id":1,' + wrap(str(value).encode())[1:]
            if path == "id":
                frame = b'{"id":%d}' % value
            (cmd,) = jc.decode_commands(frame)
            assert _lookup(cmd, path) == value, path


@pytest.mark.parametrize(
    "frame",
    [
        b'{"id":4294967296}',
        b'{"id":-1}',
        b'{"id":1.0}',
        b'{"id":"1"}',
        b'{"id":1,"method":2147483648}',
        b'{"id":1,"method":-2147483649}',
        b'{"id":1,"method":18446744073709551616}',
        b'{"id":1,"method":1.5}',
        b'{"id":1,"method":"subscribe"}',
        b'{"id":1,"method":1,"params":5}',
        b'{"id":1,"method":1,"params":"x"}',
        b'{"id":1,"method":1,"params":{"channel":"\xff"}}',
        b'{"id":1,"method":1,"params":{"offset":-1}}',
        b'{"id":1,"method":1,"params":{"offset":18446744073709551616}}',
        b'{"id":1,"method":6,"params":{"limit":2147483648}}',
        b'{"id":1,"params":{"token":"t"',
    ],
)
def test_v1_json_envelope_table_l02(frame: bytes) -> None:
    must_reject(JSON_V1_CODEC.decode_commands, frame, repr(frame))


def test_v1_json_extremes_decode_exactly_l02() -> None:
    (cmd,) = JSON_V1_CODEC.decode_commands(
        b'{"id":4294967295,"method":1,"params":{"channel":"c","offset":18446744073709551615}}'
    )
    assert cmd.id == 2**32 - 1 and cmd.subscribe is not None
    assert cmd.subscribe.offset == UINT64_MAX
    (cmd,) = JSON_V1_CODEC.decode_commands(b'{"id":1,"method":-2147483648}')
    assert cmd == m.Command(id=1)  # unknown method: the session answers 104 (L-03)


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\n\n  \r\n",
        b"\x00",
        b"\x00\x00\x00",
        b"null",
        b"[]",
        b"1",
        b'"x"',
        b"\xff\xfe",
        b'{"id":1}\x00',
        b'{"id":1,"$":{"channel":"a\x00"}}',
        b'{"id":1,"$":{"channel":"\xc3\x28"}}',
        b'{"id":1,"$":{"data":}}',
        b'{"id":1,"$":{"data":NaN}}',
        b'{"id":1,"$":{"data":[1,2}}',
        b'{"id":1,"$":{"data":"\\ud800"',
        b'{"id":1}\n{"id":',
        b'{"id":1,"id":4294967296}',
    ],
)
def test_malformed_json_frames_p13(frame: bytes) -> None:
    """``$`` is the request: ``publish`` in v2, ``params`` of a v1 PUBLISH (method 3)."""
    for name, decode in JSON_DECODERS.items():
        request = b'"method":3,"params":' if name == "json v1" else b'"publish":'
        concrete = frame.replace(b'"$":', request)
        must_reject(decode, concrete, f"{name} {concrete!r}")


def test_json_nul_escape_and_blank_lines_are_valid_p02() -> None:
    (cmd,) = jc.decode_commands(b'\n  {"id":1,"publish":{"channel":"a\\u0000b","data":1}}\r\n\n')
    assert cmd.publish == m.PublishRequest(channel="a\x00b", data=b"1")


# -- protobuf -----------------------------------------------------------------------------------


def _nested(leaf: bytes, tag: bytes, depth: int) -> bytes:
    """``depth`` length-delimited fields ``tag`` around ``leaf``, built in linear time."""
    heads: list[bytes] = []
    size = len(leaf)
    for _ in range(depth):
        head = tag + pc.uvarint(size)
        heads.append(head)
        size += len(head)
    return b"".join(reversed(heads)) + leaf


def deep_filter(depth: int) -> bytes:
    """Command{subscribe{channel, tf: FilterNode{nodes: FilterNode{nodes: ...}}}}."""
    tf = _nested(b"\x12\x01k", b"\x32", depth)  # FilterNode.nodes = 6, leaf key = 2
    sub = b"\x0a\x01c" + b"\x6a" + pc.uvarint(len(tf)) + tf  # SubscribeRequest.tf = 13
    cmd = b"\x2a" + pc.uvarint(len(sub)) + sub  # Command.subscribe = 5
    return pc.frame_one(cmd)


def deep_group(depth: int) -> bytes:
    """Unknown groups (wire type 3) nested ``depth`` deep inside a command."""
    body = b"\x83\x06" * depth + b"\x84\x06" * depth  # field 96, start/end group
    return pc.frame_one(b"\x08\x01" + body)


PB_HOSTILE = {
    "empty frame": b"",
    "truncated varint": b"\x80",
    "truncated long varint": b"\xff\xff\xff\xff\xff",
    "11-byte varint": b"\xff" * 10 + b"\x01",
    "varint over 64 bits": b"\xff" * 9 + b"\x02",
    "length past the end": pc.uvarint(5) + b"\x08\x01",
    "length 2^63": pc.uvarint(2**63) + b"\x08\x01",
    "length 2^64-1": pc.uvarint(2**64 - 1),
    "second message truncated": pc.frame_one(b"\x08\x01") + pc.uvarint(100) + b"\x08",
    "field number 0": pc.frame_one(b"\x00\x01"),
    "wire type 7": pc.frame_one(b"\x0f\x01"),
    "invalid utf-8 channel": pc.frame_one(b"\x3a\x04\x0a\x02\xff\xfe"),
    "surrogate in channel": pc.frame_one(b"\x3a\x05\x0a\x03\xed\xa0\x80"),
    "truncated submessage": pc.frame_one(b"\x3a\x09\x0a\x02ab"),
    "filter nested 1000": deep_filter(1_000),
    "filter nested 100000": deep_filter(100_000),
    "groups nested 1000": deep_group(1_000),
    "groups nested 100000": deep_group(100_000),
    "unterminated group": pc.frame_one(b"\x83\x06\x08\x01"),
}


@pytest.mark.parametrize("what", sorted(PB_HOSTILE))
def test_protobuf_hostile_table_p13(what: str) -> None:
    for name in ("protobuf v2",):
        must_reject(PB_DECODERS[name], PB_HOSTILE[what], f"{name}: {what}")


@pytest.mark.parametrize("what", sorted(PB_HOSTILE))
def test_protobuf_v1_hostile_table_l01(what: str) -> None:
    """The same bytes as v1 frames and as the ``params`` of a v1 SUBSCRIBE (L-02)."""
    frame = PB_HOSTILE[what]
    got = outcome(PROTOBUF_V1_CODEC.decode_commands, frame)
    if not isinstance(got, DecodeError):
        # a v1 envelope ignores unknown fields; whatever it decodes is a plain command
        assert all(isinstance(c, m.Command) for c in got)
    env = b"\x08\x01\x10\x01\x1a" + pc.uvarint(len(frame)) + frame
    got = outcome(PROTOBUF_V1_CODEC.decode_commands, pc.frame_one(env))
    assert isinstance(got, (DecodeError, list))


def test_protobuf_valid_extremes_decode_exactly_p03() -> None:
    cmd = m.Command(
        id=2**32 - 1,
        subscribe=m.SubscribeRequest(
            channel="a\x00b", offset=UINT64_MAX, flag=-(2**63), limit=-(2**31), data=b"\xff\x00"
        ),
    )
    assert pc.decode_commands(pc.frame_one(pc.encode_command(cmd))) == [cmd]
    assert pc.decode_commands(b"\x00") == [m.Command()]  # the empty command (P-21)


def test_protobuf_oversized_varints_are_truncated_to_the_field_type_p03() -> None:
    """upb keeps a uint32 field's low 32 bits, as Go does; nothing out of range survives."""
    (cmd,) = pc.decode_commands(pc.frame_one(b"\x08" + pc.uvarint(2**40 + 7)))
    assert cmd.id == 7
    # PublishRequest.type (int32) sent as a 10-byte negative varint
    (cmd,) = pc.decode_commands(pc.frame_one(b"\x3a\x0b\x18" + pc.uvarint(-5)))
    assert cmd.publish == m.PublishRequest(type=-5)


@pytest.mark.parametrize(
    ("method", "expected"),
    [(2**32 + 1, 1), (2**64 - 1, -1), (2**31, -(2**31))],
)
def test_v1_protobuf_method_is_read_as_int32_l03(method: int, expected: int) -> None:
    env = b"\x08\x05\x10" + pc.uvarint(method)
    (cmd,) = PROTOBUF_V1_CODEC.decode_commands(pc.frame_one(env))
    field = common.METHOD_FIELDS[expected] if 0 <= expected < 12 else None
    assert cmd.id == 5
    assert (getattr(cmd, field) is not None) if field else cmd == m.Command(id=5)


# -- detection never raises (L-59) ----------------------------------------------------------------


def _all_frames() -> Iterator[bytes]:
    yield from DEEP.values()
    yield from PB_HOSTILE.values()
    yield b'{"id":1,"method":1,"params":' + deep_array(1_000) + b"}"
    yield b'{"id":' + deep_object(100_000) + b"}"
    yield b'{"id":18446744073709551616}'
    yield b'{"\xff":1}'
    yield b"\n\n"


def test_detection_never_raises_l59() -> None:
    for frame in _all_frames():
        for codec in (get_codec("json"), get_codec("protobuf")):
            chosen = choose_codec(codec, frame)
            assert chosen.binary == codec.binary
        assert isinstance(is_v1_json(frame), bool)
        assert isinstance(is_v1_protobuf(frame), bool)


def test_deep_first_frame_stays_v2_and_is_rejected_p13() -> None:
    frame = b'{"id":1,"publish":{"data":' + deep_array(1_000) + b"}}"
    codec = choose_codec(get_codec("json"), frame)
    assert codec is get_codec("json")
    must_reject(codec.decode_commands, frame, "deep first frame")


# -- commands per frame -----------------------------------------------------------------------


def _json_frame(n: int, blank: bytes = b"") -> bytes:
    return (b"\n" + blank).join(b'{"id":%d,"ping":{}}' % (i + 1) for i in range(n))


def _v1_json_frame(n: int, blank: bytes = b"") -> bytes:
    return (b"\n" + blank).join(b'{"id":%d,"method":7}' % (i + 1) for i in range(n))


def _pb_frame(n: int) -> bytes:
    return pc.frame(
        [pc.encode_command(m.Command(id=i + 1, ping=m.PingRequest())) for i in range(n)]
    )


def _v1_pb_frame(n: int) -> bytes:
    return pc.frame([b"\x08" + pc.uvarint(i + 1) + b"\x10\x07" for i in range(n)])


FRAMES: dict[str, tuple[Decode, Callable[[int], bytes]]] = {
    "json v2": (jc.decode_commands, _json_frame),
    "json v1": (JSON_V1_CODEC.decode_commands, _v1_json_frame),
    "protobuf v2": (pc.decode_commands, _pb_frame),
    "protobuf v1": (PROTOBUF_V1_CODEC.decode_commands, _v1_pb_frame),
}


@pytest.mark.parametrize("name", sorted(FRAMES))
@pytest.mark.parametrize("limit", [1, 2, 16, 100])
def test_max_commands_exactly_n_pass_n_plus_one_fail(name: str, limit: int) -> None:
    decode, build = FRAMES[name]
    assert len(decode(build(limit), max_commands=limit)) == limit
    assert len(decode(build(limit - 1 or 1), max_commands=limit)) == (limit - 1 or 1)
    with pytest.raises(DecodeError, match="too many commands in frame"):
        decode(build(limit + 1), max_commands=limit)
    assert len(decode(build(limit + 1))) == limit + 1  # 0: no limit
    assert len(decode(build(limit + 1), max_commands=0)) == limit + 1


@pytest.mark.parametrize("name", ["json v1", "json v2"])
def test_max_commands_does_not_count_blank_lines_p02(name: str) -> None:
    decode, build = FRAMES[name]
    frame = b"\n \n" + build(3, blank=b"\r\n\t \n\x0b\x0c\n") + b"\n\n   \n"
    assert len(decode(frame, max_commands=3)) == 3
    with pytest.raises(DecodeError, match="too many"):
        decode(frame, max_commands=2)


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_max_commands_is_checked_before_decoding(name: str) -> None:
    """An over-long frame of undecodable commands is rejected for its length: nothing of it
    was decoded."""
    decode, _ = FRAMES[name]
    if name.startswith("json"):
        frame = b"\n".join([b"not json"] * 5)
    else:
        frame = pc.frame([b"\xff\xff"] * 5)  # each message alone is undecodable
    with pytest.raises(DecodeError, match="too many commands in frame"):
        decode(frame, max_commands=4)
    with pytest.raises(DecodeError) as exc:
        decode(frame, max_commands=5)
    assert "too many" not in str(exc.value)


def test_max_commands_json_stops_counting_past_the_limit() -> None:
    frame = b"\n".join([b"x"] * 100_000)
    with pytest.raises(DecodeError, match="too many"):
        jc.check_line_count(frame, 10)
    jc.check_line_count(b"a\n\n\nb", 2)  # three newlines, two commands: within the limit


@pytest.mark.parametrize("name", sorted(ALL_DECODERS))
def test_every_codec_takes_max_commands_by_keyword(name: str) -> None:
    import inspect

    param = inspect.signature(ALL_DECODERS[name]).parameters["max_commands"]
    assert param.default == 0
