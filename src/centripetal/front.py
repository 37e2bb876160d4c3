"""The listening socket's protocol: every connection starts here, under one request budget.

Theory of operation
-------------------
Every accepted connection starts in ``FrontProtocol``. httptools parses its requests, and the
budget of limits.py holds for each of them whoever serves it: head size and header count
(431), head and request read times, idle keep-alive time, body size (413), ``Host`` and
protocol version rules (400, 505). Deadlines are plain numbers checked by one sweep per
socket (``FrontContext``), never a timer per connection. Then:

* ``POST <http_api.handler_prefix>/<method>`` (API-01) — the connection stays in front mode
  and every request on it is answered here: the API key is checked as soon as the head is
  read (401 without buffering the body, API-04), then one executor call and one write. This
  is the benchmark's W5 path. A call that finishes without waiting is answered inside the read
  callback (eager.py). Requests are answered in order (pipelining is allowed); reading pauses
  while more than ``MAX_PIPELINED`` requests or ``max_body`` bytes wait, and while the client
  does not read its answers.
* any method on an upgrade endpoint (``websocket.handler_prefix``, TR-01) — a valid handshake
  goes to that endpoint's ``upgrade``, which answers it and gives the transport its own
  protocol (transports/websocket.py); the rest is refused here (400, 405).
* anything else (streaming transports, the legacy ``POST /api``, health, metrics …) — relay
  mode: aiohttp's protocol serves the connection, but this protocol stays in front of it,
  replays the bytes read so far, forwards every later byte and keeps parsing them only to hold
  the budget. An upgrade aiohttp serves ends the guarding (its frames are not HTTP).

A refused request gets its answer, then the connection is half-closed and read to the end for
a short while (``LINGER``) so the answer is not lost to a TCP reset.
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
from centripetal.limits import HTTPLimits, Refusal, plain_response
from centripetal.transports.handshake import UpgradeRequest, rejection_response, upgrade_refusal

if TYPE_CHECKING:
    from centripetal.api.http import MethodHandler

logger = logging.getLogger("centripetal.front")

MAX_PIPELINED = 32
LINGER = 1.0  # seconds a refused connection is drained before it closes
DRAIN_LIMIT = 4 << 20  # bytes drained at most; past them the connection is reset
IDLE, HEAD, BODY = 0, 1, 2  # where the parser stands in the current request

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
    """Raised from a parser callback: aiohttp serves this request."""


class _Request:
    __slots__ = ("all_headers", "body", "denied", "headers", "keep_alive", "method", "path")

    def __init__(self) -> None:
        self.path = ""
        self.method = b""
        self.headers: dict[bytes, bytes] = {}
        self.all_headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()
        self.keep_alive = True
        self.denied = False  # the API key was refused: the body is not kept


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


class FrontContext:
    """What the connections of one listening socket share: routes, endpoints, the budget and
    the sweep that enforces every connection's deadline."""

    def __init__(
        self,
        routes: dict[str, MethodHandler],
        fallback: Callable[[], asyncio.Protocol],
        upgrades: Mapping[str, Upgrader],
        eager: EagerRunner,
        limits: HTTPLimits,
    ) -> None:
        self.routes = routes
        self.fallback = fallback
        self.upgrades = upgrades
        self.eager = eager
        self.limits = limits
        self.connections: set[FrontProtocol] = set()
        self._interval = limits.sweep_interval()
        self._sweeper: asyncio.TimerHandle | None = None

    def track(self, conn: FrontProtocol) -> None:
        self.connections.add(conn)
        if self._sweeper is None:
            loop = asyncio.get_running_loop()
            self._sweeper = loop.call_later(self._interval, self._sweep)

    def untrack(self, conn: FrontProtocol) -> None:
        self.connections.discard(conn)

    def _sweep(self) -> None:
        self._sweeper = None
        if not self.connections:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        for conn in list(self.connections):
            deadline = conn.deadline
            if deadline and now >= deadline:
                conn.expire()
        self._sweeper = loop.call_later(self._interval, self._sweep)

    def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None


