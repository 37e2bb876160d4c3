"""Choosing v1 or v2 (L-59) and the v1 close frames (L-10, L-30..L-44)."""

from __future__ import annotations

import json

import pytest

from centripetal.protocol.codec import get_codec
from centripetal.protocol.detect import choose_codec, forced_version, is_v1_json, is_v1_protobuf
from centripetal.protocol.v1 import get_legacy_codec
from centripetal.protocol.v1.common import MAX_CLOSE_REASON, close_frame, legacy_disconnect

# -- disconnect table ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("v2_code", "code", "reason", "reconnect"),
    [
        (3000, 3000, "normal", True),  # L-30
        (3001, 3001, "shutdown", True),  # L-31
        (3500, 3002, "invalid token", False),  # L-32
        (3501, 3003, "bad request", False),  # L-33
        (3004, 3004, "internal server error", True),  # L-34
        (3005, 3005, "expired", True),  # L-35
        (3006, 3006, "subscription expired", True),  # L-36
        (3502, 3007, "stale", False),  # L-37
        (3008, 3008, "slow", True),  # L-38
        (3009, 3009, "write error", True),  # L-39
        (3010, 3010, "insufficient state", True),  # L-40
        (3011, 3011, "force reconnect", True),  # L-41
        (3503, 3012, "force disconnect", False),  # L-42
        (3504, 3013, "connection limit", False),  # L-43
        (3505, 3013, "channel limit", False),  # L-44
    ],
)
def test_v3_disconnect_table_l30_l44(v2_code: int, code: int, reason: str, reconnect: bool) -> None:
    assert close_frame(v2_code, "ignored for table codes") == (
        code,
        json.dumps({"reason": reason, "reconnect": reconnect}, separators=(",", ":")),
    )


@pytest.mark.parametrize(
    ("v2_code", "expected"),
    [
        (3012, (3011, "no pong", True)),
        (3014, (3011, "state invalidated", True)),
        (3507, (3012, "permission denied", False)),
        (3508, (3012, "not available", False)),
        (4000, (4000, "custom", True)),
        (4499, (4499, "custom", True)),
        (4500, (4500, "custom", False)),
        (4999, (4999, "custom", False)),
    ],
)
def test_codes_outside_v3_table_l10(v2_code: int, expected: tuple[int, str, bool]) -> None:
    reason = "custom" if v2_code >= 4000 else ""
    assert legacy_disconnect(v2_code, reason) == expected


def test_long_custom_reason_is_cut_to_fit_a_close_frame_l10() -> None:
    code, text = close_frame(4100, "é" * 100)
    assert code == 4100
    assert len(text.encode()) <= MAX_CLOSE_REASON
    advice = json.loads(text)
    assert advice["reconnect"] is True
    assert advice["reason"] and set(advice["reason"]) == {"é"}


def test_v2_codecs_close_frame_is_identity_d_ws1() -> None:
    assert get_codec("json").close_frame(3501, "bad request") == (3501, "bad request")
    assert get_codec("protobuf").close_frame(4501, "x") == (4501, "x")
    assert not get_codec("json").legacy and not get_codec("protobuf").legacy


# -- detection (L-59) ------------------------------------------------------------------------------


def test_query_forces_version_l59() -> None:
    assert forced_version({"cf_protocol_version": "v1"}) == "v1"
    assert forced_version({"cf_protocol_version": "v2"}) == "v2"
    assert forced_version({"cf_protocol_version": "v3"}) == ""
    assert forced_version({}) == ""


@pytest.mark.parametrize(
    ("frame", "v1"),
    [
        (b'{"id":1,"params":{"name":"js"}}', True),  # centrifuge-js 2.x connect
        (b'{"id":1,"params":{"token":"t"}}\n{"id":2,"method":1,"params":{}}', True),
        (b'{"id":1}', True),  # connect, method omitted, no params (L-02)
        (b'{"id":4,"method":7}', True),
        (b'\n{"method":8,"params":{"data":1}}', True),
        (b'{"id":1,"connect":{"token":"t"}}', False),
        (b'{"id":1,"connect":{},"params":{}}', False),
        (b"{}", False),
        (b"[]", False),
        (b"garbage", False),
        (b"", False),
        (b'{"id":0}', False),
    ],
)
def test_json_detection_l59(frame: bytes, v1: bool) -> None:
    assert is_v1_json(frame) is v1


@pytest.mark.parametrize(
    ("frame", "v1"),
    [
        (bytes.fromhex("07 08 01 1a 03 0a 01 74"), True),  # v1 connect with params
        (bytes.fromhex("04 08 04 10 07"), True),  # v1 ping
        (bytes.fromhex("02 08 01"), True),  # id only: v1 connect without params
        (bytes.fromhex("07 08 01 22 03 0a 01 74"), False),  # TV-10: v2 connect
        (b"\x00", False),  # empty message: v2 pong
        (b"\xff\xff", False),
        (b"\x09\x08", False),
        (b"", False),
    ],
)
def test_protobuf_detection_l59(frame: bytes, v1: bool) -> None:
    assert is_v1_protobuf(frame) is v1


def test_choose_codec_picks_v1_sibling_l59() -> None:
    json2, pb2 = get_codec("json"), get_codec("protobuf")
    assert choose_codec(json2, b'{"id":1,"params":{}}') is get_legacy_codec("json")
    assert choose_codec(json2, b'{"id":1,"connect":{}}') is json2
    assert choose_codec(pb2, bytes.fromhex("04 08 04 10 07")) is get_legacy_codec("protobuf")
    assert choose_codec(pb2, b"garbage") is pb2
    v1 = get_legacy_codec("json")
    assert choose_codec(v1, b'{"id":1,"connect":{}}') is v1


def test_garbage_first_frame_is_rejected_by_the_chosen_codec_p13_l33() -> None:
    from centripetal.protocol.codes import DecodeError

    codec = choose_codec(get_codec("json"), b"garbage")
    with pytest.raises(DecodeError):
        codec.decode_commands(b"garbage")
    assert codec.close_frame(3501, "bad request") == (3501, "bad request")
    v1 = get_legacy_codec("json")  # forced v1: the same frame closes with 3003 (L-33)
    with pytest.raises(DecodeError):
        v1.decode_commands(b"garbage")
    assert v1.close_frame(3501, "bad request") == (
        3003,
        '{"reason":"bad request","reconnect":false}',
    )


def test_unknown_codec_name() -> None:
    with pytest.raises(ValueError, match="unknown protocol codec"):
        get_legacy_codec("msgpack")
