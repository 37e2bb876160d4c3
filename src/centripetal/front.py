"""The listening socket's protocol: a lean path for server API calls, aiohttp for the rest.

Theory of operation
-------------------
Every accepted connection starts here. httptools parses the head of its first request:

* ``POST <http_api.handler_prefix>/<method>`` (API-01) — the connection stays with this
  protocol for its whole life and every request on it is answered here: one parse, one
  executor call, one write. This is the benchmark's W5 path; aiohttp's request machinery costs
  several times the publish itself (docs/benchmark.md).
* ``GET`` of an upgrade endpoint (``websocket.handler_prefix``, TR-01) — the parsed head goes
  to that endpoint's ``upgrade``, which answers the handshake and gives the transport its own
  protocol (transports/websocket.py); a plain GET there is answered 400.
* anything else (other upgrades, the legacy ``POST /api``, health, metrics …) — the
  connection is handed to aiohttp's protocol unchanged: the bytes received so far are replayed
  into it and aiohttp serves the connection from then on.

Requests on an API connection are answered in order (pipelining is allowed); reading pauses
while more than ``MAX_PIPELINED`` requests wait, and bodies are capped (413). A call that
finishes without waiting is answered inside the read callback (eager.py).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qs

import httptools

from centripetal.eager import EagerRunner
from centripetal.transports.handshake import UpgradeRequest

if TYPE_CHECKING:
    from centripetal.api.http import MethodHandler

logger = logging.getLogger("centripetal.front")

MAX_BODY = 16 * 1024 * 1024
MAX_PIPELINED = 32
_REASONS = {
    200: b"OK",
    400: b"Bad Request",
    401: b"Unauthorized",
    404: b"Not Found",
    405: b"Method Not Allowed",
    409: b"Conflict",
    413: b"Request Entity Too Large",
    416: b"Requested Range Not Satisfiable",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
}
_WANTED = {b"x-api-key", b"authorization", b"x-centrifugo-error-mode", b"connection", b"expect"}


class Upgrader(Protocol):
    """An endpoint that takes over a connection after its upgrade request."""

    def upgrade(
        self, transport: asyncio.Transport, request: UpgradeRequest, rest: bytes
    ) -> None: ...


class _HandOff(Exception):
    """Raised from a parser callback: this connection belongs to aiohttp."""


class _Request:
    __slots__ = ("all_headers", "body", "headers", "keep_alive", "method", "path", "query", "url")

    def __init__(self) -> None:
        self.url = b""
        self.path = ""
        self.query: bytes | None = None
        self.method = b""
        self.headers: dict[bytes, bytes] = {}
        self.all_headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()
        self.keep_alive = True


def _response(status: int, body: bytes, *, close: bool, json: bool = True) -> bytes:
    head = b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\n" % (
        status,
        _REASONS.get(status, b""),
        len(body),
    )
    if body and json:
        head += b"Content-Type: application/json\r\n"
    elif body:
        head += b"Content-Type: text/plain; charset=utf-8\r\n"
    if close:
        head += b"Connection: close\r\n"
    return head + b"\r\n" + body


class FrontProtocol(asyncio.Protocol):
    """One accepted connection; see the module docstring."""

    def __init__(
        self,
        routes: dict[str, MethodHandler],
        fallback: Callable[[], asyncio.Protocol],
        connections: set[FrontProtocol],
        upgrades: Mapping[str, Upgrader],
        eager: EagerRunner,
    ) -> None:
        self._eager = eager
        self._routes = routes
        self._upgrades = upgrades
        self._upgrade: tuple[Upgrader, UpgradeRequest] | None = None
        self._fallback = fallback
        self._connections = connections
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        # bytes of the current request, replayed to aiohttp on hand-off; None when the request
        # did not start at the beginning of a read (then it cannot be handed off)
        self._raw: list[bytes] | None = []
        self._chunk = b""
        self._mid_chunk = False  # a request ended inside the read being parsed
        self._req: _Request | None = None
        self._queue: deque[_Request] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._api = False
        self._handing_off = False
        self._closing = False
        self._paused = False

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        self._closing = True
        if self._worker is not None:
            self._worker.cancel()

    def data_received(self, data: bytes) -> None:
        self._chunk = data
        self._mid_chunk = False
        if self._raw is not None:
            self._raw.append(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            if self._upgrade is not None:
                self._upgrade_to(self._upgrade, data[exc.args[0] :])
            else:
                self._hand_off()  # another upgrade request: aiohttp answers it
        except (httptools.HttpParserError, _HandOff):
            # httptools wraps exceptions raised by callbacks (HttpParserCallbackError)
            if self._handing_off:
                self._hand_off()
            else:
                self._reply_and_close(400, b"Bad Request")

    def close(self) -> None:
        if self._transport is not None and not self._closing:
            self._closing = True
            self._transport.close()

    # -- hand-off to aiohttp -------------------------------------------------------------------

    def _hand_off(self) -> None:
        transport = self._transport
        raw = self._raw
        if transport is None or raw is None:  # mid-life upgrade attempt on an API connection
            self._reply_and_close(400, b"Bad Request")
            return
        self._connections.discard(self)
        proto = self._fallback()
        transport.set_protocol(proto)
        proto.connection_made(transport)
        proto.data_received(b"".join(raw))
        self._raw = None

    def _upgrade_to(self, target: tuple[Upgrader, UpgradeRequest], rest: bytes) -> None:
        transport = self._transport
        self._upgrade = None
        self._raw = None
        self._connections.discard(self)
        if transport is not None and not transport.is_closing():
            endpoint, request = target
            endpoint.upgrade(transport, request, rest)

    # -- httptools callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._req = _Request()
        if self._api:  # a later request can be handed off only if it starts a read
            self._raw = None if self._mid_chunk else [self._chunk]

    def on_url(self, url: bytes) -> None:
        assert self._req is not None
        self._req.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        req = self._req
        assert req is not None
        req.all_headers.append((name, value))
        lname = name.lower()
        if lname in _WANTED:
            req.headers[lname] = value

    def on_headers_complete(self) -> None:
        req = self._req
        assert req is not None
        req.method = self._parser.get_method()
        req.keep_alive = self._parser.should_keep_alive()
        url = httptools.parse_url(req.url)
        path = req.path = url.path.decode("latin-1")
        req.query = url.query
        if req.method != b"POST" or path not in self._routes:
            # not an API call: another endpoint takes the connection, if it can (see _idle)
            endpoint = self._upgrades.get(path)
            if endpoint is not None and req.method == b"GET" and self._idle():
                self._start_upgrade(endpoint, path, url.query, req)
                return
            if self._raw is not None and self._idle():
                self._handing_off = True
                raise _HandOff
            if not self._api:  # cannot happen: a first request is always replayable
                raise _HandOff
        elif not self._api:
            self._api = True
        self._raw = None
        if req.headers.get(b"expect", b"").lower() == b"100-continue" and self._transport:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits for it

    def _idle(self) -> bool:
        """No API answer is pending, so the connection may change hands in order."""
        return not self._queue and self._worker is None

    def _start_upgrade(
        self, endpoint: Upgrader, path: str, query: bytes | None, req: _Request
    ) -> None:
        headers = [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in req.all_headers
        ]
        request = UpgradeRequest(path, (query or b"").decode("latin-1"), headers)
        self._upgrade = (endpoint, request)

    def on_body(self, body: bytes) -> None:
        req = self._req
        assert req is not None
        if len(req.body) + len(body) > MAX_BODY:
            self._reply_and_close(413, b"")
            return
        req.body += body

    def on_message_complete(self) -> None:
        req = self._req
        self._req = None
        self._mid_chunk = True
        if req is None or self._closing:
            return
        if self._upgrade is not None:
            if not self._parser.should_upgrade():  # a plain GET of the endpoint (TR-01)
                self._upgrade = None
                self._reply_and_close(400, b"Bad Request")
            return  # else the parser reports the upgrade next (data_received)
        self._queue.append(req)
        if len(self._queue) > MAX_PIPELINED and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()
        if self._worker is None:
            self._serve_now()

    # -- answering -----------------------------------------------------------------------------

    def _serve_now(self) -> None:
        """Answer queued requests in this callback while they finish without waiting
        (eager.py); the first one that waits goes on in a task, and so do those after it."""
        while self._queue and not self._closing:
            req = self._queue[0]
            try:
                done, value = self._eager.run(self._answer(req))
            except Exception:
                logger.exception("server API request failed")
                self._reply_and_close(500, b"")
                return
            if not done:
                self._worker = asyncio.get_running_loop().create_task(self._serve(value))
                return
            self._queue.popleft()
            if not self._respond(req, value):
                return

    async def _serve(self, first: asyncio.Future[tuple[int, bytes, bool]] | None) -> None:
        try:
            while self._queue and not self._closing:
                req = self._queue.popleft()
                if first is not None:
                    answer = await first
                    first = None
                else:
                    answer = await self._answer(req)
                if not self._respond(req, answer):
                    return
        finally:
            self._worker = None

    def _respond(self, req: _Request, answer: tuple[int, bytes, bool]) -> bool:
        """Write one answer; False when the connection is closing."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return False
        status, body, json = answer
        close = not req.keep_alive
        transport.write(_response(status, body, close=close, json=json))
        if close:
            self.close()
            return False
        if self._paused and len(self._queue) <= MAX_PIPELINED // 2:
            self._paused = False
            transport.resume_reading()
        return True

    async def _answer(self, req: _Request) -> tuple[int, bytes, bool]:
        handler = self._routes.get(req.path)
        if handler is None:
            return 404, b"404 page not found", False
        if req.method != b"POST":
            return 405, b"", False
        headers = req.headers
        query_key = None
        if req.query:
            values = parse_qs(req.query.decode("latin-1")).get("api_key")
            query_key = values[0] if values else None
        if not handler.auth.check(
            _text(headers.get(b"x-api-key")), _text(headers.get(b"authorization")), query_key
        ):
            return 401, b"", False
        status, body = await handler.call(
            bytes(req.body), _text(headers.get(b"x-centrifugo-error-mode"))
        )
        return status, body, not (status == 400 and body == b"Bad Request")

    def _reply_and_close(self, status: int, body: bytes) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(_response(status, body, close=True, json=False))
        self.close()


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


class FrontServer:
    """A listening socket whose connections start with ``FrontProtocol``."""

    def __init__(self, server: asyncio.Server, connections: set[FrontProtocol]) -> None:
        self._server = server
        self._connections = connections

    @classmethod
    async def start(
        cls,
        routes: dict[str, MethodHandler],
        fallback: Callable[[], asyncio.Protocol],
        host: str | None,
        port: int,
        upgrades: Mapping[str, Upgrader] | None = None,
        *,
        local_engine: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> FrontServer:
        """``local_engine``: API calls never need a task of their own (eager.py); ``tls``:
        serve TLS on this socket (SV-01)."""
        connections: set[FrontProtocol] = set()
        loop = asyncio.get_running_loop()
        endpoints = dict(upgrades or {})
        eager = EagerRunner(by_hand=local_engine)
        server = await loop.create_server(
            lambda: FrontProtocol(routes, fallback, connections, endpoints, eager),
            host,
            port,
            reuse_address=True,
            backlog=4096,
            ssl=tls,
        )
        return cls(server, connections)

    async def close(self) -> None:
        """Stop accepting, then close the API connections (aiohttp closes its own)."""
        self._server.close()
        for conn in list(self._connections):
            conn.close()
        await self._server.wait_closed()