class FrontProtocol(asyncio.Protocol):
    """One accepted connection; see the module docstring."""

    def __init__(self, front: FrontContext) -> None:
        self._front = front
        self._limits = front.limits
        self._routes = front.routes
        self._upgrade: tuple[Upgrader, UpgradeRequest] | None = None
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        # bytes of the current request, replayed to aiohttp on hand-off; None when the request
        # did not start at the beginning of a read (then it cannot be handed off)
        self._raw: list[bytes] | None = []
        self._chunk = b""
        self._mid_chunk = False  # a request ended inside the read being parsed
        self._req: _Request | None = None
        self._queue: deque[_Request] = deque()
        self._queued_bytes = 0
        self._worker: asyncio.Task[None] | None = None
        self._api = False
        self._handing_off = False
        self._closing = False
        self._paused = False  # reading paused: too many requests wait
        self._write_paused = False  # the client does not read its answers
        self._write_resumed: asyncio.Future[None] | None = None
        # the budget of the request being read (limits.py)
        self._phase = IDLE
        self._requests = 0
        self._started = 0.0  # the accept (first request) or the request's first byte
        self._head_bytes = 0  # bytes received while reading a head, in whole reads
        self._head_size = 0  # request line and header bytes, counted exactly
        self._headers = 0
        self._hosts = 0
        self._content_length = -1
        self._body_bytes = 0
        self.deadline = 0.0  # loop time when ``expire`` runs; 0 = none
        self._deadline_kind = IDLE
        self._refusal: Refusal | None = None
        self._relay: asyncio.Protocol | None = None  # aiohttp's protocol (relay mode)
        self._passthrough = False  # aiohttp upgraded the connection: bytes are not HTTP
        self._draining = -1  # bytes discarded after a refusal; -1: not draining

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        self._started = asyncio.get_running_loop().time()
        self._set_deadline(self._limits.read_header_timeout, HEAD)
        self._front.track(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._front.untrack(self)
        self._closing = True
        if self._worker is not None:
            self._worker.cancel()
        if self._write_resumed is not None and not self._write_resumed.done():
            self._write_resumed.cancel()
        if self._relay is not None:
            self._relay.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._relay is not None:
            self._relay.pause_writing()
            return
        self._write_paused = True
        if not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._relay is not None:
            self._relay.resume_writing()
            return
        self._write_paused = False
        if self._write_resumed is not None and not self._write_resumed.done():
            self._write_resumed.set_result(None)
        self._maybe_resume_reading()
        if self._worker is None and self._queue:
            self._serve_now()

    def eof_received(self) -> bool | None:
        if self._relay is not None and self._draining < 0:
            return self._relay.eof_received()
        return None  # the transport closes itself

    def data_received(self, data: bytes) -> None:
        if self._draining >= 0:
            self._drain(len(data))
            return
        relay = self._relay
        if self._passthrough:
            assert relay is not None
            relay.data_received(data)
            return
        if self._phase != BODY:
            self._head_bytes += len(data)
            if self._phase == IDLE and self._requests:
                self._begin_head()  # the first byte of a later request
        self._chunk = data
        self._mid_chunk = False
        if self._raw is not None:
            self._raw.append(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            if relay is not None:
                self._passthrough = True  # aiohttp answers the upgrade and owns the bytes
                self.deadline = 0.0
            elif self._upgrade is not None:
                self._upgrade_to(self._upgrade, data[exc.args[0] :])
                return
            else:  # an upgrade of a path aiohttp serves: hand it over
                self._hand_off()
                return
        except (httptools.HttpParserError, _HandOff):
            # httptools wraps exceptions raised by callbacks (HttpParserCallbackError)
            if self._refusal is not None:
                self.refuse(self._refusal)
            elif self._handing_off:
                self._hand_off()
            else:
                self.refuse(Refusal(400))
            return
        if self._phase != BODY and self._head_bytes > self._limits.head_bytes_cap:
            self.refuse(Refusal(431))  # a head that never ends (the parser keeps it whole)
            return
        if relay is not None:
            relay.data_received(data)

    @property
    def relayed(self) -> bool:
        """aiohttp serves this connection (relay mode)."""
        return self._relay is not None

    def close(self) -> None:
        if self._transport is not None and not self._closing:
            self._closing = True
            self._transport.close()

    # -- the budget (limits.py) ----------------------------------------------------------------

    def _set_deadline(self, timeout: float, kind: int) -> None:
        if timeout > 0:
            self.deadline = asyncio.get_running_loop().time() + timeout
            self._deadline_kind = kind
        else:
            self.deadline = 0.0

    def _begin_head(self) -> None:
        """A later request began: its head has ``read_header_timeout`` from its first byte."""
        self._phase = HEAD
        self._started = asyncio.get_running_loop().time()
        limit = self._limits.read_header_timeout
        self.deadline = self._started + limit if limit > 0 else 0.0
        self._deadline_kind = HEAD

    def expire(self) -> None:
        """The sweep found this connection past its deadline (limits.py)."""
        self.deadline = 0.0
        if self._closing:
            return
        if self._deadline_kind == BODY:
            self.refuse(Refusal(408))
        else:  # head or idle: Go closes without an answer on a read timeout
            logger.debug("closing a connection: %s timeout", "head" if self._phase else "idle")
            self._discard_relay()
            self.close()

    def _check_head(self) -> None:
        """Go's rules for a complete head: size, protocol version, Host (limits.py)."""
        if self._head_size > self._limits.max_header_bytes:
            raise Refusal(431)
        version = self._parser.get_http_version()
        if version not in ("1.1", "1.0"):
            raise Refusal(505, "unsupported protocol version")
        if self._hosts > 1:
            raise Refusal(400, "too many Host headers")
        if self._hosts == 0 and version == "1.1":
            raise Refusal(400, "missing required Host header")
        if self._content_length > self._limits.max_body:
            raise Refusal(413)

    def refuse(self, refusal: Refusal) -> None:
        """Answer a refused request, then drain and close (module docstring)."""
        self._refusal = None
        transport = self._transport
        if transport is None or self._closing or transport.is_closing():
            self._discard_relay()
            return
        logger.info("refused a request: %d %s", refusal.status, refusal.detail or "")
        self._closing = True
        self.deadline = 0.0
        self._queue.clear()
        if self._worker is not None:
            self._worker.cancel()
        transport.write(
            refusal.payload or plain_response(refusal.status, refusal.detail, body=refusal.body)
        )
        self._discard_relay()
        self._draining = 0
        if transport.can_write_eof():
            transport.write_eof()
        if self._paused:
            transport.resume_reading()
        asyncio.get_running_loop().call_later(LINGER, transport.close)

    def _drain(self, size: int) -> None:
        self._draining += size
        if self._draining > DRAIN_LIMIT and self._transport is not None:
            self._transport.abort()

    def _discard_relay(self) -> None:
        """Stop feeding aiohttp: it sees the connection end."""
        relay = self._relay
        if relay is not None:
            self._relay = None
            self._passthrough = False
            relay.connection_lost(None)

    # -- hand-off to aiohttp -------------------------------------------------------------------

    def _hand_off(self) -> None:
        """Relay mode from now on: aiohttp serves, this protocol keeps the budget."""
        transport = self._transport
        raw = self._raw
        if transport is None or raw is None:  # mid-life upgrade attempt on an API connection
            self.refuse(Refusal(400))
            return
        self._raw = None
        self._handing_off = False
        self._requests -= 1  # counted again by the parse below
        proto = self._front.fallback()
        proto.connection_made(transport)
        self._relay = proto
        # parse the handed-off request again from its first byte, for the budget only
        self._parser = httptools.HttpRequestParser(self)
        self._phase = IDLE
        self._head_bytes = 0
        self.data_received(b"".join(raw))

    def _upgrade_to(self, target: tuple[Upgrader, UpgradeRequest], rest: bytes) -> None:
        transport = self._transport
        self._upgrade = None
        self._raw = None
        self.deadline = 0.0
        self._front.untrack(self)
        if transport is not None and not transport.is_closing():
            endpoint, request = target
            endpoint.upgrade(transport, request, rest)

    # -- httptools callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._phase = HEAD
        self._head_size = 16  # method, spaces, version, CRLF: about
        self._headers = self._hosts = self._body_bytes = 0
        self._content_length = -1
        if self._relay is not None:
            return
        self._req = _Request()
        if self._api:  # a later request can be handed off only if it starts a read
            self._raw = None if self._mid_chunk else [self._chunk]

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        if self._head_size > self._limits.max_header_bytes:
            self._stop(Refusal(431))
        if self._req is not None and self._relay is None:
            self._req.path += url.decode("latin-1")  # the whole target; split at the end

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        self._headers += 1
        limits = self._limits
        if self._head_size > limits.max_header_bytes or (
            limits.max_header_count and self._headers > limits.max_header_count
        ):
            self._stop(Refusal(431))
        lname = name.lower()
        if lname == b"host":
            self._hosts += 1
        elif lname == b"content-length":
            self._content_length = int(value) if value.strip().isdigit() else -1
        if self._relay is not None:
            return
        req = self._req
        assert req is not None
        req.all_headers.append((name, value))
        if lname in _WANTED:
            req.headers[lname] = value

    def _stop(self, refusal: Refusal) -> None:
        """Stop the parser from a callback; ``data_received`` answers ``refusal``."""
        self._refusal = refusal
        raise refusal

    def on_headers_complete(self) -> None:
        try:
            self._check_head()
        except Refusal as refusal:
            self._stop(refusal)
        self._phase = BODY
        self._head_bytes = 0
        self._requests += 1
        limit = self._limits.read_timeout
        if limit > 0:
            self.deadline = self._started + limit
            self._deadline_kind = BODY
        else:
            self.deadline = 0.0
        if self._relay is None:
            self._route()

    def _route(self) -> None:
        """Where the request goes: answered here, upgraded, or handed to aiohttp."""
        req = self._req
        assert req is not None
        parser = self._parser
        req.method = parser.get_method()
        req.keep_alive = parser.should_keep_alive()
        url = httptools.parse_url(req.path.encode("latin-1"))
        path = url.path.decode("latin-1")
        query = url.query
        req.path = path
        handler = self._routes.get(path)
        if req.method != b"POST" or handler is None:
            # not an API call: another endpoint takes the connection, if it can (see _idle)
            endpoint = self._front.upgrades.get(path)
            if endpoint is not None:
                self._check_upgrade(req, parser.get_http_version())
                if self._idle():
                    self._start_upgrade(endpoint, path, query, req)
                    return
            if self._raw is not None and self._idle():
                self._handing_off = True
                raise _HandOff
            if not self._api:  # cannot happen: a first request is always replayable
                self._handing_off = True
                raise _HandOff
        elif not self._api:
            self._api = True
        self._raw = None
        if handler is not None and not handler.auth.check(
            _text(req.headers.get(b"x-api-key")),
            _text(req.headers.get(b"authorization")),
            _query_key(query),
        ):
            req.denied = True  # answered 401 when complete; the body is not kept (API-04)
            if req.headers.get(b"expect", b"").lower() == b"100-continue":
                self._stop(Refusal(401, body=False))
            return
        if req.headers.get(b"expect", b"").lower() == b"100-continue" and self._transport:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits for it

    def _check_upgrade(self, req: _Request, version: str) -> None:
        """A request to an upgrade endpoint that cannot be upgraded is refused here (TR-01)."""
        headers = [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in req.all_headers
        ]
        rejection = upgrade_refusal(req.method.decode("latin-1"), version, headers)
        if rejection is not None:
            self._stop(Refusal(rejection.status, payload=rejection_response(rejection)))

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
        self._body_bytes += len(body)
        if self._body_bytes > self._limits.max_body:
            self._stop(Refusal(413))
        req = self._req
        if req is not None and self._relay is None and not req.denied:
            req.body += body

    def on_message_complete(self) -> None:
        self._phase = IDLE
        self._head_bytes = 0
        self.deadline = 0.0  # no idle deadline while an answer is pending
        if self._relay is not None:
            return  # aiohttp answers; its keep-alive timeout takes over (limits.py)
        req = self._req
        self._req = None
        self._mid_chunk = True
        if req is None or self._closing:
            return
        if self._upgrade is not None:
            if not self._parser.should_upgrade():  # a plain GET of the endpoint (TR-01)
                self._upgrade = None
                self._stop(Refusal(400))
            return  # else the parser reports the upgrade next (data_received)
        self._queue.append(req)
        self._queued_bytes += len(req.body)
        backlog = len(self._queue) > MAX_PIPELINED or self._queued_bytes > self._limits.max_body
        if backlog and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()
        if self._worker is None and not self._write_paused:
            self._serve_now()

    # -- answering -----------------------------------------------------------------------------

    def _serve_now(self) -> None:
        """Answer queued requests in this callback while they finish without waiting
        (eager.py); the first one that waits goes on in a task, and so do those after it."""
        while self._queue and not self._closing and not self._write_paused:
            req = self._queue[0]
            try:
                done, value = self._front.eager.run(self._answer(req))
            except Exception:
                logger.exception("server API request failed")
                self.refuse(Refusal(500))
                return
            if not done:
                self._worker = asyncio.get_running_loop().create_task(self._serve(value))
                return
            self._dequeue()
            if not self._respond(req, value):
                return

    async def _serve(self, first: asyncio.Future[tuple[int, bytes, bool]] | None) -> None:
        try:
            while self._queue and not self._closing:
                if self._write_paused:
                    self._write_resumed = asyncio.get_running_loop().create_future()
                    await self._write_resumed
                    self._write_resumed = None
                req = self._dequeue()
                if first is not None:
                    answer = await first
                    first = None
                else:
                    answer = await self._answer(req)
                if not self._respond(req, answer):
                    return
        finally:
            self._worker = None

    def _dequeue(self) -> _Request:
        req = self._queue.popleft()
        self._queued_bytes -= len(req.body)
        return req

    def _respond(self, req: _Request, answer: tuple[int, bytes, bool]) -> bool:
        """Write one answer; False when the connection is closing."""
        transport = self._transport
        if transport is None or transport.is_closing() or self._closing:
            return False
        status, body, json = answer
        close = not req.keep_alive
        transport.write(_response(status, body, close=close, json=json))
        if close:
            self.close()
            return False
        self._maybe_resume_reading()
        if not self._queue and self._phase == IDLE:
            self._set_deadline(self._limits.idle_timeout, IDLE)
        return True

    def _maybe_resume_reading(self) -> None:
        if (
            self._paused
            and not self._write_paused
            and len(self._queue) <= MAX_PIPELINED // 2
            and self._queued_bytes <= self._limits.max_body // 2
            and self._transport is not None
        ):
            self._paused = False
            self._transport.resume_reading()

    async def _answer(self, req: _Request) -> tuple[int, bytes, bool]:
        handler = self._routes.get(req.path)
        if handler is None:
            return 404, b"404 page not found", False
        if req.method != b"POST":
            return 405, b"", False
        if req.denied:
            return 401, b"", False
        status, body = await handler.call(
            bytes(req.body), _text(req.headers.get(b"x-centrifugo-error-mode"))
        )
        return status, body, not (status == 400 and body == b"Bad Request")


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


def _query_key(query: bytes | None) -> str | None:
    if not query:
        return None
    values = parse_qs(query.decode("latin-1")).get("api_key")
    return values[0] if values else None


class FrontServer:
    """A listening socket whose connections start with ``FrontProtocol``."""

    def __init__(self, server: asyncio.Server, front: FrontContext) -> None:
        self._server = server
        self._front = front

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
        limits: HTTPLimits | None = None,
    ) -> FrontServer:
        """``local_engine``: API calls never need a task of their own (eager.py); ``tls``:
        serve TLS on this socket (SV-01); ``limits``: the request budget (limits.py)."""
        loop = asyncio.get_running_loop()
        eager = EagerRunner(by_hand=local_engine)
        front = FrontContext(routes, fallback, dict(upgrades or {}), eager, limits or HTTPLimits())
        server = await loop.create_server(
            lambda: FrontProtocol(front),
            host,
            port,
            reuse_address=True,
            backlog=4096,
            ssl=tls,
        )
        return cls(server, front)

    async def close(self) -> None:
        """Stop accepting, then close the connections served here; those relayed to aiohttp
        are closed by aiohttp's own shutdown."""
        self._server.close()
        self._front.stop()
        for conn in list(self._front.connections):
            if conn.relayed:
                continue
            conn.close()
        await self._server.wait_closed()
