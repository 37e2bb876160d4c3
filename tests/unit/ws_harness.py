"""A WebSocket endpoint driven with no sockets: a recording transport stands in for the socket
and websockets' client-side protocol produces real masked client frames (TR-01, TR-06)."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

from centripetal.transports.handshake import UpgradeRequest

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


class RecordingTransport:
    """What the connection writes, and whether it closed, paused or aborted."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.closed = False
        self.aborted = False
        self.paused = False
        self.protocol: Any = None
        self.buffered = 0
        self.limits: tuple[int, int] | None = None

    def write(self, data: bytes) -> None:
        self.out += data

    def writelines(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self.out += chunk

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def set_write_buffer_limits(self, high: int, low: int) -> None:
        self.limits = (high, low)

    def get_extra_info(self, name: str) -> Any:
        return None  # no socket: the write deadline judges progress by the buffer

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


class Peer:
    """The client end: websockets' client protocol, already open."""

    def __init__(self, transport: RecordingTransport) -> None:
        self.transport = transport
        self.ws = ClientProtocol(parse_uri("ws://x/connection/websocket"), state=State.OPEN)
        head, _, rest = bytes(transport.out).partition(b"\r\n\r\n")
        self.head = head
        transport.out = bytearray(rest)

    def send(self, frame: Frame) -> None:
        self.ws.send_frame(frame)
        data = b"".join(self.ws.data_to_send())
        self.transport.protocol.data_received(data)

    def frames(self) -> list[Frame]:
        self.ws.receive_data(bytes(self.transport.out))
        self.transport.out.clear()
        return [e for e in self.ws.events_received() if isinstance(e, Frame)]


class Endpoint(Protocol):
    def upgrade(self, transport: Any, request: UpgradeRequest, rest: bytes) -> None: ...


def open_upgrade(endpoint: Endpoint, path: str, *extra: tuple[str, str], query: str = "") -> Peer:
    """Send ``endpoint`` a valid upgrade request for ``path`` (plus ``extra`` headers) and
    return the client end of the connection it accepted."""
    transport = RecordingTransport()
    headers = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", KEY),
        ("Sec-WebSocket-Version", "13"),
        *extra,
    ]
    endpoint.upgrade(transport, UpgradeRequest(path, query, headers), b"")
    return Peer(transport)


def text(data: bytes, fin: bool = True) -> Frame:
    return Frame(Opcode.TEXT, data, fin=fin)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)
