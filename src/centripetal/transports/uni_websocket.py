"""Unidirectional WebSocket, ``/connection/uni_websocket`` (spec TR-06, P-48, P-56, TR-12).

Served on the same WebSocket stack as the bidirectional endpoint (websocket.py): the front
protocol parses the upgrade, ``FramedConnection`` parses frames under the same budget
(message size, fragments, the write budget), so no WebSocket limit is written twice.

The ConnectRequest is the ``cf_connect`` URL parameter or else the client's first message
(JSON), which must come within ``client.stale_close_delay``; a missing or malformed one closes
with 3501. Later client messages are ignored. Every push is one text frame holding a bare
``Push``: the connect push first, ``{}`` pings (each with a native WebSocket ping too), and a
``disconnect`` push followed by a close frame with the same code and reason. A disallowed
Origin gets 403 before the upgrade, as on the bidirectional endpoint.

Options (TR-06, D-WS2): ``join_push_messages`` sends the pushes queued together as one frame,
newline-joined; ``disable_disconnect_push`` leaves the disconnect push out;
``disable_closing_handshake`` closes the TCP connection without a close frame;
``compression`` (``compression_min_size``, ``compression_level``) compresses the pushes of a
client that offers permessage-deflate, as on the bidirectional endpoint (deflate.py). Past
``client.queue_max_size`` bytes waiting, the client is disconnected as slow (3008, P-96); a
write stuck for ``write_timeout`` closes it with 3009 (D-3009).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from websockets.exceptions import InvalidState
from websockets.protocol import State

from centripetal.proxy.request import forwarded_header_names
from centripetal.transports.admission import Admission
from centripetal.transports.deflate import Deflate
from centripetal.transports.handshake import (
    Rejection,
    UpgradeRequest,
    check_handshake,
)
from centripetal.transports.origin import OriginChecker
from centripetal.transports.streaming import bare_push
from centripetal.transports.uni import UniSession, connect_command, uni_disconnect_push
from centripetal.transports.websocket import (
    FramedConnection,
    compression,
    hand_over,
    kept_headers,
    refuse,
    write_timeout,
)
from centripetal.transports.ws_tuning import report_buffer_keys

if TYPE_CHECKING:
    from centripetal.node import Node

logger = logging.getLogger("centripetal.uni_websocket")

__all__ = ["UniWebSocketConnection", "UniWebSocketEndpoint"]

_PING = b"{}"
_TEXT = 0x1


class UniWebSocketConnection(FramedConnection):
    """One unidirectional WebSocket: the ``Sink`` of its ``UniSession``."""

    __slots__ = (
        "_first_timer",
        "_request",
        "_scheduled",
        "deflate",
        "endpoint",
        "pending",
        "pending_bytes",
        "session",
    )

    def __init__(self, endpoint: UniWebSocketEndpoint, transport: asyncio.Transport) -> None:
        super().__init__(
            transport,
            endpoint.max_size,
            write_timeout=endpoint.write_timeout,
            timers=endpoint.node.timers,
        )
        self.endpoint = endpoint
        self.limit = endpoint.node.config.client.queue_max_size
        self._request: UpgradeRequest | None = None  # until the connect request comes
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.session: UniSession | None = None
        self._scheduled = False
        self._first_timer: asyncio.TimerHandle | None = None
        self.deflate: Deflate | None = None  # permessage-deflate agreed (deflate.py)

    # -- the connect request ---------------------------------------------------------------

    def start(self, request: UpgradeRequest, raw: str | None) -> None:
        """Connect with ``cf_connect`` now, or wait for the first message."""
        if raw is not None:
            self._connect(raw.encode(), request)
            return
        delay = max(self.endpoint.node.config.client.stale_close_delay, 1.0)
        loop = asyncio.get_running_loop()
        self._first_timer = loop.call_later(delay, self._refuse_connect)
        self._request = request

    def on_message(self, data: bytes, text: bool) -> None:
        if self.session is not None or self.closing:
            return  # later client messages are ignored (TR-06)
        if self._first_timer is not None:
            self._first_timer.cancel()
            self._first_timer = None
        request = self._request
        self._request = None
        if request is not None:
            self._connect(data, request)

    def _connect(self, raw: bytes, request: UpgradeRequest) -> None:
        cmd = connect_command(raw)
        if cmd is None:
            self._refuse_connect()
            return
        endpoint = self.endpoint
        node = endpoint.node
        session = UniSession(
            node, self, transport="uni_websocket", headers=kept_headers(request, endpoint.kept)
        )
        self.session = session
        node.metrics.connections_accepted += 1
        node.spawn(session.handle_commands([cmd]))

    def _refuse_connect(self) -> None:
        """No usable ConnectRequest: close with 3501 (there is no session to disconnect)."""
        self._first_timer = None
        self._request = None
        if not self.closing:
            self.closing = True
            self.send_close(3501, "bad request")

    # -- Sink --------------------------------------------------------------------------------

    def enqueue(self, message: bytes) -> None:
        if self.closing:
            return
        self.pending.append(message)
        self.pending_bytes += len(message)
        if self.limit and self.pending_bytes + self.transport.get_write_buffer_size() > self.limit:
            self.on_slow()
            return
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write what is queued: one text frame per push, or one joined frame."""
        self._scheduled = False
        messages = self.pending
        if not messages or self.transport.is_closing():
            return
        self.pending = []
        self.pending_bytes = 0
        ws = self.ws
        try:
            for message in messages:
                if message == _PING:
                    ws.send_ping(b"")  # P-56: a native ping with every {} ping
                if not self.endpoint.join:
                    self._send_text(bare_push(message))
            if self.endpoint.join:
                self._send_text(b"\n".join(bare_push(message) for message in messages))
        except InvalidState:
            return
        self._send_pending()

    def _send_text(self, data: bytes) -> None:
        """One text frame, compressed past ``compression_min_size`` when deflate was agreed."""
        deflate = self.deflate
        if deflate is None:
            self.ws.send_text(data)
            return
        if self.ws.state is not State.OPEN:
            raise InvalidState("connection is not open")
        self._send_pending()  # a ping queued before it goes first
        self.transport.write(deflate.frame(_TEXT, data))

    def close(self, code: int, reason: str) -> None:
        if self.closing:
            return
        self.flush()
        self.closing = True
        endpoint = self.endpoint
        if code != 3000 and endpoint.disconnect_push:  # P-48
            with contextlib.suppress(InvalidState):
                self._send_text(uni_disconnect_push(code, reason))
            self._send_pending()
        if endpoint.closing_handshake:
            self.send_close(code, reason)
        else:
            self.transport.close()  # no close frame (disable_closing_handshake)

    def on_write_timeout(self) -> None:
        """D-3009: a write missed ``uni_websocket.write_timeout``: disconnect with 3009 and
        abort, dropping what waits (the disconnect push could not pass either)."""
        self.pending = []
        self.pending_bytes = 0
        if self.session is not None:
            self.session.disconnect(3009)
        self.transport.abort()

    def on_slow(self) -> None:
        """P-96: over ``client.queue_max_size``: drop what waits and disconnect with 3008;
        over it again while closing: abort the socket."""
        self.pending = []
        self.pending_bytes = 0
        if self.session is not None and not self.closing:
            self.session.disconnect(3008)
        else:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.pending = []
        if self._first_timer is not None:
            self._first_timer.cancel()
            self._first_timer = None
        self.endpoint.connections.discard(self)
        if self.session is not None:
            self.endpoint.node.spawn(self.session.on_transport_closed())


