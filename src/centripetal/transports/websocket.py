"""Bidirectional WebSocket transport on aiohttp (spec TR-01, P-02..P-05, P-12, P-13, D-WS1, TR-12).

aiohttp does the handshake, parsing, masking checks, control frames and the closing handshake.
Outgoing data frames take a faster path (DESIGN §5): a session's queued messages are joined
into one frame (newline-joined JSON or varint-delimited protobuf) once per loop iteration, the
unmasked server frame is built once and written straight to the connection's transport. The
same frame bytes are reused for every connection that has exactly the same single message
queued — the common fan-out case.

Every connection's outgoing bytes are bounded: past ``client.queue_max_size`` bytes in the
transport buffer the client is disconnected as slow (3008, P-96, G9).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from centripetal.core.session import ClientSession
from centripetal.protocol.codec import get_codec
from centripetal.protocol.detect import choose_codec, forced_version
from centripetal.protocol.v1 import get_legacy_codec
from centripetal.transports.origin import OriginChecker

if TYPE_CHECKING:
    from centripetal.node import Node
    from centripetal.protocol.codec import Codec

logger = logging.getLogger("centripetal.websocket")

SUBPROTOCOLS = ("centrifuge-json", "centrifuge-protobuf")
MAX_MESSAGES_PER_FRAME = 64
CLOSE_TIMEOUT = 5.0  # D-WS1: wait up to 5 s for the closing handshake


def valid_close_code(code: int) -> bool:
    """RFC 6455 §7.4: codes a peer may send in a close frame."""
    if 1000 <= code <= 1014:
        return code not in (1004, 1005, 1006)
    return 3000 <= code <= 4999


def aiohttp_size_limit(limit: int) -> int:
    """aiohttp refuses messages of ``max_msg_size`` bytes or more; P-12 refuses only messages
    over ``websocket.message_size_limit`` (0 = no limit)."""
    return limit + 1 if limit > 0 else 0


async def answer_close(ws: web.WebSocketResponse, code: int | None) -> None:
    """Answer a peer's close frame: echo 1000, or 1002 for a code not allowed on the wire."""
    ok = not code or valid_close_code(code)  # aiohttp reports an empty close frame as 0
    await ws.close(code=1000 if ok else 1002)


def frame_header(opcode: int, length: int) -> bytes:
    """RFC 6455 header of an unmasked final frame (server to client)."""
    first = 0x80 | opcode
    if length < 126:
        return bytes((first, length))
    if length < 65536:
        return bytes((first, 126)) + length.to_bytes(2, "big")
    return bytes((first, 127)) + length.to_bytes(8, "big")


class FrameWriter:
    """Flushes every connection with queued messages once per loop iteration."""

    def __init__(self) -> None:
        self._dirty: list[WebSocketConnection] = []
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        # single-message frame cache, per opcode: (message object, frame bytes)
        self._cache: dict[int, tuple[bytes, bytes]] = {}

    def mark(self, conn: WebSocketConnection) -> None:
        self._dirty.append(conn)
        if not self._scheduled:
            self._scheduled = True
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            self._loop.call_soon(self._flush_all)

    def _flush_all(self) -> None:
        self._scheduled = False
        dirty = self._dirty
        self._dirty = []
        for conn in dirty:
            conn.flush()
        self._cache.clear()

    def single_frame(self, opcode: int, codec: Codec, message: bytes) -> bytes:
        cached = self._cache.get(opcode)
        if cached is not None and cached[0] is message:
            return cached[1]
        payload = codec.frame_one(message)
        frame = frame_header(opcode, len(payload)) + payload
        self._cache[opcode] = (message, frame)
        return frame


