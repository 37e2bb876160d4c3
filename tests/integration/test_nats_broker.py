"""Two NATS brokers on one real ``nats-server``, as two nodes see it (EN-08, EN-10, R-6)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import pytest
from contract.engine_harness import RecordingHandler
from support.nats import NatsServer
from support.ports import free_port
from support.timing import scaled

from centripetal.engines.base import ClientInfo, EngineError, PublishOptions
from centripetal.engines.nats.broker import NatsBroker


@dataclass
class LossHandler(RecordingHandler):
    """Records ``handle_pubsub_lost`` calls too."""

    lost: list[list[str]] = field(default_factory=list)

    def handle_pubsub_lost(self, channels: list[str]) -> None:
        self.lost.append(channels)


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    with NatsServer() as server:
        yield server


Pair = tuple[NatsBroker, LossHandler, NatsBroker, LossHandler]


@pytest.fixture
async def pair(nats_server: NatsServer) -> AsyncIterator[Pair]:
    prefix = f"n{uuid.uuid4().hex[:8]}"
    brokers: list[NatsBroker] = []
    handlers: list[LossHandler] = []
    for _ in range(2):
        broker = NatsBroker(nats_server.url, prefix=prefix, reconnect_wait=0.1)
        handler = LossHandler()
        broker.set_event_handler(handler)
        await broker.run()
        brokers.append(broker)
        handlers.append(handler)
    try:
        yield brokers[0], handlers[0], brokers[1], handlers[1]
    finally:
        for broker in brokers:
            await broker.close()


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + scaled(timeout)
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def test_publication_reaches_the_other_node_once(pair: Pair) -> None:
    """EN-08: B's publication reaches A (subscribed) once; B's own handler gets it locally."""
    a, on_a, b, on_b = pair
    await a.subscribe("chat")
    await b.subscribe("chat")
    info = ClientInfo(user="u1", client="c1", conn_info=b'{"n":1}', chan_info=b'"ci"')
    await b.publish("chat", b'{"x":1}', PublishOptions(client_info=info, tags={"t": "1"}))
    await b.publish("chat", b'{"x":2}', PublishOptions())
    await eventually(lambda: len(on_a.events) == 2)
    got = [(e[1], e[2].data, e[2].info, e[2].tags, e[3].offset) for e in on_a.events]
    assert got == [
        ("chat", b'{"x":1}', info, {"t": "1"}, 0),
        ("chat", b'{"x":2}', None, None, 0),
    ]
    assert on_a.events[0][2].time > 0
    await asyncio.sleep(0.2)
    assert [e[2].data for e in on_b.events] == [b'{"x":1}', b'{"x":2}']  # no echo
    assert len(on_a.events) == 2


async def test_join_leave_cross_nodes_in_order(pair: Pair) -> None:
    """PR-04: joins and leaves travel through NATS in order."""
    a, on_a, b, _ = pair
    await a.subscribe("room")
    info = ClientInfo(user="u", client="c")
    await b.publish_join("room", info)
    await b.publish_leave("room", info)
    await eventually(lambda: len(on_a.events) == 2)
    assert on_a.events == [("join", "room", info), ("leave", "room", info)]


async def test_unsubscribed_node_receives_nothing(pair: Pair) -> None:
    a, on_a, b, _ = pair
    await a.subscribe("x")
    await a.subscribe("y")
    await a.unsubscribe("x")
    await b.publish("x", b"lost", PublishOptions())
    await b.publish("y", b"kept", PublishOptions())
    await eventually(lambda: len(on_a.events) == 1)
    await asyncio.sleep(0.2)
    assert [(e[1], e[2].data) for e in on_a.events] == [("y", b"kept")]
    assert a.subscribed_channels == ["y"]


async def test_concurrent_subscribes_deliver_once(pair: Pair) -> None:
    a, on_a, b, _ = pair
    await asyncio.gather(*(a.subscribe("dup") for _ in range(5)))
    await b.publish("dup", b"one", PublishOptions())
    await eventually(lambda: len(on_a.events) == 1)
    await asyncio.sleep(0.2)
    assert len(on_a.events) == 1


async def test_control_reaches_other_nodes_only(pair: Pair) -> None:
    """EN-10: control messages go to every other node on ``<prefix>.control``."""
    a, on_a, b, on_b = pair
    await a.publish_control(b"from-a")
    await b.publish_control(b"from-b")
    await eventually(lambda: on_a.control == [b"from-b"] and on_b.control == [b"from-a"])
    await asyncio.sleep(0.2)
    assert (on_a.control, on_b.control) == ([b"from-b"], [b"from-a"])


async def test_server_restart_reports_lost_channels_and_recovers(
    pair: Pair, nats_server: NatsServer
) -> None:
    """R-6: after a reconnect the node learns which channels may have missed messages;
    subscriptions are restored and PUB/SUB works again. While down, calls fail fast."""
    a, on_a, b, on_b = pair
    await a.subscribe("s1")
    await a.subscribe("s2")
    await asyncio.get_running_loop().run_in_executor(None, nats_server.stop)
    await eventually(lambda: not a.connected and not b.connected)
    with pytest.raises(EngineError, match="not connected"):
        await b.publish("s1", b"while-down", PublishOptions())
    await asyncio.get_running_loop().run_in_executor(None, nats_server.start)
    await eventually(lambda: on_a.lost == [["s1", "s2"]] and b.connected, timeout=15)
    assert a.reconnects == 1
    assert on_b.lost == []  # nothing subscribed on B
    await b.publish("s2", b"after", PublishOptions())
    await eventually(lambda: len(on_a.events) == 1)
    assert (on_a.events[0][1], on_a.events[0][2].data) == ("s2", b"after")
    await a.publish_control(b"ctl")
    await eventually(lambda: on_b.control == [b"ctl"])


async def test_run_against_no_server_fails_with_engine_error() -> None:
    broker = NatsBroker(f"nats://127.0.0.1:{free_port()}", dial_timeout=0.5)
    run: Callable[[], Awaitable[None]] = broker.run
    with pytest.raises(EngineError, match="cannot connect"):
        await asyncio.wait_for(run(), scaled(10))
    assert not broker.connected


async def test_wildcard_subscriptions_match_like_nats(nats_server: NatsServer) -> None:
    """EN-08 ``allow_wildcards``: a node's own publications reach its wildcard subscriptions
    exactly as NATS delivers another node's (NATS is the oracle: no echo to the publisher)."""
    prefix = f"w{uuid.uuid4().hex[:8]}"
    patterns = ["news.*", "sport.>", "a.*.c"]
    brokers, handlers = [], []
    for _ in range(2):
        broker = NatsBroker(nats_server.url, prefix=prefix, allow_wildcards=True)
        handler = LossHandler()
        broker.set_event_handler(handler)
        await broker.run()
        for pattern in patterns:
            await broker.subscribe(pattern)
        brokers.append(broker)
        handlers.append(handler)
    (local, on_local), on_remote = (brokers[0], handlers[0]), handlers[1]
    try:
        channels = ["news.a", "news.a.b", "news", "newsx.a", "sport.x", "sport.x.y", "sport"]
        channels += ["a.b.c", "a.b.d", "a.b.c.d", "news.end"]
        for channel in channels:
            await local.publish(channel, channel.encode(), PublishOptions())
        await eventually(lambda: any(e[2].data == b"news.end" for e in on_remote.events))
        through_nats = sorted((e[1], e[2].data) for e in on_remote.events)
        handed_locally = sorted((e[1], e[2].data) for e in on_local.events if e[1] in patterns)
        assert handed_locally == through_nats
        assert through_nats == [
            ("a.*.c", b"a.b.c"),
            ("news.*", b"news.a"),
            ("news.*", b"news.end"),
            ("sport.>", b"sport.x"),
            ("sport.>", b"sport.x.y"),
        ]
        await local.unsubscribe("news.*")
        await local.publish("news.b", b"news.b", PublishOptions())
        assert not [e for e in on_local.events if e[1] == "news.*" and e[2].data == b"news.b"]
    finally:
        for broker in brokers:
            await broker.close()
