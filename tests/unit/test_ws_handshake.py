"""The WebSocket opening handshake, sans-I/O (transports/handshake.py; RFC 6455 §4.2, TR-01)."""

from __future__ import annotations

from centripetal.transports.handshake import (
    UpgradeRequest,
    check_upgrade,
    rejection_response,
    select_subprotocol,
    switching_protocols,
)

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3 example


def request(*extra: tuple[str, str], drop: str = "") -> UpgradeRequest:
    headers = [
        ("Host", "example"),
        ("Upgrade", "websocket"),
        ("Connection", "keep-alive, Upgrade"),
        ("Sec-WebSocket-Key", RFC_KEY),
        ("Sec-WebSocket-Version", "13"),
        *extra,
    ]
    return UpgradeRequest(
        "/connection/websocket",
        "cf_protocol=protobuf&a=1&a=2",
        [h for h in headers if h[0] != drop],
    )


def test_valid_request_gets_the_rfc_accept_key() -> None:
    req = request()
    assert check_upgrade(req) is None
    assert switching_protocols(req, None) == (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    )


def test_header_names_are_case_insensitive() -> None:
    req = UpgradeRequest(
        "/",
        "",
        [
            ("UPGRADE", "WebSocket"),
            ("connection", "upgrade"),
            ("sec-websocket-key", RFC_KEY),
            ("SEC-WEBSOCKET-VERSION", "13"),
        ],
    )
    assert check_upgrade(req) is None


def test_plain_get_and_missing_connection_token_are_400() -> None:
    for req in (request(drop="Upgrade"), request(drop="Connection")):
        rejection = check_upgrade(req)
        assert rejection is not None and (rejection.status, rejection.body) == (400, b"Bad Request")


def test_wrong_version_is_426_with_the_supported_version() -> None:
    req = request(drop="Sec-WebSocket-Version")
    req.headers.append(("Sec-WebSocket-Version", "8"))
    rejection = check_upgrade(req)
    assert rejection is not None and rejection.status == 426
    raw = rejection_response(rejection)
    assert raw.startswith(b"HTTP/1.1 426 Upgrade Required\r\n")
    assert b"\r\nSec-WebSocket-Version: 13\r\n" in raw and b"Connection: close" in raw


def test_key_must_be_base64_of_16_bytes() -> None:
    for key in ("", "not base64!", "AAAA", "dGhlIHNhbXBsZSBub25jZXg="):
        req = request(drop="Sec-WebSocket-Key")
        req.headers.append(("Sec-WebSocket-Key", key))
        rejection = check_upgrade(req)
        assert rejection is not None and rejection.status == 400, key


def test_subprotocol_is_the_clients_first_supported_offer() -> None:
    supported = ("centrifuge-json", "centrifuge-protobuf")
    req = request(
        ("Sec-WebSocket-Protocol", "other, centrifuge-protobuf"),
        ("Sec-WebSocket-Protocol", "centrifuge-json"),
    )
    assert select_subprotocol(req, supported) == "centrifuge-protobuf"
    assert select_subprotocol(request(), supported) is None
    raw = switching_protocols(req, "centrifuge-protobuf")
    assert raw.endswith(b"Sec-WebSocket-Protocol: centrifuge-protobuf\r\n\r\n")


def test_query_keeps_the_first_value() -> None:
    assert request().query() == {"cf_protocol": "protobuf", "a": "1"}
