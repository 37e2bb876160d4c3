"""The request budget of every listening socket (spec SV-01; docs/security.md).

Sans-I/O: what a client may send before the server answers it, and the answer it gets when it
sends more. The front protocol (front.py) enforces these limits for every endpoint: the server
API, the WebSocket upgrades, and every request it hands to aiohttp (HTTP-streaming, SSE,
emulation, the unidirectional transports, health, metrics). Limits and answers follow Go's
``net/http`` server, under Centrifugo:

* request line and headers over ``http_server.max_header_bytes`` (1 MiB, Go's
  ``DefaultMaxHeaderBytes``) or more than ``http_server.max_header_count`` headers:
  ``431 Request Header Fields Too Large``;
* a head not complete within ``http_server.read_header_timeout`` of the accept (first
  request) or of its first byte (later requests), and a keep-alive connection idle longer than
  ``http_server.idle_timeout``: closed without an answer, as Go does on a read timeout;
* a body over ``http_api.max_request_body_size`` (declared or counted): ``413``; a request not
  complete within ``http_server.read_timeout``: ``408 Request Timeout``;
* malformed requests ``400``, an HTTP/1.1 request without ``Host`` or with two ``Host``
  headers ``400``, a protocol version other than 1.x ``505``.

A zero timeout means no timeout (Go's convention); ``max_header_bytes: 0`` means the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from centripetal.config.schema import Config

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_HEADER_BYTES",
    "READ_CHUNK",
    "HTTPLimits",
    "Refusal",
    "commands_per_frame",
    "plain_response",
    "status_text",
]

DEFAULT_MAX_HEADER_BYTES = 1 << 20  # Go's http.DefaultMaxHeaderBytes
DEFAULT_MAX_BODY = 16 << 20
READ_CHUNK = 256 << 10  # the most one socket read delivers (asyncio and uvloop)

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Request Entity Too Large",
    426: "Upgrade Required",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}


@dataclass(frozen=True, slots=True)
class HTTPLimits:
    """One socket's request budget, from ``http_server`` and ``http_api`` (docs/security.md)."""

    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    max_header_count: int = 100
    read_header_timeout: float = 10.0
    read_timeout: float = 30.0
    idle_timeout: float = 60.0
    max_body: int = DEFAULT_MAX_BODY

    @classmethod
    def from_config(cls, config: Config) -> HTTPLimits:
        hs = config.http_server
        return cls(
            max_header_bytes=hs.max_header_bytes or DEFAULT_MAX_HEADER_BYTES,
            max_header_count=hs.max_header_count,
            read_header_timeout=hs.read_header_timeout,
            read_timeout=hs.read_timeout,
            idle_timeout=hs.idle_timeout,
            max_body=config.http_api.max_request_body_size or DEFAULT_MAX_BODY,
        )

    @property
    def head_bytes_cap(self) -> int:
        """Bytes a head may take in transit before it is refused unseen: the limit plus the
        body bytes one read may carry behind a head that ends within it."""
        return self.max_header_bytes + READ_CHUNK

    def sweep_interval(self) -> float:
        """How often deadlines are checked: a quarter of the shortest timeout, 50-500 ms."""
        timeouts = [
            t for t in (self.read_header_timeout, self.read_timeout, self.idle_timeout) if t > 0
        ]
        return min(0.5, max(0.05, min(timeouts, default=2.0) / 4))

    def aiohttp_options(self) -> dict[str, Any]:
        """aiohttp's own parser limits, set no tighter than this budget: requests handed to
        aiohttp were already checked here, and aiohttp must not refuse what Go accepts."""
        return {
            "max_line_size": self.max_header_bytes,
            "max_field_size": self.max_header_bytes,
            "max_headers": max(self.max_header_count, 1) if self.max_header_count else 1 << 20,
            "keepalive_timeout": self.idle_timeout if self.idle_timeout > 0 else 3600.0 * 24,
        }


def commands_per_frame(config: Config) -> int:
    """Commands one client frame may carry (3501 past it): ``client.max_commands_per_frame``,
    raised to ``client.channel_limit + 64`` so a client resubscribing every channel it may hold
    in one frame (as centrifuge-js does after a reconnect) always fits; 0 = no limit."""
    client = config.client
    if not client.max_commands_per_frame:
        return 0
    return max(client.max_commands_per_frame, client.channel_limit + 64)


class Refusal(Exception):
    """A request refused before it reached an endpoint: ``status`` and Go's text."""

    def __init__(
        self, status: int, detail: str = "", *, body: bool = True, payload: bytes | None = None
    ) -> None:
        super().__init__(status, detail)
        self.status = status
        self.detail = detail
        self.body = body
        self.payload = payload  # a whole answer built elsewhere (a refused handshake)


def status_text(status: int, detail: str = "") -> str:
    """``Request Header Fields Too Large`` or ``Bad Request: missing required Host header``."""
    reason = _REASONS.get(status, "")
    return f"{reason}: {detail}" if detail else reason


def plain_response(status: int, detail: str = "", *, body: bool = True) -> bytes:
    """A closing ``text/plain`` answer in Go's shape: ``431 Request Header Fields Too Large``,
    or ``400 Bad Request: missing required Host header`` with a detail; ``body=False`` for an
    empty body (the API's 401, API-04)."""
    reason = _REASONS.get(status, "")
    text = f"{status} {reason}: {detail}" if detail else f"{status} {reason}"
    payload = text.encode("latin-1") if body else b""
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + payload
