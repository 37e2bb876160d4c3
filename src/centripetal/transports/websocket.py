"""Bidirectional WebSocket transport (spec TR-01, TR-12, TR-13, P-02..P-05, P-12, P-13, D-WS1).

Theory of operation
-------------------
The front protocol (front.py) parses the upgrade request with httptools and hands it to
``WebSocketEndpoint.upgrade``: admission (origin, limits, shutdown), the ``101`` answer
(handshake.py), then the connection's transport is given a ``WebSocketConnection`` — an
``asyncio.Protocol`` with no task and no reader coroutine of its own while idle.

Incoming bytes go to the websockets library's sans-I/O ``ServerProtocol``, which parses and
unmasks frames, answers pings, enforces ``websocket.message_size_limit`` (1009, P-12) and
runs the closing handshake. Complete messages are decoded into commands and handed to the
session in order: one short-lived task per burst of commands, never one per connection.

Outgoing data takes the fast path of frames.py: an idle connection's message is written at
once; more messages in the same loop iteration are joined into one frame. Past
``client.queue_max_size`` bytes waiting — queued here, or in the transport — the client is
disconnected as slow (3008, P-96) at once, in the middle of a frame's commands if need be.
A write the socket cannot take keeps a deadline of ``websocket.write_timeout``: bytes that
wait that long with no progress (the client stopped reading) disconnect it with 3009 and
abort the connection (D-3009, write_deadline.py).

The budget of one connection (docs/security.md): a message being assembled holds its payload
in one buffer and at most ``max_fragments`` fragments (1009 past either limit); whole messages
wait for the session up to ``MAX_BACKLOG`` of them or ``backlog_limit`` bytes, then reading
pauses; bytes are handed to the frame parser ``RECEIVE_SLICE`` at a time, so one read cannot
become tens of thousands of frame objects at once; a frame's commands are handed to the
session in batches (dispatch.py).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections import deque
from typing import TYPE_CHECKING

from multidict import CIMultiDict
from websockets.exceptions import InvalidState, ProtocolError
from websockets.frames import CloseCode, Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from centripetal.core.session import ClientSession
from centripetal.limits import commands_per_frame
from centripetal.protocol.codec import get_codec
from centripetal.protocol.detect import choose_codec, forced_version
from centripetal.protocol.v1 import get_legacy_codec
from centripetal.proxy.request import forwarded_header_names
from centripetal.transports.admission import Admission
from centripetal.transports.concurrency import enable_concurrency
from centripetal.transports.deflate import Deflate, DeflateFrameWriter, Negotiated
from centripetal.transports.dispatch import decode_frame, handle_frame
from centripetal.transports.frames import FrameWriter
from centripetal.transports.handshake import (
    Rejection,
    UpgradeRequest,
    check_handshake,
    rejection_response,
    select_subprotocol,
    switching_protocols,
)
from centripetal.transports.origin import OriginChecker
from centripetal.transports.write_deadline import delivered
from centripetal.transports.ws_tuning import report_buffer_keys

if TYPE_CHECKING:
    from centripetal.config.schema import UniWebSocket as UniWebSocketOptions
    from centripetal.config.schema import WebSocket as WebSocketOptions
    from centripetal.node import Node
    from centripetal.protocol.codec import Codec
    from centripetal.timers import Timer, TimerQueue

logger = logging.getLogger("centripetal.websocket")
# the logger websockets' protocol picks for itself, looked up once, not per connection
_WS_LOGGER = logging.getLogger("websockets.server")

SUBPROTOCOLS = ("centrifuge-json", "centrifuge-protobuf")
CLOSE_TIMEOUT = 5.0  # D-WS1: wait up to 5 s for the peer's close frame
DEFAULT_WRITE_TIMEOUT = 1.0  # D-3009: websocket.write_timeout
MAX_BACKLOG = 32  # messages waiting for the session before reading pauses
RECEIVE_SLICE = 16384  # bytes handed to the frame parser at a time
MIN_FRAGMENT = 64  # the smallest average fragment a message may be cut into (1009 below)
_TEXT, _BINARY, _CONT, _CLOSE = Opcode.TEXT, Opcode.BINARY, Opcode.CONT, Opcode.CLOSE


class _ServerProtocol(ServerProtocol):
    """websockets' protocol, except that a close frame may interrupt a fragmented message
    (RFC 6455 §5.4: control frames may come between fragments); it is answered 1000, not
    1002 (Autobahn 7.1.5). A message over the size limit is closed 1009 with an empty
    reason, as Centrifugo's WebSocket library does (P-12)."""

    def recv_frame(self, frame: Frame) -> None:
        if frame.opcode is _CLOSE:
            self.current_size = None
        super().recv_frame(frame)

    def fail(self, code: int, reason: str = "") -> None:
        super().fail(code, "" if code == CloseCode.MESSAGE_TOO_BIG else reason)