class WebSocketConnection:
    """The ``Sink`` of one WebSocket session."""

    __slots__ = (
        "closing",
        "codec",
        "limit",
        "node",
        "opcode",
        "pending",
        "session",
        "transport",
        "writer",
        "ws",
    )

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport,
        codec: Codec,
        node: Node,
        writer: FrameWriter,
    ) -> None:
        self.ws = ws
        self.transport = transport
        self.codec = codec
        self.node = node
        self.writer = writer
        self.opcode = 0x2 if codec.binary else 0x1
        self.pending: list[bytes] = []
        self.limit = node.config.client.queue_max_size
        self.closing = False
        self.session: ClientSession | None = None

    def enqueue(self, message: bytes) -> None:
        if self.closing:
            return
        if not self.pending:
            self.writer.mark(self)
        self.pending.append(message)

    def flush(self) -> None:
        msgs = self.pending
        if not msgs:
            return
        self.pending = []
        transport = self.transport
        if transport.is_closing():
            return
        if len(msgs) == 1:
            transport.write(self.writer.single_frame(self.opcode, self.codec, msgs[0]))
        else:
            codec = self.codec
            for i in range(0, len(msgs), MAX_MESSAGES_PER_FRAME):
                payload = codec.frame(msgs[i : i + MAX_MESSAGES_PER_FRAME])
                transport.write(frame_header(self.opcode, len(payload)) + payload)
        if self.limit and transport.get_write_buffer_size() > self.limit:
            session = self.session
            if session is not None:
                session.disconnect(3008)  # P-96 slow consumer

    def native_ping(self) -> None:
        """A WebSocket ping frame (v1 keep-alive, L-09); aiohttp answers the peer's pongs."""
        if not self.closing:
            self.node.spawn(self._ping())

    async def _ping(self) -> None:
        try:
            await self.ws.ping()
        except Exception:  # the connection is going away; its close path cleans up
            return

    def close(self, code: int, reason: str) -> None:
        if self.closing:
            return
        self.flush()
        self.closing = True
        code, reason = self.codec.close_frame(code, reason)  # v1: v3 code, JSON reason (L-10)
        self.node.spawn(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        try:
            await self.ws.close(code=code, message=reason.encode()[:123])
        except Exception:  # the peer may already be gone
            self.transport.abort()


class WebSocketHandler:
    """The aiohttp handler of ``/connection/websocket``."""

    def __init__(self, node: Node) -> None:
        self.node = node
        cfg = node.config
        self.origins = OriginChecker(cfg.client.allowed_origins)
        self.max_msg_size = aiohttp_size_limit(cfg.websocket.message_size_limit)
        self.writer = FrameWriter()
        self.connection_limit = cfg.client.connection_limit
        self.rate_limit = cfg.client.connection_rate_limit
        self.open_connections = 0
        self._rate_second = 0
        self._rate_count = 0

    def _admit(self) -> bool:
        """TR-13: ``client.connection_limit`` and ``client.connection_rate_limit`` per node."""
        if self.connection_limit and self.open_connections >= self.connection_limit:
            return False
        if self.rate_limit:
            second = int(asyncio.get_running_loop().time())
            if second != self._rate_second:
                self._rate_second, self._rate_count = second, 0
            if self._rate_count >= self.rate_limit:
                return False
            self._rate_count += 1
        return True

    def _select_codec(self, ws: web.WebSocketResponse, request: web.Request) -> Codec:
        q = request.query
        if (
            ws.ws_protocol == "centrifuge-protobuf"
            or q.get("cf_protocol") == "protobuf"
            or q.get("format") == "protobuf"  # also centrifuge-js 2.x (L-15)
        ):
            name = "protobuf"
        else:
            name = "json"
        if forced_version(q) == "v1":  # L-59
            return get_legacy_codec(name)
        return get_codec(name)

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.Response(status=400, text="Bad Request")  # plain GET (TR-01)
        origin = request.headers.get("Origin")
        if not self.origins.allowed(origin):
            logger.info("request Origin %r is not authorized (client.allowed_origins)", origin)
            return web.Response(status=403, text="request origin not allowed")
        if self.node.shutting_down:
            return web.Response(status=503, text="shutting down")
        if not self._admit():
            return web.Response(status=503, text="Service Unavailable")
        ws = web.WebSocketResponse(
            protocols=SUBPROTOCOLS,
            max_msg_size=self.max_msg_size,
            autoping=True,
            autoclose=False,
            compress=False,
            timeout=CLOSE_TIMEOUT,
            decode_text=False,
        )
        await ws.prepare(request)
        transport = request.transport
        if transport is None:
            return ws
        codec = self._select_codec(ws, request)
        # protocol v1 or v2 from the first frame unless the query chose (L-59)
        detect = not forced_version(request.query)
        conn = WebSocketConnection(ws, transport, codec, self.node, self.writer)
        session = ClientSession(
            self.node,
            conn,
            codec,
            transport="websocket",
            headers=request.headers,  # type: ignore[arg-type]
        )
        conn.session = session
        self.open_connections += 1
        self.node.metrics.connections_accepted += 1
        try:
            await self._read_loop(ws, conn, session, codec, detect)
        finally:
            self.open_connections -= 1
            conn.closing = True
            conn.pending = []
            await session.on_transport_closed()
        return ws

    async def _read_loop(
        self,
        ws: web.WebSocketResponse,
        conn: WebSocketConnection,
        session: Any,
        codec: Codec,
        detect: bool = False,
    ) -> None:
        from centripetal.protocol.codec import DecodeError

        while True:
            msg = await ws.receive()
            mtype = msg.type
            if mtype is WSMsgType.TEXT or mtype is WSMsgType.BINARY:
                if conn.closing:
                    continue
                if detect:  # the first frame picks protocol v1 or v2 (L-59)
                    detect = False
                    codec = conn.codec = session.codec = choose_codec(codec, msg.data)
                try:
                    commands = codec.decode_commands(msg.data)
                except DecodeError:
                    session.disconnect(3501)  # P-13 malformed frame
                    continue
                await session.handle_commands(commands)
                del commands, msg  # do not keep the last frame alive while idle
            elif mtype is WSMsgType.CLOSE:
                await answer_close(ws, msg.data)
                return
            else:  # ERROR (aiohttp closed with 1002/1007/1009, P-12), CLOSING, CLOSED
                return
