"""The v1 decoders and the detector never crash: any input decodes or raises ``DecodeError``
(spec §2 L-01, L-59; P-13 shown to v1 clients as 3003, L-33)."""

from __future__ import annotations

import contextlib
import json

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from centripetal.protocol import messages as m
from centripetal.protocol.codes import DecodeError
from centripetal.protocol.detect import is_v1_json, is_v1_protobuf
from centripetal.protocol.v1.json_codec import JSON_V1_CODEC
from centripetal.protocol.v1.protobuf_codec import PROTOBUF_V1_CODEC

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_v1_shaped = st.fixed_dictionaries(
    {},
    optional={
        "id": st.integers(-5, 2**33),
        "method": st.integers(-3, 15) | st.text(max_size=3),
        "params": _json_values,
    },
).map(lambda d: json.dumps(d).encode())


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200) | _v1_shaped)
def test_json_v1_decoder_never_crashes(frame: bytes) -> None:
    with contextlib.suppress(DecodeError):
        JSON_V1_CODEC.decode_commands(frame)
    assert isinstance(is_v1_json(frame), bool)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_protobuf_v1_decoder_never_crashes(frame: bytes) -> None:
    with contextlib.suppress(DecodeError):
        PROTOBUF_V1_CODEC.decode_commands(frame)
    assert isinstance(is_v1_protobuf(frame), bool)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 11), st.binary(max_size=60))
def test_protobuf_v1_envelope_with_any_params(cmd_id: int, method: int, params: bytes) -> None:
    from centripetal.protocol.protobuf_codec import uvarint

    body = b"\x08" + uvarint(cmd_id) + b"\x10" + uvarint(method)
    body += b"\x1a" + uvarint(len(params)) + params
    try:
        (cmd,) = PROTOBUF_V1_CODEC.decode_commands(uvarint(len(body)) + body)
    except DecodeError:
        return
    assert cmd.id == cmd_id


# -- hostile envelopes and params (P-13, L-33) -------------------------------------------------

_any_int = st.integers() | st.sampled_from([2**32, 2**31, -(2**31) - 1, 2**64, 10**40, -1])
_hostile = st.recursive(
    st.none() | st.booleans() | _any_int | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
_PARAM_NAMES = sorted(
    {
        f.name
        for cls in (m.SubscribeRequest, m.HistoryRequest, m.ConnectRequest)
        for f in msgspec.structs.fields(cls)
    }
    | {"since", "offset", "epoch"}
)
_hostile_v1 = st.fixed_dictionaries(
    {},
    optional={
        "id": _any_int | _hostile,
        "method": _any_int | st.integers(0, 11) | _hostile,
        "params": st.dictionaries(st.sampled_from(_PARAM_NAMES), _hostile) | _hostile,
    },
).map(lambda d: json.dumps(d).encode())


@settings(max_examples=500, deadline=None)
@given(st.lists(_hostile_v1, min_size=1, max_size=3), st.integers(0, 3))
def test_json_v1_decoder_on_hostile_json_shaped_commands(lines: list[bytes], limit: int) -> None:
    frame = b"\n".join(lines)
    try:
        cmds = JSON_V1_CODEC.decode_commands(frame, max_commands=limit)
    except DecodeError:
        return
    assert all(0 <= c.id <= 2**32 - 1 for c in cmds)
    assert isinstance(is_v1_json(frame), bool)


@settings(max_examples=400, deadline=None)
@given(_any_int.filter(lambda v: 0 <= v < 2**64), st.binary(max_size=80), st.integers(0, 3))
def test_protobuf_v1_any_method_number_and_params(method: int, params: bytes, limit: int) -> None:
    from centripetal.protocol.protobuf_codec import uvarint

    body = b"\x08\x01\x10" + uvarint(method) + b"\x1a" + uvarint(len(params)) + params
    try:
        (cmd,) = PROTOBUF_V1_CODEC.decode_commands(uvarint(len(body)) + body, max_commands=limit)
    except DecodeError:
        return
    assert cmd.id == 1