class UniWebSocketEndpoint:
    """``uni_websocket.handler_prefix`` (TR-06): admission, origin, the upgrade itself."""

    def __init__(self, node: Node, admission: Admission) -> None:
        self.node = node
        self.admission = admission
        cfg = node.config
        options = cfg.uni_websocket
        self.origins = OriginChecker(cfg.client.allowed_origins)
        self.max_size = options.message_size_limit or None
        self.write_timeout = write_timeout(options.write_timeout)
        self.join = options.join_push_messages
        self.disconnect_push = not options.disable_disconnect_push
        self.closing_handshake = not options.disable_closing_handshake
        self.kept = forwarded_header_names(cfg)
        self.deflate = compression(options, "uni_websocket")
        report_buffer_keys(options, "uni_websocket")
        self.connections: set[UniWebSocketConnection] = set()

    def _refusal(self, request: UpgradeRequest) -> Rejection | None:
        rejection = check_handshake(request)  # the front checked the rest
        if rejection is not None:
            return rejection
        origin = request.header("origin")
        if not self.origins.allowed(origin):
            logger.info("request Origin %r is not authorized (client.allowed_origins)", origin)
            return Rejection(403, b"request origin not allowed")
        if not self.admission.admit():  # TR-13 (shutting down included)
            return Rejection(503, b"Service Unavailable")
        return None

    def upgrade(self, transport: asyncio.Transport, request: UpgradeRequest, rest: bytes) -> None:
        rejection = self._refusal(request)
        if rejection is not None:
            refuse(transport, rejection)
            return
        conn = UniWebSocketConnection(self, transport)
        negotiated = self.deflate.negotiate(request) if self.deflate is not None else None
        if negotiated is not None:
            conn.deflate = self.deflate
        self.connections.add(conn)
        hand_over(transport, conn, request, None, rest, negotiated)
        conn.start(request, request.query().get("cf_connect"))

    def abort_all(self) -> None:
        for conn in list(self.connections):
            conn.transport.abort()
