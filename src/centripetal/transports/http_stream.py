"""HTTP-streaming with bidirectional emulation, ``/connection/http_stream`` (spec TR-02, P-06).

``POST`` whose body is the first frame (the connect command); ``Content-Type:
application/octet-stream`` selects protobuf (P-06). The response (200, chunked) streams every
message: JSON ones each followed by ``\\n``, protobuf ones varint-length-delimited. Later
commands come through ``/emulation`` (TR-04); a disconnect is a ``disconnect`` push and the
end of the stream (P-48).
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
    post_body,
    stream_headers,
)

if TYPE_CHECKING:
    from centripetal.node import Node
    from centripetal.protocol.codec import Codec

__all__ = ["HTTPStreamHandler"]


def _json_lines(messages: list[bytes]) -> bytes:
    return b"\n".join(messages) + b"\n"


class HTTPStreamHandler:
    """The aiohttp handler of ``http_stream.handler_prefix``."""

    def __init__(self, node: Node, admission: Admission, liveness: Liveness) -> None:
        self.node = node
        self.admission = admission
        self.liveness = liveness
        self.origins = OriginChecker(node.config.client.allowed_origins)
        self.limit = node.config.http_stream.max_request_body_size

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        start = await post_body(request, self.origins, self.limit)
        if isinstance(start, web.Response):
            return start
        body, headers = start
        if not self.admission.admit():
            return web.Response(status=503, headers=headers)
        protobuf = request.headers.get("Content-Type", "") == "application/octet-stream"
        codec = get_codec("protobuf" if protobuf else "json")
        content_type = "application/octet-stream" if protobuf else "text/plain; charset=utf-8"
        response = web.StreamResponse(status=200, headers=headers | stream_headers(content_type))
        await response.prepare(request)

        async def write(messages: list[bytes]) -> None:
            await response.write(_frame(codec, messages))

        conn = StreamConnection(self.node, write, request.transport, codec.encode_disconnect_push)
        await serve_emulated(request, self.node, self.liveness, conn, codec, "http_stream", body)
        return response


def _frame(codec: Codec, messages: list[bytes]) -> bytes:
    """JSON: each message and ``\\n``; protobuf: each message varint-length-prefixed (P-03)."""
    if codec.binary:
        return codec.frame(messages)
    return _json_lines(messages)
