"""The sink shared by the HTTP streaming transports and uni_websocket (spec TR-02..TR-08, P-48).

Theory of operation
-------------------
A ``StreamConnection`` is the ``Sink`` of one session whose bytes go out as the body of a
long-lived HTTP response (http_stream, sse, uni_http_stream, uni_sse) or as WebSocket text
frames (uni_websocket). ``enqueue`` only appends to ``pending``; one writer coroutine per
connection (``run``) takes everything pending, turns it into bytes with the transport's
``write`` function and awaits it, so queued messages are coalesced into one write.

Memory stays bounded when a client stops reading: bytes pending here plus bytes in the socket's
write buffer over ``client.queue_max_size`` disconnect the client as slow (3008, P-96). These
transports have no close frame, so ``close`` queues a ``disconnect`` push first (P-48, not for
3000); a close that cannot be flushed within ``WRITE_TIMEOUT`` aborts the socket.

A peer that goes away while nothing is written is noticed by ``Liveness``: one sweep per
second over every open stream checks its socket, instead of a timer per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from centripetal.limits import commands_per_frame
from centripetal.transports.dispatch import decode_frame, handle_frame
from centripetal.transports.origin import OriginChecker

if TYPE_CHECKING:
    from centripetal.core.session import ClientSession
    from centripetal.node import Node

__all__ = [
    "Liveness",
    "StreamConnection",
    "bare_push",
    "cors_headers",
    "post_body",
    "preflight",
    "read_body",
    "stream_headers",
]

WRITE_TIMEOUT = 1.0  # seconds a closing stream may take to flush (Go: 1 s write deadline)
SWEEP_INTERVAL = 1.0
_PUSH_PREFIX = b'{"push":'

Writer = Callable[[list[bytes]], Awaitable[None]]


def bare_push(message: bytes) -> bytes:
    """``{"push":{...}}`` -> ``{...}``: unidirectional clients get bare ``Push`` objects (P-01,
    TV-12); other messages (the connect push, ``{}`` pings) pass unchanged."""
    if message.startswith(_PUSH_PREFIX):
        return message[len(_PUSH_PREFIX) : -1]
    return message


def stream_headers(content_type: str | None = None) -> dict[str, str]:
    """Response headers of every streaming endpoint (TR-02, TR-03)."""
    headers = {
        "X-Accel-Buffering": "no",
        "Cache-Control": "private, no-cache, no-store, must-revalidate, max-age=0",
        "Pragma": "no-cache",
        "Expire": "0",
    }
    if content_type:
        headers["Content-Type"] = content_type
    return headers


def cors_headers(request: web.BaseRequest, origins: OriginChecker) -> dict[str, str]:
    """TR-12: HTTP transports are not refused for their Origin; an allowed one is echoed."""
    origin = request.headers.get("Origin")
    if not origin or not origins.allowed(origin):
        return {}
    headers = {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true"}
    wanted = request.headers.get("Access-Control-Request-Headers")
    if wanted and wanted != "null":
        headers["Access-Control-Allow-Headers"] = wanted
    return headers


def preflight(request: web.BaseRequest, origins: OriginChecker) -> web.Response:
    """OPTIONS on a POST endpoint (TR-02, TR-04, TR-08)."""
    headers = cors_headers(request, origins)
    headers["Access-Control-Max-Age"] = "300"
    headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    return web.Response(status=204, headers=headers)


async def post_body(
    request: web.BaseRequest, origins: OriginChecker, limit: int
) -> web.Response | tuple[bytes, dict[str, str]]:
    """The common start of a POST endpoint (TR-02, TR-04): OPTIONS answers the preflight,
    other methods 405, a body over ``limit`` 413; else ``(body, CORS headers)``."""
    if request.method == "OPTIONS":
        return preflight(request, origins)
    headers = cors_headers(request, origins)
    if request.method != "POST":
        return web.Response(status=405, headers=headers)
    body = await read_body(request, limit)
    if body is None:
        return web.Response(status=413, headers=headers)
    return body, headers


async def read_body(request: web.BaseRequest, limit: int) -> bytes | None:
    """The request body, or None when it is over ``limit`` bytes (-> 413). A connection lost
    while reading (the front refused the request, limits.py) ends the handler quietly."""
    if limit > 0 and request.content_length is not None and request.content_length > limit:
        return None
    data = bytearray()
    try:
        async for chunk in request.content.iter_any():
            data += chunk
            if limit > 0 and len(data) > limit:
                return None
    except ConnectionError:
        raise web.HTTPBadRequest() from None  # nobody is left to read the answer
    return bytes(data)


class StreamConnection:
    """The ``Sink`` of one streaming session (see the module docstring)."""

    __slots__ = (
        "_deadline",
        "closing",
        "disconnect_push",
        "gone",
        "limit",
        "lock",
        "max_commands",
        "pending",
        "pending_bytes",
        "session",
        "transport",
        "wake",
        "write",
    )

    def __init__(
        self,
        node: Node,
        write: Writer,
        transport: asyncio.Transport | None,
        disconnect_push: Callable[[int, str], bytes],
    ) -> None:
        self.write = write
        self.transport = transport
        self.disconnect_push = disconnect_push
        self.limit = node.config.client.queue_max_size
        self.max_commands = commands_per_frame(node.config)
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.closing = False
        self.gone = False
        self.wake = asyncio.Event()
        self.lock = asyncio.Lock()  # commands of one session run one frame at a time
        self.session: ClientSession | None = None
        self._deadline: asyncio.TimerHandle | None = None

    # -- Sink ------------------------------------------------------------------------------

    def enqueue(self, message: bytes) -> None:
        if self.closing:
            return
        self.pending.append(message)
        self.pending_bytes += len(message)
        self.wake.set()
        session = self.session
        if self.limit and session is not None and self.pending_bytes + self.buffered() > self.limit:
            session.disconnect(3008)  # P-96 slow consumer

    def close(self, code: int, reason: str) -> None:
        if self.closing:
            return
        self.closing = True
        if code != 3000 and not self.gone:  # P-48
            push = self.disconnect_push(code, reason)
            if push:  # empty: this transport sends none (uni_websocket.disable_disconnect_push)
                self.pending.append(push)
        self.wake.set()
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(WRITE_TIMEOUT, self.abort)

    # -- writer ----------------------------------------------------------------------------

    def buffered(self) -> int:
        transport = self.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def lost(self) -> None:
        """The peer went away: stop writing; the handler cleans up the session."""
        self.gone = self.closing = True
        self.pending = []
        self.wake.set()

    def abort(self) -> None:
        self.lost()
        if self.transport is not None:
            self.transport.abort()

    async def run(self) -> None:
        """Write what is queued until the connection closes or the peer goes away."""
        try:
            while not self.gone:
                if not self.pending:
                    if self.closing:
                        return
                    self.wake.clear()
                    await self.wake.wait()
                    continue
                batch = self.pending
                self.pending = []
                self.pending_bytes = 0
                await self.write(batch)
        except (ConnectionError, OSError, RuntimeError):
            self.gone = self.closing = True  # the peer is gone
        finally:
            if self._deadline is not None:
                self._deadline.cancel()
            self.pending = []

    async def emulate(self, frame: bytes) -> None:
        """Commands that reached this session through the emulation endpoint (TR-04)."""
        session = self.session
        if session is None or self.closing:
            return
        async with self.lock:
            commands = decode_frame(session, session.codec, frame, self.max_commands)
            if commands is not None:
                await handle_frame(session, commands)


class Liveness:
    """Notices streams whose peer went away while idle (one sweep per second for all)."""

    def __init__(self) -> None:
        self.streams: set[StreamConnection] = set()
        self._handle: asyncio.TimerHandle | None = None

    def add(self, conn: StreamConnection) -> None:
        self.streams.add(conn)
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_later(SWEEP_INTERVAL, self._sweep)

    def discard(self, conn: StreamConnection) -> None:
        self.streams.discard(conn)
        if not self.streams and self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _sweep(self) -> None:
        self._handle = None
        for conn in list(self.streams):
            transport = conn.transport
            if transport is None or transport.is_closing():
                conn.lost()
        if self.streams:
            self._handle = asyncio.get_running_loop().call_later(SWEEP_INTERVAL, self._sweep)


async def serve_stream(
    conn: StreamConnection, liveness: Liveness, first: Callable[[], Awaitable[None]]
) -> None:
    """Run ``first`` (the connect) and the writer; clean the session up however it ends."""
    session = conn.session
    assert session is not None
    liveness.add(conn)
    writer = asyncio.get_running_loop().create_task(conn.run())
    try:
        await first()
        await asyncio.shield(writer)
    finally:
        if not writer.done():
            conn.lost()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        liveness.discard(conn)
        conn.closing = True
        await session.on_transport_closed()
