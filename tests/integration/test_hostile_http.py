"""The request budget holds on every endpoint (limits.py, front.py; docs/security.md).

Each test plays one finding of an adversarial run against a live server and asserts the exact
answer (status, or a silent close), the time it took, and where memory is the point an RSS
bound of the server process. Timeouts are shortened in the config so the tests run quickly;
the defaults are asserted in tests/unit/test_limits.py.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from support.hostile import RawConnection, Record, rss_growth, rss_kb, status_of
from support.server import ServerFactory, ServerProcess
from support.timing import scaled

KEY = "hostile-key"
CONFIG: dict[str, Any] = {
    "client": {"insecure": True},
    "http_api": {"key": KEY},
    "health": {"enabled": True},
    "http_stream": {"enabled": True},
    "sse": {"enabled": True},
    "http_server": {"read_header_timeout": "1s", "read_timeout": "2s", "idle_timeout": "1s"},
}
UPGRADE_HEADERS = (
    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
)
# one path per kind of endpoint: served by the front, upgraded, handed to aiohttp
PATHS = ("/api/publish", "/connection/websocket", "/health", "/connection/http_stream")


@pytest.fixture
def server(server_factory: ServerFactory) -> ServerProcess:
    return server_factory(CONFIG)


def request(
    method: str, path: str, *headers: str, body: bytes = b"", version: str = "HTTP/1.1"
) -> bytes:
    lines = [f"{method} {path} {version}", *headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _head_start(path: str) -> bytes:
    method = "POST" if path.startswith("/api") else "GET"
    return f"{method} {path} HTTP/1.1\r\nHost: x\r\n".encode()


# -- 1. endless and oversized heads -------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_endless_header_is_cut_off_with_431_and_memory_returns(
    server: ServerProcess, path: str, record_property: Record
) -> None:
    """Finding 1: a header that never ends was read forever (RSS 58 -> 186 MB after 64 MB)."""
    assert server.pid is not None
    before = rss_kb(server.pid)
    with RawConnection(server.port) as conn:
        started = time.monotonic()
        conn.send(_head_start(path) + b"X-Endless: ")
        sent = 0
        chunk = b"a" * 65536
        while sent < 64 << 20 and conn.send(chunk):
            sent += len(chunk)
        conn.read_until_closed(5)
        record_property("status", status_of(conn.received))
        record_property("closed_by_server", conn.closed_by_peer)
        record_property("seconds_to_close", round(time.monotonic() - started, 3))
        record_property("bytes_sent", sent)
        assert status_of(conn.received) == 431, conn.received[:200]
        assert conn.closed_by_peer
    # cut off after the limit, the drain after the answer and the kernel's buffers: not 64 MB
    assert sent < 24 << 20
    assert rss_growth(record_property, server.pid, before) < 16 * 1024


@pytest.mark.parametrize("path", PATHS)
def test_head_over_max_header_bytes_gets_431(
    server: ServerProcess, path: str, record_property: Record
) -> None:
    """A 2 MiB header in one piece (Go: 1 MiB DefaultMaxHeaderBytes, 431)."""
    with RawConnection(server.port) as conn:
        conn.send(_head_start(path) + b"X-Big: " + b"b" * (2 << 20) + b"\r\n\r\n")
        conn.read_until_closed(5)
    record_property("status", status_of(conn.received))
    assert conn.received.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert conn.received.endswith(b"431 Request Header Fields Too Large")


@pytest.mark.parametrize("path", PATHS)
def test_too_many_headers_get_431(
    server: ServerProcess, path: str, record_property: Record
) -> None:
    """20,000 small headers were upgraded with 101; the count limit is 100 by default."""
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(20_000))
    with RawConnection(server.port) as conn:
        conn.send(_head_start(path) + many + b"\r\n")
        conn.read_until_closed(5)
    record_property("status", status_of(conn.received))
    assert status_of(conn.received) == 431


def test_request_line_over_max_header_bytes_gets_431(server: ServerProcess) -> None:
    """The request line counts towards ``max_header_bytes`` (Go counts it too)."""
    with RawConnection(server.port) as conn:
        conn.send(b"GET /health?" + b"q" * (2 << 20) + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        conn.read_until_closed(5)
    assert status_of(conn.received) == 431


def test_configured_head_limits_are_honoured(server_factory: ServerFactory) -> None:
    """``http_server.max_header_bytes`` and ``max_header_count`` set lower take effect."""
    limits = {**CONFIG["http_server"], "max_header_bytes": 2048, "max_header_count": 10}
    server = server_factory({**CONFIG, "http_server": limits})
    fits = request("GET", "/health", "Host: x", *[f"X-H{i}: v" for i in range(9)])
    too_many = request("GET", "/health", "Host: x", *[f"X-H{i}: v" for i in range(10)])
    too_big = request("GET", "/health", "Host: x", "Cookie: " + "c" * 2100)
    answers = []
    for raw in (fits, too_many, too_big):
        with RawConnection(server.port) as conn:
            conn.send(raw)
            answers.append(status_of(conn.read_response()))
    assert answers == [200, 431, 431]


def test_a_head_just_under_the_limits_is_served(server: ServerProcess) -> None:
    """The budget refuses nothing Go would serve: 100 headers and a 900 KB cookie pass."""
    headers = [f"X-H{i}: v" for i in range(98)]
    cookie = "Cookie: c=" + "c" * 900_000
    with RawConnection(server.port) as conn:
        conn.send(request("GET", "/health", "Host: x", cookie, *headers))
        response = conn.read_response()
    assert status_of(response) == 200 and response.endswith(b"{}")


# -- 2. slowloris and idle sockets ---------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_slowloris_head_is_closed_at_read_header_timeout(
    server: ServerProcess, path: str, record_property: Record
) -> None:
    """Finding 2: one byte per second was held for 70 s and more."""
    with RawConnection(server.port) as conn:
        started = time.monotonic()
        head = _head_start(path) + b"X-Slow: " + b"s" * 100
        sent = 0
        for byte in head:
            if not conn.send(bytes([byte])) or time.monotonic() - started > scaled(5):
                break
            sent += 1
            time.sleep(0.05)
        conn.read_until_closed(5)
        elapsed = time.monotonic() - started
    record_property("read_header_timeout", CONFIG["http_server"]["read_header_timeout"])
    record_property("seconds_to_close", round(elapsed, 3))
    record_property("bytes_sent", sent)
    record_property("closed_by_server", conn.closed_by_peer)
    record_property("bytes_received", len(conn.received))
    assert conn.closed_by_peer and conn.received == b""  # Go closes without an answer
    assert scaled(0.9) <= elapsed <= scaled(2.5)


def test_idle_sockets_are_closed_at_read_header_timeout(
    server: ServerProcess, record_property: Record
) -> None:
    """200 connections that send nothing are all closed after read_header_timeout (1 s)."""
    conns = [RawConnection(server.port) for _ in range(200)]
    try:
        started = time.monotonic()
        for conn in conns:
            conn.read_until_closed(3)
        elapsed = time.monotonic() - started
        record_property("read_header_timeout", CONFIG["http_server"]["read_header_timeout"])
        record_property("connections", len(conns))
        record_property("closed_by_server", sum(c.closed_by_peer for c in conns))
        record_property("seconds_to_close_all", round(elapsed, 3))
        assert all(c.closed_by_peer and c.received == b"" for c in conns)
        assert elapsed <= scaled(3)
    finally:
        for conn in conns:
            conn.close()


@pytest.mark.parametrize("path", ["/api/info", "/health"])
def test_idle_keep_alive_connection_is_closed_at_idle_timeout(
    server: ServerProcess, path: str, record_property: Record
) -> None:
    """After an answer, a keep-alive connection may wait ``idle_timeout`` (1 s here)."""
    with RawConnection(server.port) as conn:
        if path.startswith("/api"):
            conn.send(request("POST", path, "Host: x", f"X-API-Key: {KEY}", body=b"{}"))
        else:
            conn.send(request("GET", path, "Host: x"))
        assert status_of(conn.read_response()) == 200
        conn.received = b""
        waited = conn.read_until_closed(5)
    record_property("idle_timeout", CONFIG["http_server"]["idle_timeout"])
    record_property("seconds_to_close", round(waited, 3))
    record_property("closed_by_server", conn.closed_by_peer)
    assert conn.closed_by_peer and conn.received == b""
    assert scaled(0.8) <= waited <= scaled(3)


@pytest.mark.parametrize("path", ["/api/info", "/health"])
def test_a_slow_second_request_is_closed_at_read_header_timeout(
    server: ServerProcess, path: str, record_property: Record
) -> None:
    """The budget holds for every request of a keep-alive connection, relayed ones too."""
    with RawConnection(server.port) as conn:
        if path.startswith("/api"):
            first = request("POST", path, "Host: x", f"X-API-Key: {KEY}", body=b"{}")
        else:
            first = request("GET", path, "Host: x")
        conn.send(first)
        assert status_of(conn.read_response()) == 200
        conn.received = b""
        started = time.monotonic()
        conn.send(first[:10])
        conn.read_until_closed(5)
        elapsed = time.monotonic() - started
    record_property("seconds_to_close", round(elapsed, 3))
    record_property("closed_by_server", conn.closed_by_peer)
    assert conn.closed_by_peer and conn.received == b""
    assert elapsed <= scaled(2.5)


# -- 7. request line and header rules ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status", "text"),
    [
        (f"GET /connection/websocket HTTP/1.1\r\n{UPGRADE_HEADERS}\r\n", 400, b"Host header"),
        (
            f"GET /connection/websocket HTTP/1.1\r\nHost: a\r\nHost: b\r\n{UPGRADE_HEADERS}\r\n",
            400,
            b"too many Host headers",
        ),
        (
            f"GET /connection/websocket HTTP/2.0\r\nHost: a\r\n{UPGRADE_HEADERS}\r\n",
            505,
            b"unsupported protocol version",
        ),
        (f"GET /connection/websocket HTTP/1.0\r\nHost: a\r\n{UPGRADE_HEADERS}\r\n", 400, b""),
        (f"POST /connection/websocket HTTP/1.1\r\nHost: a\r\n{UPGRADE_HEADERS}\r\n", 405, b""),
        (f"PUT /connection/websocket HTTP/1.1\r\nHost: a\r\n{UPGRADE_HEADERS}\r\n", 405, b""),
        ("POST /api/info HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 400, b"Host header"),
        ("GET /health HTTP/1.1\r\n\r\n", 400, b"Host header"),
        # llhttp knows no HTTP/3.0 request line: malformed (Go would say 505)
        ("GET /health HTTP/3.0\r\nHost: a\r\n\r\n", 400, b""),
    ],
)
def test_request_line_and_host_rules(
    server: ServerProcess, raw: str, status: int, text: bytes, record_property: Record
) -> None:
    """Finding 7: these were upgraded (101) or answered 404; Go and RFC 6455 refuse them."""
    with RawConnection(server.port) as conn:
        conn.send(raw.encode())
        response = conn.read_response()
    record_property("status", status_of(response))
    assert status_of(response) == status, response[:200]
    assert text in response
    assert b"Connection: close" in response


def test_http_1_0_without_host_is_served(server: ServerProcess) -> None:
    """``Host`` is required from HTTP/1.1 on; an HTTP/1.0 request may omit it (Go)."""
    with RawConnection(server.port) as conn:
        conn.send(b"GET /health HTTP/1.0\r\n\r\n")
        response = conn.read_response()
    assert status_of(response) == 200


# -- 8. bodies -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/publish", "/api", "/connection/http_stream", "/health"])
def test_declared_body_over_the_cap_is_refused_before_it_is_read(
    server: ServerProcess, path: str, record_property: Record
) -> None:
    """Finding 8: ``Content-Length: 100000000`` was not refused up front."""
    with RawConnection(server.port) as conn:
        started = time.monotonic()
        conn.send(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nX-API-Key: {KEY}\r\n"
            "Content-Length: 100000000\r\n\r\n".encode()
        )
        response = conn.read_response()
        elapsed = time.monotonic() - started
    record_property("status", status_of(response))
    record_property("seconds_to_answer", round(elapsed, 3))
    assert status_of(response) == 413 and b"Connection: close" in response
    assert elapsed < scaled(1)


@pytest.mark.parametrize("path", ["/api/publish", "/connection/http_stream"])
def test_body_shorter_than_declared_gets_408_at_read_timeout(
    server: ServerProcess, path: str, record_property: Record
) -> None:
    """A body that stops short kept the connection open forever; read_timeout is 2 s here."""
    with RawConnection(server.port) as conn:
        started = time.monotonic()
        conn.send(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nX-API-Key: {KEY}\r\n"
            "Content-Length: 100\r\n\r\n{".encode()
        )
        conn.read_until_closed(6)
        elapsed = time.monotonic() - started
    record_property("read_timeout", CONFIG["http_server"]["read_timeout"])
    record_property("status", status_of(conn.received))
    record_property("closed_by_server", conn.closed_by_peer)
    record_property("seconds_to_close", round(elapsed, 3))
    assert status_of(conn.received) == 408 and conn.closed_by_peer
    assert scaled(1.5) <= elapsed <= scaled(3.5)


def test_chunk_size_of_2_to_the_64_is_refused(
    server: ServerProcess, record_property: Record
) -> None:
    with RawConnection(server.port) as conn:
        started = time.monotonic()
        conn.send(
            f"POST /api/publish HTTP/1.1\r\nHost: x\r\nX-API-Key: {KEY}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n".encode()
        )
        response = conn.read_response()
    record_property("status", status_of(response))
    record_property("seconds_to_answer", round(time.monotonic() - started, 3))
    assert status_of(response) == 400


def test_chunked_body_over_the_cap_gets_413(
    server_factory: ServerFactory, record_property: Record
) -> None:
    server = server_factory({**CONFIG, "http_api": {"key": KEY, "max_request_body_size": 1000}})
    with RawConnection(server.port) as conn:
        conn.send(
            f"POST /api/publish HTTP/1.1\r\nHost: x\r\nX-API-Key: {KEY}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        for _ in range(20):
            if not conn.send(b"100\r\n" + b"x" * 256 + b"\r\n"):
                break
        response = conn.read_response()
    record_property("max_request_body_size", 1000)
    record_property("status", status_of(response))
    assert status_of(response) == 413


def test_unauthenticated_api_body_is_not_kept(
    server: ServerProcess, record_property: Record
) -> None:
    """The API key is checked once the head is read: a body sent with a wrong key costs no
    memory (API-04), and is answered 401 with an empty body."""
    assert server.pid is not None
    body = b'{"channel":"c","data":"' + b"z" * (15 << 20) + b'"}'
    before = rss_kb(server.pid)
    with RawConnection(server.port, timeout=20) as conn:
        conn.send(request("POST", "/api/publish", "Host: x", "X-API-Key: wrong", body=body))
        response = conn.read_response(20)
    record_property("status", status_of(response))
    record_property("body_bytes_sent", len(body))
    assert response.startswith(b"HTTP/1.1 401 Unauthorized\r\n")
    assert response.endswith(b"\r\n\r\n")
    assert rss_growth(record_property, server.pid, before) < 8 * 1024


def test_unauthenticated_expect_continue_is_refused_at_once(server: ServerProcess) -> None:
    with RawConnection(server.port) as conn:
        conn.send(
            b"POST /api/publish HTTP/1.1\r\nHost: x\r\nX-API-Key: wrong\r\n"
            b"Content-Length: 1000000\r\nExpect: 100-continue\r\n\r\n"
        )
        response = conn.read_response()
    assert status_of(response) == 401 and b"100 Continue" not in response


def test_pipelined_api_answers_wait_for_a_client_that_does_not_read(
    server: ServerProcess, record_property: Record
) -> None:
    """A client pipelining requests without reading answers stops being read: the server's
    memory does not grow with what it cannot send."""
    assert server.pid is not None
    one = request("POST", "/api/info", "Host: x", f"X-API-Key: {KEY}", body=b"{}")
    before = rss_kb(server.pid)
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    sent = 0
    try:
        deadline = time.monotonic() + scaled(3)
        while time.monotonic() < deadline:
            try:
                sent += sock.send(one * 100)
            except BlockingIOError:
                time.sleep(0.01)
        growth = rss_growth(record_property, server.pid, before)
    finally:
        sock.close()
    record_property("bytes_sent", sent)
    assert sent > 0
    assert growth < 16 * 1024
