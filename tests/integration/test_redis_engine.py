"""Redis engine against real redis-servers: scripts, PUB/SUB faults, persistence, sharding,
presence TTL (EN-03..EN-06, PR-01, PR-05, reliability plan R-4..R-6)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from contract.engine_harness import RecordingHandler
from support.redis import RedisServer
from support.timing import scaled

from centripetal.engines.base import (
    ClientInfo,
    EngineError,
    HistoryFilter,
    PublishOptions,
    StreamPosition,
    UnrecoverablePositionError,
)
from centripetal.engines.redis import (
    RedisBroker,
    RedisPresenceManager,
    Shard,
    Timeouts,
    parse_address,
)

HIST = PublishOptions(history_size=100, history_ttl=300.0)
FAST = Timeouts(connect=0.5, io=1.0)


@dataclass
class LostHandler(RecordingHandler):
    """Records publications plus ``handle_pubsub_lost`` calls."""

    lost: list[list[str]] = field(default_factory=list)

    def handle_pubsub_lost(self, channels: list[str]) -> None:
        self.lost.append(sorted(channels))


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def shards(*servers: RedisServer, timeouts: Timeouts = FAST) -> list[Shard]:
    return [Shard(parse_address(s.address), timeouts) for s in servers]


async def make_broker(prefix: str, *servers: RedisServer) -> tuple[RedisBroker, LostHandler]:
    broker = RedisBroker(shards(*servers), prefix=prefix, io_timeout=FAST.io)
    handler = LostHandler()
    broker.set_event_handler(handler)
    await broker.run()
    return broker, handler


@pytest.fixture
async def node(redis_server: RedisServer, prefix: str) -> AsyncIterator[tuple[RedisBroker, Any]]:
    broker, handler = await make_broker(prefix, redis_server)
    yield broker, handler
    await broker.close()


async def eventually(predicate: Any, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + scaled(timeout)
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


# -- keys layout (EN-06, PR-05) -----------------------------------------------------------------


async def test_keys_layout(
    node: tuple[RedisBroker, LostHandler], redis_server: RedisServer, prefix: str
) -> None:
    """EN-06: stream, meta and idempotency result keys carry the prefix and the channel."""
    broker, _ = node
    opts = PublishOptions(history_size=10, history_ttl=60.0, idempotency_key="k1")
    pos, _ = await broker.publish("news", b"{}", opts)
    keys = sorted(redis_server.cli("KEYS", f"{prefix}.*").split())
    assert keys == [
        f"{prefix}.result.news.k1",
        f"{prefix}.stream.meta.news",
        f"{prefix}.stream.news",
    ]
    meta = redis_server.cli("HGET", f"{prefix}.stream.meta.news", "e").strip()
    assert meta == pos.epoch
    assert redis_server.cli("XLEN", f"{prefix}.stream.news").strip() == "1"
    ttl = int(redis_server.cli("TTL", f"{prefix}.result.news.k1"))
    assert 295 <= ttl <= 300  # HR-12: 5 minutes
    assert 55 <= int(redis_server.cli("TTL", f"{prefix}.stream.news")) <= 60


# -- NOSCRIPT (reliability plan §0.3, R-4) ------------------------------------------------------


async def test_publish_after_script_flush(
    node: tuple[RedisBroker, LostHandler], redis_server: RedisServer
) -> None:
    broker, _ = node
    first, _ = await broker.publish("ch", b"1", HIST)
    redis_server.cli("SCRIPT", "FLUSH")
    second, _ = await broker.publish("ch", b"2", HIST)
    assert (second.offset, second.epoch) == (2, first.epoch)
    redis_server.cli("SCRIPT", "FLUSH")
    res = await broker.history("ch", HistoryFilter(limit=-1))
    assert [p.data for p in res.publications] == [b"1", b"2"]


async def test_first_publish_after_restart_succeeds_with_new_epoch(
    node: tuple[RedisBroker, LostHandler], redis_server: RedisServer
) -> None:
    """R-4: no persistence => restart loses the stream; the next publish works (script
    reloaded) in a NEW epoch, and recovery from the old position is refused (112)."""
    broker, _ = node
    for i in range(3):
        old, _ = await broker.publish("ch", b"%d" % i, HIST)
    redis_server.restart()
    new, suppressed = await broker.publish("ch", b"after", HIST)
    assert (new.offset, suppressed) == (1, False)
    assert new.epoch not in ("", old.epoch)
    with pytest.raises(UnrecoverablePositionError) as exc:
        await broker.history("ch", HistoryFilter(limit=-1, since=old))
    assert exc.value.position == StreamPosition(1, new.epoch)


async def test_redis_killed_while_publishing(
    node: tuple[RedisBroker, LostHandler], redis_server: RedisServer
) -> None:
    """R-4: kill -9 mid-stream: publishes fail with EngineError (-> 100), nothing crashes;
    after the restart the stream has a new epoch, so clients are told 'not recovered'."""
    broker, _ = node
    acked: list[StreamPosition] = []
    errors: list[BaseException] = []

    async def publisher() -> None:
        for i in range(400):
            try:
                pos, _ = await broker.publish("ch", b"%d" % i, HIST)
                acked.append(pos)
            except Exception as exc:
                errors.append(exc)
            await asyncio.sleep(0.005)

    task = asyncio.create_task(publisher())
    await eventually(lambda: len(acked) >= 20, what="first publications")
    redis_server.kill9()
    await eventually(lambda: len(errors) >= 3, what="publish errors while redis is down")
    redis_server.start()
    await task
    assert errors and all(type(e) is EngineError for e in errors)
    offsets = [p.offset for p in acked]
    before = [p for p in acked if p.epoch == acked[0].epoch]
    assert [p.offset for p in before] == list(range(1, len(before) + 1))
    after = acked[len(before) :]
    assert after, "publishing resumed after the restart"
    assert after[0].epoch != before[0].epoch and after[0].offset == 1
    assert offsets[len(before) :] == list(range(1, len(after) + 1))
    with pytest.raises(UnrecoverablePositionError):
        await broker.history("ch", HistoryFilter(limit=-1, since=before[-1]))


async def test_append_only_restart_keeps_epoch_and_offsets(prefix: str) -> None:
    """R-5: with --appendonly yes --appendfsync always a clean restart loses nothing."""
    with RedisServer(["--save", "", "--appendonly", "yes", "--appendfsync", "always"]) as server:
        broker, _ = await make_broker(prefix, server)
        try:
            for i in range(5):
                top, _ = await broker.publish("ch", b"%d" % i, HIST)
            server.restart()
            res = await broker.history(
                "ch", HistoryFilter(limit=-1, since=StreamPosition(2, top.epoch))
            )
            assert [p.offset for p in res.publications] == [3, 4, 5]
            assert res.position == StreamPosition(5, top.epoch)
            nxt, _ = await broker.publish("ch", b"x", HIST)
            assert nxt == StreamPosition(6, top.epoch)
        finally:
            await broker.close()


async def test_publish_to_dead_redis_is_engine_error(prefix: str) -> None:
    """Every Redis call has a timeout; failures surface as EngineError (error 100)."""
    server = RedisServer()  # never started: nothing listens on its port
    broker = RedisBroker(shards(server), prefix=prefix, io_timeout=FAST.io)
    broker.set_event_handler(RecordingHandler())
    try:
        with pytest.raises(EngineError):
            await asyncio.wait_for(broker.publish("ch", b"x", HIST), scaled(5))
        with pytest.raises(EngineError):
            await asyncio.wait_for(broker.history("ch", HistoryFilter()), scaled(5))
    finally:
        await broker.close()
        server.cleanup()


# -- PUB/SUB between nodes and after a lost connection (EN-06, R-6) -----------------------------


async def test_publication_reaches_other_node(redis_server: RedisServer, prefix: str) -> None:
    a, ha = await make_broker(prefix, redis_server)
    b, hb = await make_broker(prefix, redis_server)
    try:
        await a.subscribe("ch")
        info = ClientInfo(user="u", client="c")
        pos, _ = await b.publish("ch", b"hello", HIST)
        await b.publish_join("ch", info)
        await eventually(lambda: len(ha.events) == 2, what="publication and join on node A")
        kind, channel, pub, position, _, _ = ha.events[0]
        assert (kind, channel, pub.data, pub.offset, position) == ("pub", "ch", b"hello", 1, pos)
        assert ha.events[1] == ("join", "ch", info)
        # Node B is not subscribed: it delivered to its own handler directly, once.
        assert [e[0] for e in hb.events] == ["pub", "join"]
        await b.publish_control(b"cmd")
        await eventually(lambda: ha.control == [b"cmd"], what="control on node A")
        assert hb.control == []  # EN-10: control goes to the other nodes only
    finally:
        await a.close()
        await b.close()


async def test_pubsub_reconnect_after_client_kill(redis_server: RedisServer, prefix: str) -> None:
    """R-6: CLIENT KILL TYPE pubsub: the reader resubscribes, reports the channels through
    handle_pubsub_lost, and a publication sent afterwards is delivered."""
    a, ha = await make_broker(prefix, redis_server)
    b, _ = await make_broker(prefix, redis_server)
    try:
        await a.subscribe("ch")
        await a.subscribe("other")
        redis_server.cli("CLIENT", "KILL", "TYPE", "pubsub")
        await eventually(lambda: ha.lost == [["ch", "other"]], what="handle_pubsub_lost")
        assert a.pubsubs[0].reconnects >= 1
        pos, _ = await b.publish("ch", b"after", HIST)
        await eventually(lambda: len(ha.publications()) == 1, what="publication after reconnect")
        assert (ha.publications()[0].data, ha.publications()[0].offset) == (b"after", pos.offset)
    finally:
        await a.close()
        await b.close()


async def test_pubsub_survives_redis_restart(redis_server: RedisServer, prefix: str) -> None:
    a, ha = await make_broker(prefix, redis_server)
    try:
        await a.subscribe("ch")
        redis_server.restart(crash=True)
        await eventually(lambda: ha.lost == [["ch"]], timeout=15, what="resubscribe after restart")
        pos, _ = await a.publish("ch", b"x", HIST)
        await ha.settled(1)
        assert [(p.data, p.offset) for p in ha.publications()] == [(b"x", pos.offset)]
    finally:
        await a.close()


async def test_subscribed_node_delivers_own_publications_once_in_order(
    node: tuple[RedisBroker, LostHandler],
) -> None:
    """Concurrent publishes on a subscribed node reach its handler once each, in offset order."""
    broker, handler = node
    await broker.subscribe("ch")
    await asyncio.gather(*(broker.publish("ch", b"%d" % i, HIST) for i in range(50)))
    await handler.settled(50)
    assert [p.offset for p in handler.publications()] == list(range(1, 51))


@dataclass
class EchoGate:
    """Sits between a broker's PUB/SUB reader and the broker: while ``holding``, messages
    wait here instead of reaching the broker (an echo delayed on its way back)."""

    deliver: Any
    holding: bool = True
    held: list[tuple[str, bytes]] = field(default_factory=list)

    def __call__(self, redis_channel: str, payload: bytes) -> None:
        if self.holding:
            self.held.append((redis_channel, payload))
        else:
            self.deliver(redis_channel, payload)

    def release(self) -> None:
        self.holding = False
        held, self.held = self.held, []
        for message in held:
            self.deliver(*message)


async def gated_broker(
    prefix: str, server: RedisServer, io_timeout: float
) -> tuple[RedisBroker, LostHandler, EchoGate]:
    broker = RedisBroker(shards(server), prefix=prefix, io_timeout=io_timeout)
    gate = EchoGate(broker.pubsubs[0]._on_message)
    broker.pubsubs[0]._on_message = gate  # before run(): the reader takes it when it starts
    handler = LostHandler()
    broker.set_event_handler(handler)
    await broker.run()
    gate.holding = False
    await broker.subscribe("ch")
    gate.holding = True
    return broker, handler, gate


async def test_own_publication_is_delivered_by_its_echo(
    redis_server: RedisServer, prefix: str
) -> None:
    """Subscribed, ``publish`` returns once Redis accepted the message and the node's own
    handler gets it when the echo comes back, once (as Centrifugo's Redis broker does)."""
    broker, handler, gate = await gated_broker(prefix, redis_server, io_timeout=5.0)
    try:
        positions = [(await broker.publish("ch", b"%d" % i, HIST))[0] for i in range(3)]
        assert [p.offset for p in positions] == [1, 2, 3]
        await asyncio.sleep(0.1)
        assert handler.events == [] and len(gate.held) == 3
        gate.release()
        await handler.settled(3)
        delivered = [(e[2].data, e[3]) for e in handler.events]
        assert delivered == [(b"%d" % i, positions[i]) for i in range(3)]
    finally:
        await broker.close()


async def test_an_echo_not_back_within_io_timeout_is_delivered_locally_once(
    redis_server: RedisServer, prefix: str
) -> None:
    """An echo that does not come back within ``io_timeout`` is handed to the handler by the
    node itself; when it comes back later it is not delivered again."""
    broker, handler, gate = await gated_broker(prefix, redis_server, io_timeout=0.4)
    try:
        pos, _ = await broker.publish("ch", b"late", HIST)
        await asyncio.sleep(0.1)
        assert handler.events == []
        await eventually(lambda: len(handler.events) == 1, timeout=2, what="local delivery")
        gate.release()
        [event] = await handler.settled(1)
        assert (event[2].data, event[3]) == (b"late", pos)
    finally:
        await broker.close()


async def test_a_lost_pubsub_connection_delivers_awaited_echoes_at_once(
    redis_server: RedisServer, prefix: str
) -> None:
    """When the PUB/SUB connection breaks, the echoes still awaited will not come: the node
    delivers them itself at once, in publish order, not after ``io_timeout``."""
    broker, handler, gate = await gated_broker(prefix, redis_server, io_timeout=5.0)
    try:
        await asyncio.gather(*(broker.publish("ch", b"%d" % i, HIST) for i in range(3)))
        assert handler.events == []
        await broker.pubsubs[0].kill_connection()
        # well before io_timeout (5 s), when the sweep would have delivered them
        await eventually(lambda: len(handler.events) == 3, timeout=2, what="local delivery")
        gate.release()
        await handler.settled(3)
        assert [e[2].offset for e in handler.events] == [1, 2, 3]
    finally:
        await broker.close()


# -- sharding (EN-04) ---------------------------------------------------------------------------


async def test_sharding_spreads_channels_over_both_servers(prefix: str) -> None:
    with RedisServer() as s1, RedisServer() as s2:
        broker, handler = await make_broker(prefix, s1, s2)
        try:
            channels = [f"chan{i}" for i in range(40)]
            for ch in channels:
                await broker.subscribe(ch)
                await broker.publish(ch, ch.encode(), HIST)
            for i, server in enumerate((s1, s2)):
                metas = server.cli("KEYS", f"{prefix}.stream.meta.*").split()
                expected = sorted(
                    f"{prefix}.stream.meta.{ch}" for ch in channels if broker.shard_of(ch) == i
                )
                assert sorted(metas) == expected
                assert 5 <= len(metas) <= 35
            for ch in channels:
                res = await broker.history(ch, HistoryFilter(limit=-1))
                assert [p.data for p in res.publications] == [ch.encode()]
            assert sorted(p.data.decode() for p in handler.publications()) == sorted(channels)
        finally:
            await broker.close()


# -- presence (PR-01, PR-05) ---------------------------------------------------------------------


async def test_presence_layout_and_ttl(redis_server: RedisServer, prefix: str) -> None:
    pm = RedisPresenceManager(
        shards(redis_server), prefix=prefix, presence_ttl=1.0, close_shards=True
    )
    try:
        await pm.add_presence("ch", "c1", ClientInfo(user="u1", client="c1"))
        await pm.add_presence("ch", "c2", ClientInfo(user="u1", client="c2"))
        keys = sorted(redis_server.cli("KEYS", f"{prefix}.*").split())
        assert keys == [f"{prefix}.presence.data.ch", f"{prefix}.presence.expire.ch"]
        stats = await pm.presence_stats("ch")
        assert (stats.num_clients, stats.num_users) == (2, 1)
        await asyncio.sleep(0.6)
        await pm.add_presence("ch", "c2", ClientInfo(user="u1", client="c2"))  # refresh c2 only
        await asyncio.sleep(0.6)
        assert list(await pm.presence("ch")) == ["c2"]  # c1 expired after presence_ttl
        assert redis_server.cli("HKEYS", f"{prefix}.presence.data.ch").split() == ["c2"]
    finally:
        await pm.close()
