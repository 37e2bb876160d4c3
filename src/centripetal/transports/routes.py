"""Routes of the HTTP fallback and unidirectional transports (spec TR-02..TR-08).

Each endpoint is added when its section is enabled (v6 ``http_stream.enabled``,
``sse.enabled``, ``uni_sse.enabled``, ``uni_http_stream.enabled``; ``uni_websocket`` is an
upgrade endpoint of the front protocol (server.py ``build_upgrades``);
the flat v3/v4/v5 spellings map onto them). ``/emulation`` comes with http_stream or sse
(TR-04). All endpoints share one admission counter and one liveness sweep. ``init.enabled``
adds ``/connection/init`` (TR-11): GET answers ``{}``, with CORS like the other endpoints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from centripetal.transports.admission import Admission
from centripetal.transports.emulation import EmulationHandler
from centripetal.transports.http_stream import HTTPStreamHandler
from centripetal.transports.origin import OriginChecker
from centripetal.transports.sse import SSEHandler
from centripetal.transports.streaming import Liveness, cors_headers, preflight
from centripetal.transports.uni import UniHTTPStreamHandler, UniSSEHandler

if TYPE_CHECKING:
    from centripetal.node import Node

__all__ = ["add_stream_routes"]


def add_stream_routes(app: web.Application, node: Node, admission: Admission) -> None:
    """Add every enabled streaming endpoint to ``app``."""
    cfg = node.config
    liveness = Liveness()
    router = app.router
    if cfg.http_stream.enabled:
        handler = HTTPStreamHandler(node, admission, liveness)
        router.add_route("*", cfg.http_stream.handler_prefix, handler)
    if cfg.sse.enabled:
        router.add_route("*", cfg.sse.handler_prefix, SSEHandler(node, admission, liveness))
    if cfg.http_stream.enabled or cfg.sse.enabled:
        router.add_route("*", cfg.emulation.handler_prefix, EmulationHandler(node))
    if cfg.uni_sse.enabled:
        limit = cfg.uni_sse.max_request_body_size
        http_errors = cfg.uni_sse.connect_code_to_http_response
        uni_sse = UniSSEHandler(node, admission, liveness, limit, http_errors)
        router.add_route("*", cfg.uni_sse.handler_prefix, uni_sse)
    if cfg.uni_http_stream.enabled:
        limit = cfg.uni_http_stream.max_request_body_size
        http_errors = cfg.uni_http_stream.connect_code_to_http_response
        uni_stream = UniHTTPStreamHandler(node, admission, liveness, limit, http_errors)
        router.add_route("*", cfg.uni_http_stream.handler_prefix, uni_stream)
    if cfg.init.enabled:
        router.add_route("*", cfg.init.handler_prefix, InitHandler(node))


class InitHandler:
    """``/connection/init`` (TR-11): GET ⇒ ``{}``; OPTIONS ⇒ CORS preflight; else 405."""

    def __init__(self, node: Node) -> None:
        self.origins = OriginChecker(node.config.client.allowed_origins)

    async def __call__(self, request: web.Request) -> web.Response:
        if request.method == "OPTIONS":
            return preflight(request, self.origins)
        if request.method != "GET":
            return web.Response(status=405)
        return web.json_response({}, headers=cors_headers(request, self.origins))
