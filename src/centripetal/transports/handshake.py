"""The WebSocket opening handshake, server side (RFC 6455 §4.2; spec TR-01, TR-12).

Sans-I/O: ``UpgradeRequest`` holds what the front protocol's HTTP parser (httptools) read;
``check_upgrade`` either answers ``101 Switching Protocols`` or says why not. The accept key
is computed by the websockets library (``websockets.utils.accept_key``), which also parses
every frame of the connection afterwards (transports/websocket.py).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from websockets.utils import accept_key

__all__ = [
    "Rejection",
    "UpgradeRequest",
    "check_handshake",
    "check_upgrade",
    "rejection_response",
    "switching_protocols",
    "upgrade_refusal",
]


@dataclass(slots=True)
class UpgradeRequest:
    """The head of a ``GET`` that asks for an upgrade; header names as the client sent them.
    Lookups by name go through an index built once, on the first lookup."""

    path: str
    query_string: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    _index: dict[str, list[str]] | None = field(default=None, repr=False, compare=False)

    def _by_name(self) -> dict[str, list[str]]:
        index = self._index
        if index is None:
            index = self._index = {}
            for key, value in self.headers:
                name = key.lower()
                found = index.get(name)
                if found is None:
                    index[name] = [value]
                else:
                    found.append(value)
        return index

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (given in lower case), or None."""
        found = self._by_name().get(name)
        return found[0] if found else None

    def values(self, name: str) -> list[str]:
        """Every comma-separated token of every ``name`` header, stripped and lower-cased."""
        out: list[str] = []
        for value in self._by_name().get(name, ()):
            out.extend(t.strip().lower() for t in value.split(",") if t.strip())
        return out

    def query(self) -> dict[str, str]:
        """The URL query (first value of each name)."""
        out: dict[str, str] = {}
        if not self.query_string:
            return out
        for key, value in parse_qsl(self.query_string, keep_blank_values=True):
            out.setdefault(key, value)
        return out


@dataclass(frozen=True, slots=True)
class Rejection:
    """A handshake answered with a plain HTTP error."""

    status: int
    body: bytes
    extra_headers: tuple[tuple[str, str], ...] = ()


def _valid_key(key: str | None) -> bool:
    """RFC 6455 §4.2.1 item 5: base64 of 16 bytes."""
    if not key:
        return False
    try:
        return len(base64.b64decode(key.strip(), validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


def check_upgrade(request: UpgradeRequest) -> Rejection | None:
    """None when the request is a valid version-13 WebSocket upgrade (RFC 6455 §4.2.1)."""
    if not _asks_upgrade(request):
        return Rejection(400, b"Bad Request")  # a plain GET of the endpoint (TR-01)
    return check_handshake(request)


def check_handshake(request: UpgradeRequest) -> Rejection | None:
    """The WebSocket part of ``check_upgrade``: version 13 (426) and a valid key (400). An
    endpoint behind the front protocol calls this: the front checked the rest already."""
    if request.header("sec-websocket-version") != "13":
        return Rejection(426, b"Upgrade Required", (("Sec-WebSocket-Version", "13"),))
    if not _valid_key(request.header("sec-websocket-key")):
        return Rejection(400, b"Bad Request")
    return None


def _asks_upgrade(request: UpgradeRequest) -> bool:
    return "websocket" in request.values("upgrade") and "upgrade" in request.values("connection")


def upgrade_refusal(method: str, version: str, request: UpgradeRequest) -> Rejection | None:
    """Why a request to an upgrade endpoint cannot be upgraded, checked as soon as its head is
    read, in the order Centrifugo's upgrader checks: the upgrade tokens (400), the method
    (405), then the HTTP version (RFC 6455 §4.1: 1.1 or later; 400). None: go on."""
    if not _asks_upgrade(request):
        return Rejection(400, b"Bad Request")  # a plain request of the endpoint (TR-01)
    if method != "GET":
        return Rejection(405, b"Method Not Allowed")
    if version != "1.1":
        return Rejection(400, b"Bad Request")
    return None


def select_subprotocol(request: UpgradeRequest, supported: tuple[str, ...]) -> str | None:
    """The client's first offered subprotocol that the server supports (RFC 6455 §4.2.2)."""
    for offered in request.values("sec-websocket-protocol"):
        if offered in supported:
            return offered
    return None


def switching_protocols(
    request: UpgradeRequest, subprotocol: str | None, extensions: str | None = None
) -> bytes:
    """The ``101`` response; call only after ``check_upgrade`` returned None. ``extensions``
    is the negotiated ``Sec-WebSocket-Extensions`` value (permessage-deflate, deflate.py)."""
    key = (request.header("sec-websocket-key") or "").strip()
    head = (
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(key)}\r\n"
    )
    if subprotocol:
        head += f"Sec-WebSocket-Protocol: {subprotocol}\r\n"
    if extensions:
        head += f"Sec-WebSocket-Extensions: {extensions}\r\n"
    return (head + "\r\n").encode("latin-1")


def rejection_response(rejection: Rejection) -> bytes:
    """The plain HTTP answer to a refused handshake; the connection closes after it."""
    reasons = {
        400: "Bad Request",
        403: "Forbidden",
        405: "Method Not Allowed",
        426: "Upgrade Required",
        503: "Unavailable",
    }
    head = (
        f"HTTP/1.1 {rejection.status} {reasons.get(rejection.status, '')}\r\n"
        f"Content-Length: {len(rejection.body)}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Connection: close\r\n"
    )
    for name, value in rejection.extra_headers:
        head += f"{name}: {value}\r\n"
    return (head + "\r\n").encode("latin-1") + rejection.body