def close_reason(reason: str) -> str:
    """A close reason cut to the 123 bytes a close frame can carry (RFC 6455 §5.5)."""
    raw = reason.encode()
    if len(raw) <= 123:
        return reason
    return raw[:123].decode("utf-8", "ignore")


def write_timeout(configured: float) -> float:
    """``write_timeout`` of a WebSocket section; zero or less means the default, 1 s, as
    centrifuge's handler takes it (D-3009)."""
    return configured if configured > 0 else DEFAULT_WRITE_TIMEOUT


def compression(options: WebSocketOptions | UniWebSocketOptions, name: str) -> Deflate | None:
    """The permessage-deflate settings of a WebSocket section, None when it is off."""
    if not options.compression:
        return None
    return Deflate(
        level=options.compression_level,
        min_size=options.compression_min_size,
        message_size_limit=options.message_size_limit,
        decompressed_limit=options.decompressed_message_size_limit,
        key=name,
    )


def refuse(transport: asyncio.Transport, rejection: Rejection) -> None:
    """Answer a handshake with a plain HTTP error and close."""
    transport.write(rejection_response(rejection))
    transport.close()


def hand_over(
    transport: asyncio.Transport,
    conn: FramedConnection,
    request: UpgradeRequest,
    subprotocol: str | None,
    rest: bytes,
    compression: Negotiated | None = None,
) -> None:
    """Answer ``101`` and let ``conn`` serve the connection from now on; ``rest`` holds the
    bytes read after the upgrade request. ``compression``: permessage-deflate was agreed
    (deflate.py), its extension inflates what the client sends."""
    header = None
    if compression is not None:
        header = compression.header
        conn.ws.extensions = [compression.extension]
    transport.write(switching_protocols(request, subprotocol, header))
    transport.set_protocol(conn)
    conn.watch_writes()
    if rest:
        conn.data_received(rest)


def kept_headers(
    request: UpgradeRequest, wanted: frozenset[str] | set[str]
) -> CIMultiDict[str] | None:
    """Only the handshake headers a proxy forwards or the user id comes from (PX-04); None
    when no header is wanted."""
    if not wanted:
        return None
    kept: CIMultiDict[str] = CIMultiDict()
    for name, value in request.headers:
        if name.lower() in wanted:
            kept.add(name, value)
    return kept


