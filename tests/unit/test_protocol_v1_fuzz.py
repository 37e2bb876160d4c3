"""The v1 decoders and the detector never crash: any input decodes or raises ``DecodeError``
(spec §2 L-01, L-59; P-13 shown to v1 clients as 3003, L-33)."""

from __future__ import annotations

import contextlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st

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
