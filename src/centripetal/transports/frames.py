"""Outgoing WebSocket data frames, built once and shared (DESIGN §5; spec P-02..P-05).

The first message a connection gets in a loop iteration is written at once (an idle
connection should not wait for the rest of a fan-out, G3); what follows in the same
iteration is queued and joined into one frame (newline-joined JSON or varint-delimited
protobuf) when the iteration ends. Server frames are unmasked, so the same frame bytes serve
every connection that gets the same single message — the common fan-out case.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from centripetal.protocol.codec import Codec

MAX_MESSAGES_PER_FRAME = 64


class Flushable(Protocol):
    hot: bool

    def flush(self) -> None: ...


def frame_header(opcode: int, length: int) -> bytes:
    """RFC 6455 header of an unmasked final frame (server to client)."""
    first = 0x80 | opcode
    if length < 126:
        return bytes((first, length))
    if length < 65536:
        return bytes((first, 126)) + length.to_bytes(2, "big")
    return bytes((first, 127)) + length.to_bytes(8, "big")


class FrameWriter:
    """Flushes every connection with queued messages once per loop iteration."""

    def __init__(self) -> None:
        self._dirty: list[Flushable] = []
        self._hot: list[Flushable] = []  # written straight through in this loop iteration
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        # single-message frame cache, per opcode: (message object, frame bytes)
        self._cache: dict[int, tuple[bytes, bytes]] = {}

    def mark(self, conn: Flushable) -> None:
        self._dirty.append(conn)
        if not self._scheduled:
            self._scheduled = True
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            self._loop.call_soon(self._flush_all)

    def mark_hot(self, conn: Flushable) -> None:
        """``conn`` wrote a frame now; what it gets later in this iteration is joined."""
        self._hot.append(conn)
        if not self._scheduled:
            self._scheduled = True
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            self._loop.call_soon(self._flush_all)

    def _flush_all(self) -> None:
        self._scheduled = False
        dirty = self._dirty
        self._dirty = []
        for conn in dirty:
            conn.flush()
        hot = self._hot
        self._hot = []
        for conn in hot:
            conn.hot = False
        self._cache.clear()

    def single_frame(self, opcode: int, codec: Codec, message: bytes) -> bytes:
        cached = self._cache.get(opcode)
        if cached is not None and cached[0] is message:
            return cached[1]
        payload = codec.frame_one(message)
        frame = frame_header(opcode, len(payload)) + payload
        self._cache[opcode] = (message, frame)
        return frame

    def frames(self, opcode: int, codec: Codec, messages: list[bytes]) -> list[bytes]:
        """Frames for several queued messages, at most ``MAX_MESSAGES_PER_FRAME`` each."""
        out = []
        for i in range(0, len(messages), MAX_MESSAGES_PER_FRAME):
            payload = codec.frame(messages[i : i + MAX_MESSAGES_PER_FRAME])
            out.append(frame_header(opcode, len(payload)) + payload)
        return out
