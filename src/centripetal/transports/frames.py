"""Outgoing WebSocket data frames, built once and shared (DESIGN §5; spec P-02..P-05).

Two ways to send, chosen by load:

* write-through (light load): the first message a connection gets in a loop iteration is
  written at once, so an idle connection does not wait for the rest of a fan-out (G3);
* joined (heavy load): messages are queued and each connection's queue is joined into one
  frame (newline-joined JSON or varint-delimited protobuf) one loop iteration later, so what
  the next poll brings (the other publications in flight, a PUB/SUB read) joins the same
  frames (G1, G2).

After each iteration the writer looks at what happened: if many connections got a second
message while writing through, it joins from then on; once joined frames carry about one
message each, it writes through again. Server frames are unmasked, so the same frame bytes
serve every connection that gets the same single message — the common fan-out case.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from centripetal.protocol.codec import Codec

MAX_MESSAGES_PER_FRAME = 64


class Flushable(Protocol):
    hot: bool

    def flush(self) -> int:
        """Write what is queued; the number of messages written."""
        ...


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
        self.write_through = True
        self._loop: asyncio.AbstractEventLoop | None = None
        # single-message frame cache, per opcode: (message object, frame bytes)
        self._cache: dict[int, tuple[bytes, bytes]] = {}

    def mark(self, conn: Flushable) -> None:
        """``conn`` has queued messages: flush it when this iteration ends."""
        self._dirty.append(conn)
        if not self._scheduled:
            self._schedule()

    def mark_hot(self, conn: Flushable) -> None:
        """``conn`` wrote a frame now; what it gets later in this iteration is joined."""
        self._hot.append(conn)
        if not self._scheduled:
            self._schedule()

    def _schedule(self) -> None:
        self._scheduled = True
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        if self.write_through:
            self._loop.call_soon(self._flush_all)
        else:  # joined: one more poll for the messages about to arrive to join this frame
            self._loop.call_soon(self._loop.call_soon, self._flush_all)

    def _flush_all(self) -> None:
        self._scheduled = False
        dirty = self._dirty
        self._dirty = []
        messages = 0
        for conn in dirty:
            messages += conn.flush()
        hot = self._hot
        self._hot = []
        for conn in hot:
            conn.hot = False
        self._cache.clear()
        if self.write_through:
            # many connections got more than one message this iteration: join from now on
            self.write_through = len(dirty) * 4 < len(hot)
        else:
            # joined frames carry about one message each: write through again
            self.write_through = messages * 4 <= len(dirty) * 5

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
