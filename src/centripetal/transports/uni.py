"""Unidirectional transports: ``uni_http_stream`` and ``uni_sse`` (spec TR-07, TR-08, TR-10,
P-47, P-48, P-56); the session type is shared with ``uni_websocket`` (TR-06).

The client sends one ``ConnectRequest`` (JSON: ``token``, ``data``, ``subs``, ``name``,
``version``, ``headers``) when the connection opens and never a command after it. The server
connects the session before answering (a connect error becomes a disconnect, TR-10), then
streams bare ``Push`` objects: ``{"connect":{...}}`` first (P-47), publications as
``{"channel":..,"pub":{..}}``, ``{}`` pings with no pong expected (P-56), and a
``{"disconnect":{..}}`` push before the end (P-48). Server-side subscriptions from the token,
the connect proxy or ``subs`` apply as on any connection.

PX-09: ``client.connect_code_to_unidirectional_disconnect.transforms`` replace the default
error-to-disconnect mapping; with ``<transport>.connect_code_to_http_response.enabled`` a
refused connect is answered with an HTTP status and body instead of a stream (the matching
transform, or 500).
"""

from __future__ import annotations

import abc
import uuid
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from centripetal.core.session import CONNECTED, ClientSession, Sink
from centripetal.protocol import json_codec
from centripetal.protocol import messages as m
from centripetal.protocol.codec import DecodeError, get_codec
from centripetal.protocol.codes import disconnect_reason
from centripetal.transports.admission import Admission
from centripetal.transports.origin import OriginChecker
from centripetal.transports.sse import SSE_CONTENT_TYPE, sse_events
from centripetal.transports.streaming import (
    Liveness,
    StreamConnection,
    bare_push,
    cors_headers,
    preflight,
    read_body,
    serve_stream,
    stream_headers,
)

if TYPE_CHECKING:
    from centripetal.config.schema import (
        ConnectCodeToHTTPResponse,
        ConnectCodeToUnidirectionalDisconnect,
    )
    from centripetal.node import Node

__all__ = [
    "UniHTTPStreamHandler",
    "UniSSEHandler",
    "UniSession",
    "connect_command",
    "uni_disconnect_code",
    "uni_disconnect_push",
]

# TR-10: connect errors a unidirectional client receives as disconnects
_ERROR_TO_DISCONNECT = {109: 3005, 110: 3005, 111: 3013, 103: 3507}


def uni_disconnect_code(error_code: int) -> int:
    """The disconnect for a connect error: 109/110 -> 3005, 111 -> 3013, 103 -> 3507,
    anything else -> 3004 (TR-10)."""
    return _ERROR_TO_DISCONNECT.get(error_code, 3004)


def transformed_disconnect(
    error_code: int, transforms: ConnectCodeToUnidirectionalDisconnect
) -> tuple[int, str]:
    """The disconnect for a connect error, after the configured transforms (PX-09)."""
    if transforms.enabled:
        for t in transforms.transforms:
            if t.code == error_code:
                return t.to.code, t.to.reason or disconnect_reason(t.to.code)
    code = uni_disconnect_code(error_code)
    return code, disconnect_reason(code)


def http_response_for(code: int, text: str, config: ConnectCodeToHTTPResponse) -> tuple[int, str]:
    """``(status, body)`` for a refused connect: the transform for ``code`` (its body, else
    the error's own text), or 500 (PX-09)."""
    for t in config.transforms:
        if t.code == code:
            return t.to.status_code, t.to.body or text
    return 500, "Internal Server Error"


def uni_disconnect_push(code: int, reason: str) -> bytes:
    """``{"disconnect":{"code":..,"reason":..}}`` (P-48)."""
    return json_codec.encode_push(m.Push(disconnect=m.Disconnect(code=code, reason=reason)))


def connect_command(raw: bytes) -> m.Command | None:
    """A JSON ``ConnectRequest`` as the connect command the session runs; None when it is not
    a JSON object of that shape. Empty input is an empty request (TR-07)."""
    if not raw.strip():
        return m.Command(id=1, connect=m.ConnectRequest())
    try:
        if not isinstance(msgspec.json.decode(raw), dict):
            return None
        (cmd,) = json_codec.decode_commands(b'{"id":1,"connect":' + raw.strip() + b"}")
    except (msgspec.DecodeError, DecodeError, ValueError, RecursionError):
        return None
    return cmd if cmd.connect is not None else None


