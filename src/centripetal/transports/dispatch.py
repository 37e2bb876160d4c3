"""From a client frame to its session, the same way for every bidirectional transport.

WebSocket messages and emulated frames (HTTP-streaming, SSE, ``/emulation``) are decoded with
the connection's codec under one budget (docs/security.md): at most
``limits.commands_per_frame`` commands per frame, anything undecodable closing the connection
with 3501 (P-13) and one log line. A frame's commands then reach the session in batches of
``COMMAND_BATCH`` with a loop turn between them, so one frame of a thousand commands does not
hold every other connection up; the batches stop as soon as the session is closed (a slow
client disconnected with 3008 halfway through its frame, P-96). A session with a runner
(``client.concurrency`` > 1, transports/concurrency.py) gets its batches through the runner.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from centripetal.core.session import CLOSED
from centripetal.observability.logs import failure_log
from centripetal.protocol.codec import DecodeError

if TYPE_CHECKING:
    from centripetal.core.session import ClientSession
    from centripetal.protocol.codec import Codec
    from centripetal.protocol.messages import Command

__all__ = ["COMMAND_BATCH", "decode_frame", "handle_frame"]

logger = logging.getLogger("centripetal.client")
failures = failure_log(logger.name)

COMMAND_BATCH = 64  # commands handled before other connections get a turn


def decode_frame(
    session: ClientSession, codec: Codec, frame: bytes, max_commands: int
) -> list[Command] | None:
    """The frame's commands, or None after disconnecting the session with 3501 (P-13)."""
    try:
        return codec.decode_commands(frame, max_commands=max_commands)
    except DecodeError as exc:
        failures.failure(
            f"frame of client {session.client_id}",
            f"disconnected with 3501: {exc}",
            key=("bad frame", str(exc)),
            level=logging.INFO,
        )
        session.disconnect(3501)
        return None


async def handle_frame(session: ClientSession, commands: list[Command]) -> None:
    """Hand one frame's commands to the session, in order (P-20), in batches; with
    ``client.concurrency`` > 1 to its runner (transports/concurrency.py, P-27)."""
    runner = session.runner
    if len(commands) <= COMMAND_BATCH:
        if runner is None:
            await session.handle_commands(commands)
        else:
            await runner.handle(commands)
        return
    for start in range(0, len(commands), COMMAND_BATCH):
        if session.state == CLOSED:
            return
        batch = commands[start : start + COMMAND_BATCH]
        if runner is None:
            await session.handle_commands(batch)
        else:
            await runner.handle(batch)
        await asyncio.sleep(0)
