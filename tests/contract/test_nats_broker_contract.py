"""Broker PUB/SUB contract against a real ``nats-server`` (EN-08).

The PUB/SUB tests of ``test_engine_broker`` are imported here, where ``engine`` is the NATS
harness; the history, idempotency and version tests are not: NATS keeps nothing (EN-08).
What NATS answers instead is pinned below (E-108 for history, as Centrifugo).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from contract.engine_harness import EngineHarness
from contract.nats_harness import nats_harness
from contract.test_engine_broker import (
    test_handler_called_before_publish_returns,
    test_join_and_leave_reach_the_handler,
    test_publish_without_history_has_no_position,
    test_subscribe_and_unsubscribe_are_accepted,
)
from support.nats import NatsServer

from centripetal.engines.base import (
    EngineError,
    HistoryFilter,
    PublishOptions,
)
from centripetal.engines.nats.broker import NotAvailableError, UnsupportedChannelError

__all__ = [
    "test_handler_called_before_publish_returns",
    "test_join_and_leave_reach_the_handler",
    "test_publish_without_history_has_no_position",
    "test_subscribe_and_unsubscribe_are_accepted",
]


@pytest.fixture(scope="module")
def nats_server() -> Iterator[NatsServer]:
    with NatsServer() as server:
        yield server


@pytest.fixture
async def engine(nats_server: NatsServer) -> AsyncIterator[EngineHarness]:
    harness = await nats_harness(nats_server.url)
    await harness.broker.run()
    try:
        yield harness
    finally:
        await harness.broker.close()
        await harness.presence.close()


async def test_publish_with_history_options_stores_nothing(engine: EngineHarness) -> None:
    """EN-08: history options are ignored: position (0, ""), the handler sees offset 0."""
    opts = PublishOptions(history_size=10, history_ttl=60.0, idempotency_key="k")
    results = [await engine.broker.publish("ch", b"x", opts) for _ in range(2)]
    assert [(p.offset, p.epoch, s) for p, s in results] == [(0, "", False), (0, "", False)]
    assert [(e[3].offset, e[3].epoch, e[2].offset) for e in engine.handler.events] == [
        (0, "", 0),
        (0, "", 0),
    ]


async def test_history_is_not_available(engine: EngineHarness) -> None:
    """EN-08: history and remove_history answer error 108 (Centrifugo: ErrorNotAvailable)."""
    with pytest.raises(NotAvailableError) as info:
        await engine.broker.history("ch", HistoryFilter(limit=-1))
    assert info.value.code == 108
    assert isinstance(info.value, EngineError)
    with pytest.raises(NotAvailableError):
        await engine.broker.remove_history("ch")


async def test_use_delta_has_no_previous_publication(engine: EngineHarness) -> None:
    """HR-09 needs a stream: without one the handler gets the delta flag and no base."""
    await engine.broker.publish("ch", b"a", PublishOptions(use_delta=True))
    await engine.broker.publish("ch", b"b", PublishOptions(use_delta=True))
    assert [(e[4], e[5]) for e in engine.handler.events] == [(True, None), (True, None)]


@pytest.mark.parametrize("channel", ["news.*", "news.>", ">"])
async def test_wildcard_channels_are_rejected(engine: EngineHarness, channel: str) -> None:
    """EN-08: without ``allow_wildcards`` NATS wildcards are a bad request (107)."""
    with pytest.raises(UnsupportedChannelError) as info:
        await engine.broker.subscribe(channel)
    assert info.value.code == 107
    with pytest.raises(UnsupportedChannelError):
        await engine.broker.publish(channel, b"x", PublishOptions())
    assert engine.handler.events == []


async def test_closed_broker_fails_with_engine_error(engine: EngineHarness) -> None:
    await engine.broker.close()
    with pytest.raises(EngineError, match="not connected"):
        await engine.broker.publish("ch", b"x", PublishOptions())
    with pytest.raises(EngineError, match="not connected"):
        await engine.broker.subscribe("ch")
    assert engine.handler.events == []
