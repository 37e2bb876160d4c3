"""The listening socket's front protocol (front.py): API calls answered without aiohttp,
everything else handed over to it on the same port (API-01, API-04, API-05, TR-01)."""

from __future__ import annotations

import socket
from typing import Any

from support.server import ServerFactory, ServerProcess

CONFIG: dict[str, Any] = {"client": {"insecure": True}, "http_api": {"key": "k"}}


def exchange(server: ServerProcess, raw: bytes, *, expect: int = 1) -> list[bytes]:
    """Send raw bytes on one connection; read until ``expect`` responses (or EOF)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(raw)
        data = b""
        while data.count(b"HTTP/1.1 ") < expect or not _complete(data, expect):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    parts = data.split(b"HTTP/1.1 ")[1:]
    return [b"HTTP/1.1 " + p for p in parts]


def _complete(data: bytes, expect: int) -> bool:
    pieces = data.split(b"HTTP/1.1 ")[1:]
    if len(pieces) < expect:
        return False
    last = pieces[-1]
    head, sep, body = last.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return True


def post(path: str, body: bytes, *extra: str) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: x", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def test_pipelined_api_calls_answered_in_order(server_factory: ServerFactory) -> None:
    server = server_factory(CONFIG)
    raw = (
        post("/api/publish", b'{"channel":"a","data":{}}', "X-API-Key: k")
        + post("/api/publish", b'{"channel":"","data":{}}', "X-API-Key: k")
        + post("/api/info", b"{}", "X-API-Key: wrong")
    )
    first, second, third = exchange(server, raw, expect=3)
    assert first.startswith(b"HTTP/1.1 200 OK") and first.endswith(b'{"result":{}}')
    assert second.endswith(b'{"error":{"code":107,"message":"bad request"}}')
    assert third.startswith(b"HTTP/1.1 401 Unauthorized")


def test_bad_json_and_unknown_path_on_an_api_connection(server_factory: ServerFactory) -> None:
    server = server_factory(CONFIG)
    raw = post("/api/publish", b"{not json", "X-API-Key: k") + post(
        "/api/nope", b"{}", "X-API-Key: k"
    )
    bad, missing = exchange(server, raw, expect=2)
    assert bad.startswith(b"HTTP/1.1 400 Bad Request") and bad.endswith(b"Bad Request")
    assert missing.startswith(b"HTTP/1.1 404")


def test_connection_close_is_honoured(server_factory: ServerFactory) -> None:
    server = server_factory(CONFIG)
    raw = post("/api/info", b"{}", "X-API-Key: k", "Connection: close")
    (reply,) = exchange(server, raw)
    assert b"Connection: close" in reply and b'"nodes"' in reply


def test_other_requests_reach_aiohttp_on_the_same_port(server_factory: ServerFactory) -> None:
    server = server_factory({**CONFIG, "health": {"enabled": True}})
    status, _, body = server.http_get("/health")
    assert (status, body) == (200, b"{}")
    legacy = post("/api", b'{"method":"info","params":{}}', "Authorization: apikey k")
    (reply,) = exchange(server, legacy)
    assert reply.startswith(b"HTTP/1.1 200") and b'"nodes"' in reply
    get = b"GET /api/publish HTTP/1.1\r\nHost: x\r\n\r\n"
    (reply,) = exchange(server, get)
    assert reply.startswith(b"HTTP/1.1 405")


def test_expect_100_continue_is_answered(server_factory: ServerFactory) -> None:
    """Clients such as curl send ``Expect: 100-continue`` for larger bodies and wait."""
    server = server_factory(CONFIG)
    body = b'{"channel":"a","data":{}}'
    head = (
        "POST /api/publish HTTP/1.1\r\nHost: x\r\nX-API-Key: k\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head)
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        reply = b""
        while not reply.endswith(b'{"result":{}}'):
            chunk = sock.recv(4096)
            assert chunk
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200 OK")


UPGRADE = (
    "GET /connection/websocket{query} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: {version}\r\n\r\n"
)


def test_websocket_endpoint_answers_plain_get_and_bad_versions(
    server_factory: ServerFactory,
) -> None:
    """TR-01: the endpoint upgrades only a valid version-13 handshake."""
    server = server_factory(CONFIG)
    (plain,) = exchange(server, b"GET /connection/websocket HTTP/1.1\r\nHost: x\r\n\r\n")
    assert plain.startswith(b"HTTP/1.1 400 Bad Request")
    (old,) = exchange(server, UPGRADE.format(query="", version="8").encode())
    assert old.startswith(b"HTTP/1.1 426 Upgrade Required")
    assert b"Sec-WebSocket-Version: 13\r\n" in old


def test_first_frame_in_the_handshake_packet_is_served(server_factory: ServerFactory) -> None:
    """Bytes after the upgrade request in the same read belong to the WebSocket."""
    from websockets.client import ClientProtocol
    from websockets.protocol import State
    from websockets.uri import parse_uri

    server = server_factory(CONFIG)
    client = ClientProtocol(parse_uri("ws://x/"), state=State.OPEN)
    client.send_text(b'{"id":1,"connect":{}}')
    raw = UPGRADE.format(query="?cf_protocol_version=v2", version="13").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(raw + b"".join(client.data_to_send()))
        data = b""
        while b'"connect"' not in data:
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols")
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
    client.receive_data(rest)
    (frame,) = client.events_received()
    assert b'"id":1' in frame.data and b'"client":' in frame.data  # type: ignore[union-attr]


def test_api_connection_can_go_on_to_other_endpoints(server_factory: ServerFactory) -> None:
    """A keep-alive connection that began with an API call may then ask for anything else:
    health (aiohttp) or a WebSocket upgrade (API-01, TR-01)."""
    server = server_factory({**CONFIG, "health": {"enabled": True}})
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:

        def round_trip(raw: bytes, until: bytes) -> bytes:
            sock.sendall(raw)
            data = b""
            while until not in data:
                chunk = sock.recv(65536)
                assert chunk, data
                data += chunk
            return data

        first = round_trip(post("/api/info", b"{}", "X-API-Key: k"), b'"nodes"')
        assert first.startswith(b"HTTP/1.1 200 OK")
        health = round_trip(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", b"{}")
        assert health.startswith(b"HTTP/1.1 200 OK")
        assert health.endswith(b"\r\n\r\n{}")

    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(post("/api/info", b"{}", "X-API-Key: k"))
        data = b""
        while b'"nodes"' not in data:
            data += sock.recv(65536)
        sock.sendall(UPGRADE.format(query="", version="13").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        assert data.startswith(b"HTTP/1.1 101 Switching Protocols")
