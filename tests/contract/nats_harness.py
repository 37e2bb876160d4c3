"""NATS harness for the broker PUB/SUB contract (EN-08).

The NATS broker has no history (EN-08), so only the PUB/SUB part of the broker contract runs
against it; presence comes from the memory manager (EN-07). Each test gets a fresh subject
prefix, so tests never see each other's messages.
"""

from __future__ import annotations

import asyncio
import uuid

from contract.engine_harness import WALL_CLOCK, EngineHarness, RecordingHandler

from centripetal.engines.memory import MemoryPresenceManager
from centripetal.engines.nats.broker import NatsBroker


async def nats_harness(url: str) -> EngineHarness:
    broker = NatsBroker(url, prefix=f"t{uuid.uuid4().hex[:10]}", wall_clock=lambda: WALL_CLOCK)
    handler = RecordingHandler()
    broker.set_event_handler(handler)

    async def advance(seconds: float) -> None:
        await asyncio.sleep(seconds)

    return EngineHarness(
        "nats", broker, MemoryPresenceManager(), handler, advance, int(WALL_CLOCK * 1000)
    )
