"""Property tests: decoders never crash or hang on any bytes (P-13, DESIGN §7) and
decode(frame(encode(x))) == x for both codecs (P-02, P-03)."""

from __future__ import annotations

import json
import typing

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from centripetal.protocol import json_codec as jc
from centripetal.protocol import messages as m
from centripetal.protocol import protobuf_codec as pc
from centripetal.protocol.codec import DecodeError

FUZZ = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_VALID_JSON = (
    b'{"id":1,"connect":{"token":"t","data":{"a":1},"subs":{"c":{"recover":true}}}}\n'
    b'{"id":2,"subscribe":{"channel":"ch","flag":1,"tf":{"op":"and","nodes":[{"key":"a"}]}}}\n'
    b'{"id":3,"history":{"channel":"ch","limit":2,"since":{"offset":1,"epoch":"e"}}}\n{}'
)
_VALID_PB = pc.frame(
    [
        pc.encode_command(m.Command(id=1, connect=m.ConnectRequest(token="t", data=b"{}"))),
        pc.encode_command(
            m.Command(
                id=2,
                subscribe=m.SubscribeRequest(
                    channel="ch", flag=1, tf=m.FilterNode(op="or", nodes=[m.FilterNode(key="a")])
                ),
            )
        ),
        pc.encode_command(m.Command(id=3, publish=m.PublishRequest(channel="c", data=b"[1]"))),
        b"",
    ]
)


def _check_decode(decode: object, frame: bytes) -> None:
    assert callable(decode)
    try:
        cmds = decode(frame)
    except DecodeError as exc:
        assert exc.disconnect.code == 3501
        return
    assert cmds and all(isinstance(c, m.Command) for c in cmds)


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete" and data:
            del data[pos]
        elif op == "truncate":
            del data[pos:]
    return bytes(data)


@FUZZ
@given(st.binary(max_size=512))
def test_json_decoder_never_crashes_on_arbitrary_bytes(frame: bytes) -> None:
    _check_decode(jc.decode_commands, frame)


@FUZZ
@given(st.binary(max_size=512))
def test_protobuf_decoder_never_crashes_on_arbitrary_bytes(frame: bytes) -> None:
    _check_decode(pc.decode_commands, frame)


@FUZZ
@given(mutated(_VALID_JSON))
def test_json_decoder_never_crashes_on_mutated_frames(frame: bytes) -> None:
    _check_decode(jc.decode_commands, frame)


@FUZZ
@given(mutated(_VALID_PB))
def test_protobuf_decoder_never_crashes_on_mutated_frames(frame: bytes) -> None:
    _check_decode(pc.decode_commands, frame)


def test_deeply_nested_input_is_a_decode_error() -> None:
    deep_json = b'{"id":1,"publish":{"data":' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
    _check_decode(jc.decode_commands, deep_json)
    node = m.FilterNode(key="leaf")
    for _ in range(150):
        node = m.FilterNode(op="not", nodes=[node])
    deep_pb = pc.frame_one(
        pc.encode_command(m.Command(id=1, subscribe=m.SubscribeRequest(channel="c", tf=node)))
    )
    _check_decode(pc.decode_commands, deep_pb)


# -- round trips ---------------------------------------------------------------------------------

_u32 = st.integers(0, 2**32 - 1)
_u64 = st.integers(0, 2**64 - 1)
_i64 = st.integers(-(2**63), 2**63 - 1)
_text = st.text(max_size=12)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
# payloads are raw JSON text without raw newlines (P-08 strips them on output)
_payload = st.one_of(st.just(b""), _json_values.map(lambda v: json.dumps(v).encode()))

_filter = st.recursive(
    st.builds(m.FilterNode, key=_text, cmp=st.sampled_from(["eq", "in", ""]), val=_text),
    lambda inner: st.builds(
        m.FilterNode, op=st.sampled_from(["and", "or", "not"]), nodes=st.lists(inner, max_size=3)
    ),
    max_leaves=6,
)
_sub_req = st.builds(
    m.SubscribeRequest,
    channel=_text,
    token=_text,
    recover=st.booleans(),
    epoch=_text,
    offset=_u64,
    data=_payload,
    positioned=st.booleans(),
    recoverable=st.booleans(),
    join_leave=st.booleans(),
    delta=st.sampled_from(["", "fossil"]),
    tf=st.none() | _filter,
    flag=_i64,
    limit=st.integers(-(2**31), 2**31 - 1),
)
_maybe_map = st.none() | st.dictionaries(_text, _text, min_size=1, max_size=3)
_requests = st.one_of(
    st.builds(
        lambda **kw: m.Command(connect=m.ConnectRequest(**kw)),
        token=_text,
        data=_payload,
        subs=st.none() | st.dictionaries(_text, _sub_req, min_size=1, max_size=2),
        name=_text,
        version=_text,
        headers=_maybe_map,
        flag=_i64,
    ),
    _sub_req.map(lambda r: m.Command(subscribe=r)),
    st.builds(lambda **kw: m.Command(publish=m.PublishRequest(**kw)), channel=_text, data=_payload),
    st.builds(
        lambda **kw: m.Command(history=m.HistoryRequest(**kw)),
        channel=_text,
        limit=st.integers(-(2**31), 2**31 - 1),
        since=st.none() | st.builds(m.StreamPosition, offset=_u64, epoch=_text),
        reverse=st.booleans(),
    ),
    st.builds(lambda **kw: m.Command(rpc=m.RPCRequest(**kw)), data=_payload, method=_text),
    st.builds(lambda d: m.Command(send=m.SendRequest(data=d)), _payload),
    st.builds(lambda c: m.Command(unsubscribe=m.UnsubscribeRequest(channel=c)), _text),
    st.builds(lambda t: m.Command(refresh=m.RefreshRequest(token=t)), _text),
    st.builds(
        lambda c, t: m.Command(sub_refresh=m.SubRefreshRequest(channel=c, token=t)), _text, _text
    ),
    st.builds(lambda c: m.Command(presence=m.PresenceRequest(channel=c)), _text),
    st.builds(lambda c: m.Command(presence_stats=m.PresenceStatsRequest(channel=c)), _text),
    st.just(m.Command()),
)


