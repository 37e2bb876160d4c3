"""A test-only echo endpoint over the same WebSocket stack (Autobahn conformance, WS-1).

Served at ``/__test__/echo`` when ``CENTRIPETAL_TEST_ECHO_ROUTE=1``; every message comes back
unchanged. Text messages that are not UTF-8 fail the connection with 1007 (RFC 6455 §8.1).
"""

from __future__ import annotations

import asyncio

from websockets.protocol import State

from centripetal.transports.handshake import (
    UpgradeRequest,
    check_handshake,
)
from centripetal.transports.websocket import FramedConnection, hand_over, refuse

ECHO_PATH = "/__test__/echo"


class EchoConnection(FramedConnection):
    __slots__ = ()

    def on_message(self, data: bytes, text: bool) -> None:
        if self.ws.state is not State.OPEN:  # a close frame came in the same read
            return
        if text:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                self.ws.fail(1007, "invalid UTF-8")
                self.closing = True
                self._send_pending()
                return
            self.ws.send_text(data)
        else:
            self.ws.send_binary(data)
        self._send_pending()


class EchoEndpoint:
    def __init__(self, max_size: int | None) -> None:
        self.max_size = max_size

    def upgrade(self, transport: asyncio.Transport, request: UpgradeRequest, rest: bytes) -> None:
        rejection = check_handshake(request)  # the front checked the rest
        if rejection is not None:
            refuse(transport, rejection)
            return
        hand_over(transport, EchoConnection(transport, self.max_size), request, None, rest)
