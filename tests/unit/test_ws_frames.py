"""Outgoing frames: write-through under light load, joined frames under heavy load
(transports/frames.py; DESIGN §5, P-02, benchmark G1-G3)."""

from __future__ import annotations

import asyncio

from centripetal.protocol.codec import get_codec
from centripetal.transports.frames import FrameWriter, frame_header


class Conn:
    def __init__(self, queued: int = 0) -> None:
        self.hot = False
        self.queued = queued

    def flush(self) -> int:
        n, self.queued = self.queued, 0
        return n


async def iteration(writer: FrameWriter, hot: int, dirty: list[int]) -> None:
    """One loop iteration: ``hot`` connections written through, ``dirty`` queue lengths."""
    for _ in range(hot):
        conn = Conn()
        conn.hot = True
        writer.mark_hot(conn)
    for n in dirty:
        writer.mark(Conn(n))
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # joined frames are written one iteration later


async def test_write_through_until_many_connections_get_a_second_message() -> None:
    writer = FrameWriter()
    assert writer.write_through
    await iteration(writer, hot=8, dirty=[1])  # 1 of 8 got a second message
    assert writer.write_through
    await iteration(writer, hot=8, dirty=[1, 1])  # a quarter: join from now on
    assert not writer.write_through


async def test_joined_until_frames_carry_about_one_message() -> None:
    writer = FrameWriter()
    writer.write_through = False
    await iteration(writer, hot=0, dirty=[2, 2, 2, 2])
    assert not writer.write_through
    await iteration(writer, hot=0, dirty=[2, 1, 1, 1])  # 5 messages in 4 frames
    assert writer.write_through


async def test_joined_frames_take_what_the_next_iteration_brings() -> None:
    """Joined mode: the flush waits one more iteration, so a message queued then joins the
    same frame; write-through mode flushes at the end of the iteration itself."""
    writer = FrameWriter()
    writer.write_through = False
    conn = Conn(1)
    writer.mark(conn)
    await asyncio.sleep(0)
    assert conn.queued == 1  # not written yet
    conn.queued += 1  # the next poll brought a second message (conn is already marked)
    await asyncio.sleep(0)
    assert conn.queued == 0
    writer = FrameWriter()
    conn = Conn(1)
    writer.mark(conn)
    await asyncio.sleep(0)
    assert conn.queued == 0


async def test_hot_flags_are_cleared_after_the_iteration() -> None:
    writer = FrameWriter()
    conn = Conn()
    conn.hot = True
    writer.mark_hot(conn)
    await asyncio.sleep(0)
    assert conn.hot is False


def test_frames_split_at_64_messages_and_share_single_frames() -> None:
    writer = FrameWriter()
    codec = get_codec("json")
    frames = writer.frames(0x1, codec, [b"{}"] * 65)
    payload = b"\n".join([b"{}"] * 64)
    assert frames == [frame_header(0x1, len(payload)) + payload, bytes((0x81, 2)) + b"{}"]
    msg = b'{"push":{}}'
    assert writer.single_frame(0x1, codec, msg) is writer.single_frame(0x1, codec, msg)
    assert frame_header(0x2, 70000)[:2] == bytes((0x82, 127))
    assert frame_header(0x1, 300) == bytes((0x81, 126)) + (300).to_bytes(2, "big")
