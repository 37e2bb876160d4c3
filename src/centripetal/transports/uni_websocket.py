"""Unidirectional WebSocket, ``/connection/uni_websocket`` (spec TR-06, P-48, P-56, TR-12).

The ConnectRequest is the ``cf_connect`` URL parameter or else the client's first message
(JSON); later client messages are ignored. Every push is one text frame holding a bare
``Push``: the connect push first, ``{}`` pings (each with a native WebSocket ping too), and a
``disconnect`` push followed by a close frame with the same code and reason. A disallowed
Origin gets 403 before the upgrade, as on the bidirectional endpoint.

Options (TR-06, D-WS2): ``join_push_messages`` sends the pushes queued together as one frame,
newline-joined; ``disable_disconnect_push`` leaves the disconnect push out;
``disable_closing_handshake`` closes the TCP connection without a close frame.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from centripetal.protocol import messages as m
from centripetal.transports.admission import Admission
from centripetal.transports.origin import OriginChecker
from centripetal.transports.streaming import (
    Liveness,
    StreamConnection,
    bare_push,
    serve_stream,
)
from centripetal.transports.uni import UniSession, connect_command, uni_disconnect_push

if TYPE_CHECKING:
    from centripetal.node import Node

logger = logging.getLogger("centripetal.uni_websocket")

__all__ = ["UniWebSocketHandler"]

CLOSE_TIMEOUT = 5.0
_PING = b"{}"


class UniWebSocketHandler:
    """The aiohttp handler of ``uni_websocket.handler_prefix``."""

    def __init__(self, node: Node, admission: Admission, liveness: Liveness) -> None:
        self.node = node
        self.admission = admission
        self.liveness = liveness
        cfg = node.config.uni_websocket
        self.origins = OriginChecker(node.config.client.allowed_origins)
        self.max_msg_size = cfg.message_size_limit + 1 if cfg.message_size_limit > 0 else 0
        self.join = cfg.join_push_messages
        self.disconnect_push = not cfg.disable_disconnect_push
        self.closing_handshake = not cfg.disable_closing_handshake

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.Response(status=400, text="Bad Request")
        origin = request.headers.get("Origin")
        if not self.origins.allowed(origin):
            logger.info("request Origin %r is not authorized (client.allowed_origins)", origin)
            return web.Response(status=403, text="request origin not allowed")
        if not self.admission.admit():
            return web.Response(status=503, text="Service Unavailable")
        ws = web.WebSocketResponse(
            max_msg_size=self.max_msg_size,
            autoping=True,
            autoclose=False,
            compress=False,
            timeout=CLOSE_TIMEOUT,
        )
        await ws.prepare(request)
        raw = request.query.get("cf_connect")
        if raw is None:
            raw = await self._first_message(ws)
            if raw is None:
                await ws.close(code=3501, message=b"bad request")
                return ws
        cmd = connect_command(raw.encode())
        if cmd is None:
            await ws.close(code=3501, message=b"bad request")
            return ws
        await self._serve(request, ws, cmd)
        return ws

    async def _first_message(self, ws: web.WebSocketResponse) -> str | None:
        delay = max(self.node.config.client.stale_close_delay, 1.0)
        try:
            msg = await asyncio.wait_for(ws.receive(), delay)
        except TimeoutError:
            return None
        if msg.type is WSMsgType.TEXT:
            return str(msg.data)
        if msg.type is WSMsgType.BINARY:
            return bytes(msg.data).decode("utf-8", "replace")
        return None

    async def _serve(self, request: web.Request, ws: web.WebSocketResponse, cmd: m.Command) -> None:
        closing: list[tuple[int, str]] = []

        async def write(messages: list[bytes]) -> None:
            for msg in messages:
                if msg == _PING:
                    await ws.ping()  # P-56: native ping as well
                if not self.join:
                    await ws.send_frame(bare_push(msg), WSMsgType.TEXT)
            if self.join:
                await ws.send_frame(b"\n".join(map(bare_push, messages)), WSMsgType.TEXT)

        def disconnect_push(code: int, reason: str) -> bytes:
            closing.append((code, reason))
            return uni_disconnect_push(code, reason) if self.disconnect_push else b""

        conn = StreamConnection(self.node, write, request.transport, disconnect_push)
        session = UniSession(self.node, conn, transport="uni_websocket", headers=request.headers)
        conn.session = session
        self.node.metrics.connections_accepted += 1
        reader = asyncio.get_running_loop().create_task(self._read(ws, conn))
        try:
            await serve_stream(conn, self.liveness, lambda: session.handle_commands([cmd]))
        finally:
            reader.cancel()
        if not ws.closed and not self.closing_handshake and request.transport is not None:
            request.transport.close()  # no close frame (disable_closing_handshake)
        elif not ws.closed:
            code, reason = closing[0] if closing else (3000, "connection closed")
            try:
                await ws.close(code=code, message=reason.encode()[:123])
            except Exception:  # the peer may be gone already
                return

    async def _read(self, ws: web.WebSocketResponse, conn: StreamConnection) -> None:
        """Client messages after the connect are ignored; a close frame ends the session."""
        while True:
            msg = await ws.receive()
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                conn.lost()
                return
