"""Code tables of the client protocol: §1.6 errors, §1.7 unsubscribe codes, §1.8 disconnects."""

from __future__ import annotations

import pytest

from centripetal.protocol import codes


@pytest.mark.parametrize(
    ("code", "message", "temporary"),
    [
        (100, "internal server error", True),  # E-100
        (101, "unauthorized", False),  # E-101
        (102, "unknown channel", False),  # E-102
        (103, "permission denied", False),  # E-103
        (104, "method not found", False),  # E-104
        (105, "already subscribed", False),  # E-105
        (106, "limit exceeded", False),  # E-106
        (107, "bad request", False),  # E-107
        (108, "not available", False),  # E-108
        (109, "token expired", False),  # E-109
        (110, "expired", False),  # E-110
        (111, "too many requests", True),  # E-111
        (112, "unrecoverable position", False),  # E-112
        (113, "concurrent pagination", True),  # E-113
    ],
)
def test_error_table_e100_e113(code: int, message: str, temporary: bool) -> None:
    err = codes.ERRORS[code]
    assert (err.code, err.message, err.temporary) == (code, message, temporary)
    assert codes.error_info(code) is err


def test_error_table_has_exactly_e100_to_e113() -> None:
    assert sorted(codes.ERRORS) == list(range(100, 114))


def test_error_info_for_application_code_e_app() -> None:
    info = codes.error_info(4001)
    assert (info.code, info.message, info.temporary) == (4001, "", False)


def test_named_error_constants() -> None:
    assert codes.ERROR_PERMISSION_DENIED.code == 103
    assert codes.ErrorCode(108, "not available", False) == codes.ERROR_NOT_AVAILABLE
    assert codes.ERROR_INTERNAL.temporary is True


@pytest.mark.parametrize(
    ("code", "reason", "reconnect"),
    [
        (3000, "connection closed", True),  # D-3000
        (3001, "shutdown", True),  # D-3001
        (3004, "internal server error", True),  # D-3004
        (3005, "connection expired", True),  # D-3005
        (3006, "subscription expired", True),  # D-3006
        (3008, "slow", True),  # D-3008
        (3009, "write error", True),  # D-3009
        (3010, "insufficient state", True),  # D-3010
        (3011, "force reconnect", True),  # D-3011
        (3012, "no pong", True),  # D-3012
        (3013, "too many requests", True),  # D-3013
        (3014, "state invalidated", True),  # D-3014
        (3500, "invalid token", False),  # D-3500
        (3501, "bad request", False),  # D-3501
        (3502, "stale", False),  # D-3502
        (3503, "force disconnect", False),  # D-3503
        (3504, "connection limit", False),  # D-3504
        (3505, "channel limit", False),  # D-3505
        (3506, "inappropriate protocol", False),  # D-3506
        (3507, "permission denied", False),  # D-3507
        (3508, "not available", False),  # D-3508
        (3509, "too many errors", False),  # D-3509
    ],
)
def test_disconnect_table(code: int, reason: str, reconnect: bool) -> None:
    d = codes.DISCONNECTS[code]
    assert (d.code, d.reason, d.reconnect) == (code, reason, reconnect)
    assert codes.disconnect_reason(code) == reason
    assert len(reason.encode()) <= codes.MAX_REASON_BYTES


def test_disconnect_table_size() -> None:
    assert len(codes.DISCONNECTS) == 22


@pytest.mark.parametrize(
    ("code", "reconnect"),
    [
        (0, True),
        (1009, True),
        (2999, True),
        (3000, True),
        (3499, True),
        (3500, False),
        (3999, False),
        (4000, True),  # D-CUSTOM reconnect range
        (4499, True),
        (4500, False),  # D-CUSTOM terminal range
        (4999, False),
        (5000, True),
        (65000, True),
    ],
)
def test_reconnect_ranges_section_1_8(code: int, reconnect: bool) -> None:
    assert codes.should_reconnect(code) is reconnect
    assert codes.Disconnect(code, "x").reconnect is reconnect


def test_disconnect_reason_unknown_code_is_empty() -> None:
    assert codes.disconnect_reason(4501) == ""


def test_named_disconnect_constants() -> None:
    assert codes.Disconnect(3001, "shutdown") == codes.DISCONNECT_SHUTDOWN
    assert codes.Disconnect(3501, "bad request") == codes.DISCONNECT_BAD_REQUEST
    assert codes.DISCONNECT_NO_PONG.code == 3012
    assert codes.DISCONNECT_INSUFFICIENT_STATE.code == 3010


@pytest.mark.parametrize(
    ("code", "reason", "resubscribe"),
    [
        (2000, "server unsubscribe", False),  # U-2000
        (2500, "insufficient state", True),  # U-2500
        (2501, "subscription expired", True),  # U-2501
        (2502, "state invalidated", True),  # U-2502
    ],
)
def test_unsubscribe_table(code: int, reason: str, resubscribe: bool) -> None:
    u = codes.UNSUBSCRIBES[code]
    assert (u.code, u.reason, u.resubscribe) == (code, reason, resubscribe)
    assert codes.unsubscribe_reason(code) == reason


def test_unsubscribe_constants_and_unknown() -> None:
    assert codes.UNSUBSCRIBE_SERVER.code == 2000
    assert codes.UNSUBSCRIBE_INSUFFICIENT_STATE.code == 2500
    assert codes.unsubscribe_reason(2999) == ""
    assert len(codes.UNSUBSCRIBES) == 4


def test_protocol_error_carries_error() -> None:
    with pytest.raises(codes.ProtocolError) as info:
        raise codes.ProtocolError(codes.ERROR_PERMISSION_DENIED)
    assert info.value.error.code == 103
    assert info.value.error.message == "permission denied"


def test_disconnect_error_carries_disconnect() -> None:
    with pytest.raises(codes.DisconnectError) as info:
        raise codes.DisconnectError(codes.DISCONNECT_SHUTDOWN)
    assert info.value.disconnect == codes.Disconnect(3001, "shutdown")


def test_decode_error_is_bad_request_disconnect_p13() -> None:
    err = codes.DecodeError("truncated varint")
    assert isinstance(err, codes.DisconnectError)
    assert err.disconnect == codes.DISCONNECT_BAD_REQUEST
    assert str(err) == "bad request: truncated varint"