class FramedConnection(asyncio.Protocol, abc.ABC):
    """Frames in and out of one upgraded connection, over websockets' ``ServerProtocol``.

    Subclasses receive whole messages in ``on_message``.
    """

    __slots__ = (
        "_close_timer",
        "_fragments",
        "_message",
        "_text",
        "_timers",
        "_write_mark",
        "_write_timer",
        "closing",
        "limit",
        "max_fragments",
        "transport",
        "write_timeout",
        "ws",
    )

    def __init__(
        self,
        transport: asyncio.Transport,
        max_size: int | None,
        *,
        write_timeout: float = 0.0,
        timers: TimerQueue | None = None,
    ) -> None:
        self.transport = transport
        self.ws = _ServerProtocol(state=State.OPEN, max_size=max_size, logger=_WS_LOGGER)
        self.closing = False
        self.write_timeout = write_timeout if timers is not None else 0.0  # D-3009
        self._timers = timers
        self._write_timer: Timer | None = None
        self._write_mark = 0
        self._message: bytearray | None = None  # the fragmented message being assembled
        self._fragments = 0
        self._text = False
        self._close_timer: asyncio.TimerHandle | None = None
        self.limit = 0  # bytes that may wait to be written (client.queue_max_size); 0: none
        # fragments are counted by number, not only by payload bytes: empty continuation
        # frames would otherwise be free (docs/security.md)
        self.max_fragments = max(64, max_size // MIN_FRAGMENT) if max_size else 4096

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if len(data) <= RECEIVE_SLICE:
            self._receive(data)
        else:
            for start in range(0, len(data), RECEIVE_SLICE):
                self._receive(data[start : start + RECEIVE_SLICE])
        if self.ws.state is not State.OPEN:
            self.closing = True
        self.after_receive()

    def _receive(self, data: bytes) -> None:
        ws = self.ws
        ws.receive_data(data)
        events = ws.events_received()
        self._send_pending()
        for frame in events:
            if not isinstance(frame, Frame):  # only frames once the connection is open
                continue
            opcode = frame.opcode
            if opcode is _TEXT or opcode is _BINARY:
                if frame.fin:
                    self.on_message(bytes(frame.data), opcode is _TEXT)
                else:
                    self._message, self._text = bytearray(frame.data), opcode is _TEXT
                    self._fragments = 1
            elif opcode is _CONT:
                message = self._message
                if message is None:  # the protocol already failed the connection (1002)
                    continue
                self._fragments += 1
                if self._fragments > self.max_fragments:
                    self._message = None
                    self.fail(CloseCode.MESSAGE_TOO_BIG, "")  # too many fragments
                    return
                message += frame.data
                if frame.fin:
                    self._message = None
                    self.on_message(bytes(message), self._text)
            elif opcode is _CLOSE:
                self.closing = True  # the echo and the TCP close are queued by the protocol

    def after_receive(self) -> None:
        """After every read: control frames answered to a client that does not read (a
        ping flood) count against the write budget like everything else (P-96)."""
        if self.limit and self.transport.get_write_buffer_size() > self.limit:
            self.on_slow()

    def on_slow(self) -> None:
        """Over the write budget; subclasses disconnect their session with 3008."""
        self.transport.abort()

    def fail(self, code: int, reason: str) -> None:
        """Fail the connection: a close frame with ``code``, then the TCP close (RFC 6455)."""
        self.closing = True
        with contextlib.suppress(InvalidState):
            self.ws.fail(code, reason)
        self._send_pending()

    def eof_received(self) -> bool:
        self.ws.receive_eof()
        self._send_pending()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    # -- the write deadline (D-3009) -----------------------------------------------------------

    def watch_writes(self) -> None:
        """Have the transport report the bytes the socket refuses (``pause_writing``, from
        the first byte or two on) and the moment it has sent them all (``resume_writing``):
        the write deadline runs in between. Called once this connection is the transport's
        protocol. (High-water 1, not 0: TLS transports compare with ``>=`` and would pause
        on an empty buffer.)"""
        if self.write_timeout > 0:
            self.transport.set_write_buffer_limits(high=1, low=0)

    def pause_writing(self) -> None:
        if self.write_timeout <= 0 or self.closing or self._write_timer is not None:
            return
        assert self._timers is not None
        self._write_mark = delivered(self.transport)
        self._write_timer = self._timers.schedule(self.write_timeout, self._write_due)

    def resume_writing(self) -> None:
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _write_due(self) -> None:
        """``write_timeout`` with bytes waiting: the peer must have taken some since the last
        look, or the write has failed. A closing connection is left to its close timer."""
        self._write_timer = None
        transport = self.transport
        if self.closing or transport.is_closing() or not transport.get_write_buffer_size():
            return
        mark = delivered(transport)
        if mark > self._write_mark:
            self._write_mark = mark
            assert self._timers is not None
            self._write_timer = self._timers.schedule(self.write_timeout, self._write_due)
            return
        self.on_write_timeout()

    def on_write_timeout(self) -> None:
        """A write missed its deadline; subclasses disconnect their session with 3009 first.
        The close frame could not pass the stuck socket either: the connection is aborted and
        what waits for it is dropped at once."""
        self.transport.abort()

    # -- sending -------------------------------------------------------------------------------

    def _send_pending(self) -> None:
        transport = self.transport
        for chunk in self.ws.data_to_send():
            if chunk:
                transport.write(chunk)
            else:  # the protocol's signal: the server closes TCP now
                transport.close()

    def send_close(self, code: int, reason: str) -> None:
        """Start the closing handshake; abort the TCP connection if the peer never answers."""
        try:
            self.ws.send_close(code, close_reason(reason))
        except (InvalidState, ProtocolError):
            self.transport.abort()
            return
        self._send_pending()
        if self._close_timer is None and not self.transport.is_closing():
            loop = asyncio.get_running_loop()
            self._close_timer = loop.call_later(CLOSE_TIMEOUT, self.transport.abort)

    def send_ping(self) -> None:
        try:
            self.ws.send_ping(b"")
        except InvalidState:
            return
        self._send_pending()

    @abc.abstractmethod
    def on_message(self, data: bytes, text: bool) -> None:
        """One whole message (fragments joined); ``text`` for a text message."""


class WebSocketConnection(FramedConnection):
    """One client connection: the ``Sink`` of its ``ClientSession``."""

    __slots__ = (
        "backlog",
        "backlog_bytes",
        "backlog_limit",
        "codec",
        "detect",
        "endpoint",
        "hot",
        "max_commands",
        "opcode",
        "paused",
        "pending",
        "pending_bytes",
        "session",
        "worker",
        "writer",
    )

    def __init__(
        self,
        endpoint: WebSocketEndpoint,
        transport: asyncio.Transport,
        codec: Codec,
        detect: bool,
    ) -> None:
        super().__init__(
            transport,
            endpoint.max_size,
            write_timeout=endpoint.write_timeout,
            timers=endpoint.node.timers,
        )
        self.endpoint = endpoint
        self.writer = endpoint.writer
        self.codec = codec
        self.detect = detect  # protocol v1 or v2 from the first frame (L-59)
        self.opcode = 0x2 if codec.binary else 0x1
        self.limit = endpoint.node.config.client.queue_max_size
        self.max_commands = endpoint.max_commands
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.hot = False  # a frame was written in this loop iteration (frames.py)
        self.backlog: deque[bytes] = deque()
        self.backlog_bytes = 0
        self.backlog_limit = max(endpoint.max_size or 0, 65536)
        self.paused = False
        self.worker: asyncio.Task[None] | None = None
        self.session: ClientSession | None = None

    # -- Sink ----------------------------------------------------------------------------------

    def enqueue(self, message: bytes) -> None:
        if self.closing:
            return
        if self.pending:
            self.pending.append(message)
            self.pending_bytes += len(message)
            if self.limit and self.pending_bytes > self.limit:
                self.on_slow()
        elif self.hot or not self.writer.write_through:  # join into one frame (frames.py)
            self.pending.append(message)
            self.pending_bytes = len(message)
            self.writer.mark(self)
            if self.limit and self.pending_bytes > self.limit:
                self.on_slow()
        else:
            self.hot = True
            self.writer.mark_hot(self)
            transport = self.transport
            if transport.is_closing():
                return
            transport.write(self.writer.single_frame(self.opcode, self.codec, message))
            if self.limit and transport.get_write_buffer_size() > self.limit:
                self.writer.mark(self)  # flush() disconnects it, outside the fan-out loop

    def on_slow(self) -> None:
        """Over ``client.queue_max_size`` (P-96): drop what waits and disconnect with 3008
        now, so the rest of a frame's commands are not even handled. Still over it while
        closing (the client reads nothing, not even its close frame): the socket is aborted."""
        self.pending = []
        self.pending_bytes = 0
        session = self.session
        if session is not None and not self.closing:
            session.disconnect(3008)
        else:
            self.transport.abort()

    def on_write_timeout(self) -> None:
        """D-3009: a write missed ``websocket.write_timeout``: disconnect with 3009 (write
        error) and abort, dropping what waits."""
        self.pending = []
        self.pending_bytes = 0
        session = self.session
        if session is not None:
            session.disconnect(3009)
        self.transport.abort()

    def flush(self) -> int:
        msgs = self.pending
        transport = self.transport
        if msgs:
            self.pending = []
            self.pending_bytes = 0
            if transport.is_closing():
                return 0
            if len(msgs) == 1:
                transport.write(self.writer.single_frame(self.opcode, self.codec, msgs[0]))
            else:
                transport.writelines(self.writer.frames(self.opcode, self.codec, msgs))
        if self.limit and transport.get_write_buffer_size() > self.limit:
            session = self.session
            if session is not None:
                session.disconnect(3008)  # P-96 slow consumer
        return len(msgs)

    def native_ping(self) -> None:
        """A WebSocket ping frame (v1 keep-alive, L-09); the protocol ignores the pongs."""
        if not self.closing:
            self.send_ping()

    def close(self, code: int, reason: str) -> None:
        if self.closing:
            return
        self.flush()
        self.closing = True
        code, reason = self.codec.close_frame(code, reason)  # v1: v3 code, JSON reason (L-10)
        self.send_close(code, reason)

    # -- incoming messages ---------------------------------------------------------------------

    def on_message(self, data: bytes, text: bool) -> None:
        if self.closing:
            return
        self.backlog.append(data)
        self.backlog_bytes += len(data)
        if self.worker is None:
            self.worker = asyncio.get_running_loop().create_task(self._serve())
        elif (
            len(self.backlog) > MAX_BACKLOG or self.backlog_bytes > self.backlog_limit
        ) and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    async def _serve(self) -> None:
        """Hand queued messages to the session one after the other (command order, P-20)."""
        session = self.session
        assert session is not None
        backlog = self.backlog
        try:
            while backlog and not self.closing:
                data = backlog.popleft()
                self.backlog_bytes -= len(data)
                codec = self.codec
                if self.detect:
                    self.detect = False
                    codec = self.codec = session.codec = choose_codec(codec, data)
                commands = decode_frame(session, codec, data, self.max_commands)
                del data
                if commands is None:
                    return
                await handle_frame(session, commands)
                del commands  # do not keep the last frame alive while idle
                if (
                    self.paused
                    and len(backlog) <= MAX_BACKLOG // 2
                    and self.backlog_bytes <= self.backlog_limit // 2
                ):
                    self.paused = False
                    self.transport.resume_reading()
        finally:
            self.worker = None

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.pending = []
        self.backlog.clear()
        self.endpoint.forget(self)
        self.endpoint.node.spawn(self._cleanup(self.worker))

    async def _cleanup(self, worker: asyncio.Task[None] | None) -> None:
        if worker is not None and not worker.done():
            worker.cancel()
            with contextlib.suppress(BaseException):  # the session is going anyway
                await worker
        if self.session is not None:
            await self.session.on_transport_closed()
        # The session and this connection hold each other, and websockets keeps the EOFError
        # of a connection closed without a close frame, whose traceback holds its parser:
        # cycles that kept every finished connection (14-18 objects) until a full collection,
        # 240-260 ms after a 5,000-connection storm. Nothing uses them once it is gone.
        self.session = None
        self.ws.parser_exc = None


class WebSocketEndpoint:
    """``websocket.handler_prefix`` (TR-01): admission, codec choice, the upgrade itself."""

    def __init__(self, node: Node, admission: Admission | None = None) -> None:
        self.node = node
        cfg = node.config
        self.admission = admission or Admission(node)
        self.origins = OriginChecker(cfg.client.allowed_origins)
        options = cfg.websocket
        self.max_size = options.message_size_limit or None
        self.write_timeout = write_timeout(options.write_timeout)
        self.max_commands = commands_per_frame(cfg)
        self.writer = FrameWriter()
        self.deflate = compression(options, "websocket")
        self.deflate_writer = DeflateFrameWriter(self.deflate) if self.deflate else None
        report_buffer_keys(options, "websocket")
        self.kept_headers = forwarded_header_names(cfg)
        self.connections: set[WebSocketConnection] = set()

    def _refusal(self, request: UpgradeRequest) -> Rejection | None:
        rejection = check_handshake(request)  # the front checked the rest
        if rejection is not None:
            return rejection
        origin = request.header("origin")
        if not self.origins.allowed(origin):
            logger.info("request Origin %r is not authorized (client.allowed_origins)", origin)
            return Rejection(403, b"request origin not allowed")
        if self.node.shutting_down:
            return Rejection(503, b"shutting down")
        if not self.admission.admit():  # TR-13
            return Rejection(503, b"Service Unavailable")
        return None

    def _select_codec(self, subprotocol: str | None, query: dict[str, str], version: str) -> Codec:
        if (
            subprotocol == "centrifuge-protobuf"
            or query.get("cf_protocol") == "protobuf"
            or query.get("format") == "protobuf"  # also centrifuge-js 2.x (L-15)
        ):
            name = "protobuf"
        else:
            name = "json"
        if version == "v1":  # L-59
            return get_legacy_codec(name)
        return get_codec(name)

    def upgrade(self, transport: asyncio.Transport, request: UpgradeRequest, rest: bytes) -> None:
        """Answer the handshake and give the transport to a new ``WebSocketConnection``."""
        rejection = self._refusal(request)
        if rejection is not None:
            refuse(transport, rejection)
            return
        subprotocol = select_subprotocol(request, SUBPROTOCOLS)
        query = request.query()
        version = forced_version(query)
        codec = self._select_codec(subprotocol, query, version)
        conn = WebSocketConnection(self, transport, codec, detect=not version)
        negotiated = self.deflate.negotiate(request) if self.deflate is not None else None
        if negotiated is not None and self.deflate_writer is not None:
            conn.writer = self.deflate_writer  # compressed frames, shared the same way
        conn.session = ClientSession(
            self.node,
            conn,
            codec,
            transport="websocket",
            headers=kept_headers(request, self.kept_headers),
        )
        enable_concurrency(conn.session, self.node.config)
        self.connections.add(conn)
        self.node.metrics.connections_accepted += 1
        hand_over(transport, conn, request, subprotocol, rest, negotiated)

    def forget(self, conn: WebSocketConnection) -> None:
        self.connections.discard(conn)

    def abort_all(self) -> None:
        """Drop connections still open at the end of shutdown (those never connected)."""
        for conn in list(self.connections):
            conn.transport.abort()
