"""Server API request decoding, result encoding and error tables (API-02..API-08, API-23)."""

from __future__ import annotations

import msgspec
import pytest

from centripetal.api import messages as m
from centripetal.api.errors import MESSAGES, ApiError, transport_status
from centripetal.api.executor import METHODS, _b64, _payload
from centripetal.api.legacy import LegacyDecodeError, method_name, parse_commands

ENC = msgspec.json.encode


def test_publish_request_keeps_data_raw_api_08() -> None:
    req = METHODS["publish"].decode(
        b'{"channel":"chat","data":{"text": "hi" , "n":[1,2]},"tags":{"k":"v"},'
        b'"skip_history":true,"idempotency_key":"idem","delta":true,"unknown":1}'
    )
    assert isinstance(req, m.PublishRequest)
    assert req.channel == "chat"
    assert bytes(req.data) == b'{"text": "hi" , "n":[1,2]}'  # byte for byte, not re-encoded
    assert req.tags == {"k": "v"}
    assert (req.skip_history, req.idempotency_key, req.delta) == (True, "idem", True)


def test_publish_request_defaults_api_10() -> None:
    req = METHODS["publish"].decode(b"{}")
    assert req.channel == "" and bytes(req.data) == b"" and req.tags is None
    assert req.version == 0 and req.version_epoch == ""


def test_b64data_takes_precedence_api_08() -> None:
    req = METHODS["publish"].decode(b'{"channel":"c","data":{"a":1},"b64data":"AAEC/w=="}')
    assert _payload(req.data, req.b64data) == b"\x00\x01\x02\xff"


@pytest.mark.parametrize("bad", ["!!!", "AAE", "AAEC/w", "A===="])
def test_bad_base64_is_107_api_08(bad: str) -> None:
    with pytest.raises(ApiError) as exc:
        _b64(bad)
    assert (exc.value.code, exc.value.message) == (107, "bad request")


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'{"channel": 5}', b'{"tags": {"a": 1}}'])
def test_undecodable_publish_body_raises_decode_error_api_05(body: bytes) -> None:
    """``Method.decode`` turns every decode failure into error 107 (HTTP 400 in the new
    format, API-05)."""
    with pytest.raises(ApiError) as exc:
        METHODS["publish"].decode(body)
    assert exc.value.code == 107


def test_subscribe_request_override_and_recover_since_api_12() -> None:
    req = METHODS["subscribe"].decode(
        b'{"channel":"c","user":"u","override":{"presence":{"value":false},'
        b'"force_recovery":{"value":true}},"recover_since":{"offset":5,"epoch":"e"},'
        b'"info":{"role":"x"},"expire_at":17}'
    )
    assert req.override.presence == m.BoolValue(value=False)
    assert req.override.force_recovery == m.BoolValue(value=True)
    assert req.override.join_leave is None
    assert req.recover_since == m.PositionIn(offset=5, epoch="e")
    assert bytes(req.info) == b'{"role":"x"}' and req.expire_at == 17


def test_batch_request_allows_null_commands_api_23() -> None:
    req = METHODS["batch"].decode(
        b'{"commands":[{"publish":{"channel":"a"}},null],"parallel":true}'
    )
    assert req.commands[0].publish.channel == "a"
    assert req.commands[1] is None
    assert req.parallel is True


def test_result_encoding_omits_empty_fields_api_10_api_18() -> None:
    assert ENC(m.PublishResult()) == b"{}"
    assert ENC(m.PublishResult(offset=3, epoch="e")) == b'{"offset":3,"epoch":"e"}'
    assert ENC(m.PresenceStatsResult(num_clients=0, num_users=0)) == (
        b'{"num_clients":0,"num_users":0}'
    )
    assert ENC(m.HistoryResult(publications=[], epoch="", offset=0)) == (
        b'{"publications":[],"epoch":"","offset":0}'
    )
    pub = m.PublicationOut(data=msgspec.Raw(b'{"x":1}'), offset=2)
    assert ENC(pub) == b'{"data":{"x":1},"offset":2}'
    info = m.ClientInfoOut(client="c", user="", conn_info=msgspec.Raw(b'{"n":1}'))
    assert ENC(info) == b'{"client":"c","user":"","conn_info":{"n":1}}'


def test_error_messages_api_07() -> None:
    assert MESSAGES == {
        100: "internal server error",
        102: "unknown channel",
        104: "not found",
        107: "bad request",
        108: "not available",
        112: "unrecoverable position",
        113: "conflict",
    }
    assert ApiError(104).message == "not found"


@pytest.mark.parametrize(
    ("code", "status"),
    [(100, 500), (102, 404), (104, 404), (107, 400), (108, 400), (112, 416), (113, 409), (1, 500)],
)
def test_transport_status_api_06(code: int, status: int) -> None:
    assert transport_status(code) == status


def test_legacy_lines_api_03() -> None:
    cmds = parse_commands(
        b'{"id":1,"method":"publish","params":{"channel":"a"}}\n\n{"method":9}\r\n'
    )
    assert [(c.id, c.method) for c in cmds] == [(1, "publish"), (0, 9)]
    assert bytes(cmds[0].params) == b'{"channel":"a"}'
    with pytest.raises(LegacyDecodeError):
        parse_commands(b'{"method":"info"}\nnot json')


@pytest.mark.parametrize(
    ("method", "name"),
    [
        (0, "publish"),
        (1, "broadcast"),
        (2, "unsubscribe"),
        (3, "disconnect"),
        (4, "presence"),
        (5, "presence_stats"),
        (6, "history"),
        (7, "history_remove"),
        (8, "channels"),
        (9, "info"),
        (10, "rpc"),
        (11, "subscribe"),
        (12, "refresh"),
        (14, None),  # CONNECTIONS is PRO (API-25)
        (99, None),
        ("PUBLISH", "publish"),
        ("Presence_Stats", "presence_stats"),
        ("batch", None),
        ("connections", None),
    ],
)
def test_legacy_method_names_api_03(method: str | int, name: str | None) -> None:
    assert method_name(method) == name
