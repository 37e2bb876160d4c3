"""Engine test harness: fake clock, recording event handler and one factory per engine.

An implementation joins the contract suite by adding a factory to ``ENGINE_FACTORIES``. A harness
gives the broker, the presence manager, a recording event handler and ``advance(seconds)``,
which moves the engine's clock (a fake clock for memory; a real wait for external engines).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from centripetal.engines.base import (
    Broker,
    ClientInfo,
    PresenceManager,
    Publication,
    StreamPosition,
)
from centripetal.engines.memory import MemoryBroker, MemoryPresenceManager


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass
class RecordingHandler:
    """A ``BrokerEventHandler`` that records every call in order."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    control: list[bytes] = field(default_factory=list)  # EN-10 control messages, apart

    def handle_publication(
        self,
        channel: str,
        pub: Publication,
        position: StreamPosition,
        use_delta: bool,
        prev_pub: Publication | None,
    ) -> None:
        self.events.append(("pub", channel, pub, position, use_delta, prev_pub))

    def handle_join(self, channel: str, info: ClientInfo) -> None:
        self.events.append(("join", channel, info))

    def handle_leave(self, channel: str, info: ClientInfo) -> None:
        self.events.append(("leave", channel, info))

    def handle_control(self, data: bytes) -> None:
        self.control.append(data)

    def publications(self) -> list[Publication]:
        return [e[2] for e in self.events if e[0] == "pub"]

    async def settled(self, count: int, timeout: float = 3.0) -> list[tuple[Any, ...]]:
        """The events once there are ``count`` of them: a broker that delivers its own
        publications through its PUB/SUB echo (Redis, while subscribed) hands them over
        after ``publish`` returned. Fails if more than ``count`` arrive."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.events) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{len(self.events)} of {count} events in {timeout}s")
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.02)  # a duplicate would arrive with the echo
        assert len(self.events) == count, self.events
        return self.events


@dataclass
class EngineHarness:
    name: str
    broker: Broker
    presence: PresenceManager
    handler: RecordingHandler
    advance: Callable[[float], Awaitable[None]]
    wall_ms: int = 0  # the publication time stamp the engine uses, 0 when not controlled


WALL_CLOCK = 1_700_000_000.5


async def _memory_harness() -> EngineHarness:
    clock = FakeClock()
    broker = MemoryBroker(clock=clock, wall_clock=lambda: WALL_CLOCK)
    handler = RecordingHandler()
    broker.set_event_handler(handler)

    async def advance(seconds: float) -> None:
        clock.now += seconds

    return EngineHarness(
        "memory", broker, MemoryPresenceManager(), handler, advance, int(WALL_CLOCK * 1000)
    )


ENGINE_FACTORIES: dict[str, Callable[[], Awaitable[EngineHarness]]] = {
    "memory": _memory_harness,
}