@st.composite
def commands(draw: st.DrawFn) -> m.Command:
    cmd = draw(_requests)
    cmd.id = draw(_u32)
    return cmd


_RT = settings(max_examples=300, deadline=None)


@_RT
@given(st.lists(commands(), min_size=1, max_size=4))
def test_json_round_trip(cmds: list[m.Command]) -> None:
    assert jc.decode_commands(jc.frame([jc.encode_command(c) for c in cmds])) == cmds


@_RT
@given(st.lists(commands(), min_size=1, max_size=4))
def test_protobuf_round_trip(cmds: list[m.Command]) -> None:
    assert pc.decode_commands(pc.frame([pc.encode_command(c) for c in cmds])) == cmds


_client_info = st.builds(
    m.ClientInfo, user=_text, client=_text, conn_info=_payload, chan_info=_payload
)
_pub = st.builds(
    m.Publication,
    data=_payload,
    info=st.none() | _client_info,
    offset=_u64,
    tags=_maybe_map,
    delta=st.booleans(),
    time=_i64,
)
_replies = st.one_of(
    _pub.map(lambda p: m.Reply(push=m.Push(channel="c", pub=p))),
    st.builds(
        lambda i, e: m.Reply(id=i, error=e),
        _u32,
        st.builds(m.Error, code=_u32, message=_text, temporary=st.booleans()),
    ),
    st.builds(
        lambda i, p, e, o: m.Reply(
            id=i, history=m.HistoryResult(publications=p, epoch=e, offset=o)
        ),
        _u32,
        st.lists(_pub, max_size=3),
        _text,
        _u64,
    ),
    st.builds(
        lambda i, p: m.Reply(id=i, presence=m.PresenceResult(presence=p or None)),
        _u32,
        st.dictionaries(_text, _client_info, max_size=3),
    ),
)


@_RT
@given(st.lists(_replies, min_size=1, max_size=3))
def test_reply_round_trip_both_codecs(replies: list[m.Reply]) -> None:
    assert jc.decode_replies(jc.frame([jc.encode_reply(r) for r in replies])) == replies
    assert pc.decode_replies(pc.frame([pc.encode_reply(r) for r in replies])) == replies


# -- JSON-shaped hostile commands: never anything but DecodeError (P-13) -----------------------

_any_int = st.integers() | st.sampled_from([2**64, 2**64 - 1, 2**63, -(2**63) - 1, 10**40, -1])
_hostile_scalars = (
    st.none()
    | st.booleans()
    | _any_int
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["\x00", "\ud800", "\U0010ffff"])
)
_hostile_json = st.recursive(
    _hostile_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
_REQUESTS = [f.name for f in msgspec.structs.fields(m.Command) if f.name != "id"]
_SHAPED = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def json_shaped_commands(draw: st.DrawFn) -> bytes:
    """A command object whose request holds the request's real field names (and others)
    with values of any JSON type, integers of any size, sometimes a deeply nested value."""
    request = draw(st.sampled_from(_REQUESTS))
    cls = type(getattr(m.Command(**{request: _request_cls(request)()}), request))
    names = [f.name for f in msgspec.structs.fields(cls)] or ["x"]
    body = draw(st.dictionaries(st.sampled_from(names) | st.text(max_size=4), _hostile_json))
    cmd: dict[str, object] = {request: body}
    if draw(st.booleans()):
        cmd["id"] = draw(_any_int | _hostile_json)
    text = json.dumps(cmd, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:  # nesting too deep somewhere in the request
        depth = draw(st.sampled_from([1_000, 5_000, 100_000]))
        deep = b"[" * depth + b"]" * depth
        text = text.replace(
            b"{", b'{"' + draw(st.sampled_from(names)).encode() + b'":' + deep + b",", 1
        )
    return text


def _request_cls(name: str) -> type[msgspec.Struct]:
    for f in msgspec.structs.fields(m.Command):
        if f.name == name:
            return next(a for a in typing.get_args(f.type) if a is not type(None))
    raise KeyError(name)


@_SHAPED
@given(st.lists(json_shaped_commands(), min_size=1, max_size=3))
def test_json_decoder_on_json_shaped_hostile_commands(lines: list[bytes]) -> None:
    frame = b"\n".join(lines)
    _check_decode(jc.decode_commands, frame)
    _check_decode(lambda f: jc.decode_commands(f, max_commands=2), frame)


@FUZZ
@given(st.binary(max_size=512), st.integers(0, 4))
def test_max_commands_never_raises_anything_else(frame: bytes, limit: int) -> None:
    _check_decode(lambda f: jc.decode_commands(f, max_commands=limit), frame)
    _check_decode(lambda f: pc.decode_commands(f, max_commands=limit), frame)


@_SHAPED
@given(st.binary(max_size=256) | json_shaped_commands())
def test_detection_never_raises_on_any_first_frame(frame: bytes) -> None:
    from centripetal.protocol.codec import get_codec
    from centripetal.protocol.detect import choose_codec

    for name in ("json", "protobuf"):
        codec = get_codec(name)
        assert choose_codec(codec, frame).binary == codec.binary
