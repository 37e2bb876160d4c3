"""The Redis broker's own-echo bookkeeping without a server (EN-03): whatever order the echo,
Redis's answer, the echo deadline and a PUB/SUB loss come in, a publication accepted by Redis
is handed to the handler exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from centripetal.engines.redis import RedisBroker, Shard, Timeouts, parse_address

CHANNEL = "centrifugo.client.ch"


def broker_with_subscription() -> tuple[RedisBroker, list[int]]:
    shard = Shard(parse_address("redis://127.0.0.1:1"), Timeouts(connect=0.1, io=0.1))
    broker = RedisBroker([shard], io_timeout=0.1)
    broker.pubsubs[0].confirmed.add(CHANNEL)
    delivered: list[int] = []
    broker._handler = object()  # type: ignore[assignment]  # only tested for None
    return broker, delivered


def expire_deadlines(broker: RedisBroker) -> None:
    broker._echo_deadlines = type(broker._echo_deadlines)(
        (0.0, seq) for _, seq in broker._echo_deadlines
    )
    broker._sweep_echoes()


Event = Callable[[RedisBroker, int, list[int]], None]


def accepted(broker: RedisBroker, seq: int, delivered: list[int]) -> None:
    broker._accepted(seq, True, lambda: delivered.append(seq))


def deadline(broker: RedisBroker, seq: int, delivered: list[int]) -> None:
    expire_deadlines(broker)


def pubsub_lost(broker: RedisBroker, seq: int, delivered: list[int]) -> None:
    broker._on_down()


def echo(broker: RedisBroker, seq: int, delivered: list[int]) -> None:
    if seq in broker._echo:  # what _on_message does with an own message it still awaits
        del broker._echo[seq]
        delivered.append(seq)


ORDERS = [
    (accepted, echo),
    (echo, accepted),
    (accepted, deadline, echo),
    (deadline, accepted, echo),
    (deadline, pubsub_lost, accepted),
    (pubsub_lost, accepted, echo),
    (accepted, pubsub_lost, echo),
    (deadline, echo, accepted),
]


@pytest.mark.parametrize("order", ORDERS, ids=lambda o: "-".join(f.__name__ for f in o))
async def test_an_accepted_publication_is_delivered_once(order: tuple[Event, ...]) -> None:
    broker, delivered = broker_with_subscription()
    seq = 7
    assert broker._expect_echo(0, CHANNEL, seq)
    for event in order:
        event(broker, seq, delivered)
    await asyncio.sleep(0)
    assert delivered == [seq]
    assert seq not in broker._echo
    if broker._echo_sweep is not None:
        broker._echo_sweep.cancel()
