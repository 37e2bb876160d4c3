"""Bidirectional emulation: sessions over http_stream / sse and the ``/emulation`` endpoint
(spec TR-02..TR-04, P-30 ``session``/``node``, EN-10).

A client of an emulated transport receives everything over one long-lived response and
sends its commands as separate ``POST /emulation`` requests naming the ``node`` and the
``session`` from its connect result. The session id is a random value of its own, not the
client id (which other clients see in presence), so knowing a client id does not let anyone
send commands on its behalf. A request that lands on another node of the cluster is routed
through the broker's control channel (``Cluster.emulate``).
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from centripetal.core.session import ClientSession
from centripetal.protocol import client_pb2 as pb
from centripetal.transports.concurrency import enable_concurrency
from centripetal.transports.origin import OriginChecker
from centripetal.transports.streaming import (
    Liveness,
    post_body,
    serve_stream,
)

if TYPE_CHECKING:
    from centripetal.node import Node
    from centripetal.protocol import messages
    from centripetal.protocol.codec import Codec
    from centripetal.transports.streaming import StreamConnection

logger = logging.getLogger("centripetal.emulation")

__all__ = ["EmulatedSession", "EmulationHandler", "parse_emulation_request", "serve_emulated"]


class EmulatedSession(ClientSession):
    """A bidirectional session over an emulated transport (http_stream, sse)."""

    def __init__(
        self,
        node: Node,
        conn: StreamConnection,
        codec: Codec,
        *,
        transport: str,
        headers: Any = None,
    ) -> None:
        super().__init__(node, conn, codec, transport=transport, headers=headers, emulation=True)
        self.session_id = str(uuid.uuid4())

    def send_reply(self, reply: messages.Reply) -> None:
        connect = reply.connect
        if connect is not None:  # P-30: session (9) and node (10) on emulated transports
            connect.session = self.session_id
            connect.node = self.node.uid
        super().send_reply(reply)


class _JsonEmulationRequest(msgspec.Struct):
    node: str = ""
    session: str = ""
    data: str = ""


_json_request = msgspec.json.Decoder(_JsonEmulationRequest)


def parse_emulation_request(body: bytes, protobuf: bool) -> tuple[str, str, bytes] | None:
    """``(node, session, frame)`` of an emulation request, None when malformed (-> 400).

    JSON: ``{"node", "session", "data"}`` with ``data`` a JSON string holding the
    newline-delimited commands; protobuf: ``EmulationRequest{node 1, session 2, data 3}``.
    """
    if protobuf:
        try:
            msg = pb.EmulationRequest.FromString(body)
        except Exception:  # protobuf's DecodeError and friends
            return None
        return msg.node, msg.session, msg.data
    try:
        req = _json_request.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None  # malformed, or nested deeper than the decoder goes
    return req.node, req.session, req.data.encode()


class EmulationHandler:
    """``/emulation`` (TR-04): 204 delivered, 400 bad body, 404 unknown node, 405 not POST,
    413 over ``emulation.max_request_body_size``; OPTIONS preflight 204."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.origins = OriginChecker(node.config.client.allowed_origins)
        self.limit = node.config.emulation.max_request_body_size

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        start = await post_body(request, self.origins, self.limit)
        if isinstance(start, web.Response):
            return start
        body, headers = start
        protobuf = request.headers.get("Content-Type", "") == "application/octet-stream"
        parsed = parse_emulation_request(body, protobuf)
        if parsed is None:
            logger.info("malformed emulation request")
            return web.Response(status=400, headers=headers)
        node_uid, session, frame = parsed
        status = await self.node.cluster.emulate(node_uid, session, frame)
        if status == 404:
            logger.info("emulation request for unknown node %r", node_uid)
        return web.Response(status=status, headers=headers)


async def serve_emulated(
    request: web.Request,
    node: Node,
    liveness: Liveness,
    conn: StreamConnection,
    codec: Codec,
    transport: str,
    frame: bytes,
) -> None:
    """Run one emulated session whose response is prepared: the first frame (the connect
    command) from the request, later ones from ``/emulation``; then clean up."""
    session = EmulatedSession(node, conn, codec, transport=transport, headers=request.headers)
    enable_concurrency(session, node.config)
    conn.session = session
    node.emulation_targets[session.session_id] = conn
    node.metrics.connections_accepted += 1
    try:
        await serve_stream(conn, liveness, lambda: conn.emulate(frame))
    finally:
        node.emulation_targets.pop(session.session_id, None)