class UniSession(ClientSession):
    """A session that receives pushes only: connect push instead of a connect reply, connect
    errors as disconnects, pings without pongs (P-47, P-56, TR-10)."""

    def __init__(self, node: Node, conn: Sink, *, transport: str, headers: Any) -> None:
        super().__init__(node, conn, get_codec("json"), transport=transport, headers=headers)
        self.session_id = str(uuid.uuid4())
        self.connect_failure: tuple[int, str] | None = None  # (code, text) of a refusal

    def disconnect(self, code: int, reason: str = "") -> None:
        if self.state != CONNECTED and self.connect_failure is None:  # refused at connect
            self.connect_failure = (code, reason or disconnect_reason(code))
        super().disconnect(code, reason)

    def _pong_enabled(self) -> bool:
        return False  # P-56: no pong expected, the connect push has no ``pong``

    def send_reply(self, reply: m.Reply) -> None:
        result = reply.connect
        if result is not None:
            push = m.Connect(
                client=result.client,
                version=result.version,
                data=result.data,
                subs=result.subs,
                expires=result.expires,
                ttl=result.ttl,
                ping=result.ping,
                session=self.session_id,
                time=result.time,
            )
            self.enqueue(json_codec.encode_push(m.Push(connect=push)))
        elif reply.error is not None:
            error = reply.error
            self.connect_failure = (error.code, error.message)
            transforms = self.node.config.client.connect_code_to_unidirectional_disconnect
            self.disconnect(*transformed_disconnect(error.code, transforms))


async def run_uni(
    request: web.Request,
    node: Node,
    liveness: Liveness,
    response: web.StreamResponse,
    conn: StreamConnection,
    cmd: m.Command,
    transport: str,
    preamble: bytes = b"",
    http_errors: ConnectCodeToHTTPResponse | None = None,
) -> web.Response | None:
    """Connect, answer 200 and stream until the session ends; clean up however it ends.
    With ``http_errors`` enabled a refused connect is answered instead (returned)."""
    session = UniSession(node, conn, transport=transport, headers=request.headers)
    conn.session = session
    node.metrics.connections_accepted += 1
    try:
        await session.handle_commands([cmd])
        failure = session.connect_failure
        if http_errors is not None and http_errors.enabled and failure is not None:
            conn.lost()
            await session.on_transport_closed()
            status, body = http_response_for(failure[0], failure[1], http_errors)
            cors = {k: v for k, v in response.headers.items() if k.startswith("Access-Control-")}
            return web.Response(status=status, text=body, headers=cors)
        await response.prepare(request)
        if preamble:
            await response.write(preamble)
    except BaseException:
        conn.lost()
        await session.on_transport_closed()
        raise
    await serve_stream(conn, liveness, _nothing)
    return None


async def _nothing() -> None:
    return None


class _UniHandler(abc.ABC):
    transport = ""
    content_type: str | None = None
    preamble = b""

    def __init__(
        self,
        node: Node,
        admission: Admission,
        liveness: Liveness,
        body_limit: int,
        http_errors: ConnectCodeToHTTPResponse | None = None,
    ) -> None:
        self.http_errors = http_errors
        self.node = node
        self.admission = admission
        self.liveness = liveness
        self.origins = OriginChecker(node.config.client.allowed_origins)
        self.limit = body_limit

    @abc.abstractmethod
    def encode(self, messages: list[bytes]) -> bytes:
        """Queued messages as this transport's response body bytes."""

    async def connect_request(self, request: web.Request) -> bytes | int:
        """The raw ConnectRequest, or an HTTP status to answer with."""
        if request.method != "POST":
            return 405
        body = await read_body(request, self.limit)
        return 413 if body is None else body

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return preflight(request, self.origins)
        headers = cors_headers(request, self.origins)
        raw = await self.connect_request(request)
        if isinstance(raw, int):
            return web.Response(status=raw, headers=headers)
        cmd = connect_command(raw)
        if cmd is None:
            return web.Response(status=400, headers=headers)
        if not self.admission.admit():
            return web.Response(status=503, headers=headers)
        response = web.StreamResponse(
            status=200, headers=headers | stream_headers(self.content_type)
        )

        async def write(messages: list[bytes]) -> None:
            await response.write(self.encode(messages))

        conn = StreamConnection(self.node, write, request.transport, uni_disconnect_push)
        refused = await run_uni(
            request,
            self.node,
            self.liveness,
            response,
            conn,
            cmd,
            self.transport,
            self.preamble,
            self.http_errors,
        )
        return refused or response


class UniHTTPStreamHandler(_UniHandler):
    """``/connection/uni_http_stream`` (TR-08): POST JSON ConnectRequest; one JSON push per
    line."""

    transport = "uni_http_stream"
    content_type = "text/plain; charset=utf-8"

    def encode(self, messages: list[bytes]) -> bytes:
        return b"".join(bare_push(msg) + b"\n" for msg in messages)


class UniSSEHandler(_UniHandler):
    """``/connection/uni_sse`` (TR-07): GET with an optional ``cf_connect`` (URL-encoded JSON
    ConnectRequest) or POST with it as the body; ``\\r\\n``, then ``data: <push>\\n\\n``."""

    transport = "uni_sse"
    content_type = SSE_CONTENT_TYPE
    preamble = b"\r\n"

    async def connect_request(self, request: web.Request) -> bytes | int:
        if request.method == "GET":
            return request.query.get("cf_connect", "").encode()
        return await super().connect_request(request)

    def encode(self, messages: list[bytes]) -> bytes:
        return sse_events([bare_push(msg) for msg in messages])
