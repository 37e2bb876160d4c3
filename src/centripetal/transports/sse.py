"""Server-Sent Events with bidirectional emulation, ``/connection/sse`` (spec TR-03, P-06).

``GET`` with the first frame (the JSON connect command) in the ``cf_connect`` query parameter
(missing -> 400), as browsers' EventSource sends it, or ``POST`` with it as the body. JSON
only (P-06). The response is ``text/event-stream``: ``\\r\\n`` first, then every message as
``data: <json>\\n\\n``. Later commands come through ``/emulation`` (TR-04).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from centripetal.protocol.codec import get_codec
from centripetal.transports.admission import Admission
from centripetal.transports.emulation import serve_emulated
from centripetal.transports.origin import OriginChecker
from centripetal.transports.streaming import (
    Liveness,
    StreamConnection,
    cors_headers,
    read_body,
    stream_headers,
)

if TYPE_CHECKING:
    from centripetal.node import Node

__all__ = ["SSE_CONTENT_TYPE", "SSEHandler", "sse_events"]

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"


def sse_events(messages: list[bytes]) -> bytes:
    """One ``data:`` event per message (TR-03, TR-07)."""
    return b"".join(b"data: " + m + b"\n\n" for m in messages)


class SSEHandler:
    """The aiohttp handler of ``sse.handler_prefix``."""

    def __init__(self, node: Node, admission: Admission, liveness: Liveness) -> None:
        self.node = node
        self.admission = admission
        self.liveness = liveness
        self.origins = OriginChecker(node.config.client.allowed_origins)
        self.limit = node.config.sse.max_request_body_size

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        headers = cors_headers(request, self.origins)
        if request.method == "GET":
            frame = request.query.get("cf_connect", "").encode()
            if not frame:
                return web.Response(status=400, headers=headers)
        elif request.method == "POST":
            body = await read_body(request, self.limit)
            if body is None:
                return web.Response(status=413, headers=headers)
            frame = body
        else:
            return web.Response(status=405, headers=headers)
        if not self.admission.admit():
            return web.Response(status=503, headers=headers)
        codec = get_codec("json")
        response = web.StreamResponse(
            status=200, headers=headers | stream_headers(SSE_CONTENT_TYPE)
        )
        await response.prepare(request)
        await response.write(b"\r\n")

        async def write(messages: list[bytes]) -> None:
            await response.write(sse_events(messages))

        conn = StreamConnection(self.node, write, request.transport, codec.encode_disconnect_push)
        await serve_emulated(request, self.node, self.liveness, conn, codec, "sse", frame)
        return response
