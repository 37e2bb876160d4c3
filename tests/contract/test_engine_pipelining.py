"""Concurrent engine calls: what automatic pipelining must keep (EN-03, EN-04, HR-01, HR-12).

The Redis engine sends the commands issued in one loop iteration as one write per server
(``engines.redis.pipeline``). These tests issue many calls at once, as a busy node does, and pin
what must not change: offsets and deliveries in call order per channel, idempotency between
calls that travel together, and (Redis only) an error that fails only the call that caused it.
"""

from __future__ import annotations

import asyncio

import pytest
from contract.engine_harness import EngineHarness

from centripetal.engines.base import ClientInfo, EngineError, HistoryFilter, PublishOptions
from centripetal.engines.redis import RedisBroker

HIST = PublishOptions(history_size=1000, history_ttl=300.0)
CHANNELS = ("a", "b", "c", "d")


def pub_events(engine: EngineHarness, channel: str) -> list[tuple[bytes, int]]:
    return [(e[2].data, e[2].offset) for e in engine.handler.events if e[:2] == ("pub", channel)]


async def test_concurrent_publishes_keep_call_order_per_channel(engine: EngineHarness) -> None:
    """HR-01: 200 publishes issued at once over 4 channels get offsets 1..50 per channel in
    call order; history and the handler see the same order."""
    calls = [(CHANNELS[i % 4], b'{"n":%d}' % i) for i in range(200)]
    results = await asyncio.gather(*(engine.broker.publish(ch, d, HIST) for ch, d in calls))
    for channel in CHANNELS:
        mine = [(d, pos.offset) for (ch, d), (pos, _) in zip(calls, results, strict=True)]
        mine = [m for (ch, _), m in zip(calls, mine, strict=True) if ch == channel]
        assert [offset for _, offset in mine] == list(range(1, 51))
        history = await engine.broker.history(channel, HistoryFilter(limit=-1))
        assert [(p.data, p.offset) for p in history.publications] == mine
        assert pub_events(engine, channel) == mine
    epochs = {pos.epoch for pos, _ in results}
    assert len(epochs) == 4  # one epoch per channel, shared by all its publications
    assert not any(suppressed for _, suppressed in results)


async def test_concurrent_publishes_without_history_are_delivered_in_order(
    engine: EngineHarness,
) -> None:
    """HR-02: without history every publish answers offset 0 / epoch '' and the handler gets
    the publications of a channel in call order."""
    await engine.broker.subscribe("plain")
    data = [b'{"n":%d}' % i for i in range(100)]
    results = await asyncio.gather(
        *(engine.broker.publish("plain", d, PublishOptions()) for d in data)
    )
    assert {(pos.offset, pos.epoch, suppressed) for pos, suppressed in results} == {(0, "", False)}
    await engine.handler.settled(len(data))
    assert pub_events(engine, "plain") == [(d, 0) for d in data]


async def test_idempotent_publishes_issued_together(engine: EngineHarness) -> None:
    """HR-12: two publishes with the same idempotency key issued at once: the first is
    applied, the second is suppressed with the first one's position."""
    opts = PublishOptions(history_size=10, history_ttl=300.0, idempotency_key="k1")
    (first, s1), (second, s2), (other, s3) = await asyncio.gather(
        engine.broker.publish("idem", b'{"v":1}', opts),
        engine.broker.publish("idem", b'{"v":2}', opts),
        engine.broker.publish("idem", b'{"v":3}', HIST),
    )
    assert (s1, s2, s3) == (False, True, False)
    assert (first.offset, second.offset, other.offset) == (1, 1, 2)
    assert first.epoch == second.epoch == other.epoch
    history = await engine.broker.history("idem", HistoryFilter(limit=-1))
    assert [p.data for p in history.publications] == [b'{"v":1}', b'{"v":3}']


async def test_a_failing_publish_fails_only_its_caller(redis_engine: EngineHarness) -> None:
    """A publish whose script fails (its history key holds a string) raises ``EngineError``
    for its caller alone; the publishes that travelled in the same writes succeed, in order."""
    broker = redis_engine.broker
    assert isinstance(broker, RedisBroker)
    shard = broker.shards[broker.shard_of("bad")]
    key = shard.key(broker.prefix, broker.history_kind, "bad")
    await broker.publish("good", b"{}", HIST)  # scripts loaded: one write per batch below
    await broker.publish("bad", b"{}", HIST)  # the meta exists: the history is not reset
    await shard.execute("SET", key, "not a history", key=key)
    writes = sum(p.writes for s in broker.shards for p in s.pipelines)
    calls = [("bad" if i == 25 else "good", b'{"n":%d}' % i) for i in range(50)]
    results = await asyncio.gather(
        *(broker.publish(ch, d, HIST) for ch, d in calls), return_exceptions=True
    )
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1 and results[25] is failed[0]
    assert isinstance(failed[0], EngineError)
    assert "WRONGTYPE" in str(failed[0])
    good = [r for i, r in enumerate(results) if i != 25]
    assert [pos.offset for pos, _ in good] == list(range(2, 51))  # type: ignore[union-attr]
    # the 50 scripts went out in one write per server (plus none for the echo: PUB/SUB is
    # its own connection)
    servers = sum(len(s.pipelines) for s in broker.shards)
    assert sum(p.writes for s in broker.shards for p in s.pipelines) - writes <= servers


@pytest.mark.parametrize("count", [1, 300])
async def test_presence_updates_issued_together(engine: EngineHarness, count: int) -> None:
    """PR-01: ``count`` presence adds issued at once are all there afterwards."""
    infos = {f"c{i}": ClientInfo(user=f"u{i % 7}", client=f"c{i}") for i in range(count)}
    await asyncio.gather(
        *(engine.presence.add_presence("room", cid, info) for cid, info in infos.items())
    )
    entries = await engine.presence.presence("room")
    assert sorted(entries) == sorted(f"c{i}" for i in range(count))
    stats = await engine.presence.presence_stats("room")
    assert (stats.num_clients, stats.num_users) == (count, min(count, 7))
