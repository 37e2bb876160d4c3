"""Memory-engine specifics beyond the contract: bounded state, cleanup, epochs (EN-02, HR-01)."""

from __future__ import annotations

import asyncio
import re

import msgspec
import pytest
from contract.engine_harness import FakeClock, RecordingHandler

from centripetal.config import schema
from centripetal.engines import EngineNotAvailableError, create_engine
from centripetal.engines.base import EngineError, HistoryFilter, PublishOptions
from centripetal.engines.memory import MemoryBroker, MemoryBrokerStats, MemoryPresenceManager


def make_broker(**kw: object) -> tuple[MemoryBroker, FakeClock, RecordingHandler]:
    clock = FakeClock()
    broker = MemoryBroker(clock=clock, **kw)  # type: ignore[arg-type]
    handler = RecordingHandler()
    broker.set_event_handler(handler)
    return broker, clock, handler


def opts(**kw: object) -> PublishOptions:
    base: dict[str, object] = {"history_size": 10, "history_ttl": 10.0, "history_meta_ttl": 60.0}
    base.update(kw)
    return PublishOptions(**base)  # type: ignore[arg-type]


async def test_epoch_is_eight_letters_and_new_per_stream() -> None:
    """HR-01: epochs are 8 random letters; each stream instance has its own."""
    broker, _, _ = make_broker()
    epochs = set()
    for ch in ("a", "b", "c"):
        pos, _ = await broker.publish(ch, b"x", opts())
        assert re.fullmatch(r"[A-Za-z]{8}", pos.epoch)
        epochs.add(pos.epoch)
    assert len(epochs) == 3


async def test_each_publication_expires_on_its_own() -> None:
    broker, clock, _ = make_broker()
    await broker.publish("ch", b"1", opts())
    clock.now += 6
    await broker.publish("ch", b"2", opts())
    clock.now += 5  # the first is 11 s old, the second 5 s
    res = await broker.history("ch", HistoryFilter(limit=-1))
    assert [p.offset for p in res.publications] == [2]


async def test_shorter_ttl_never_leaves_a_hole() -> None:
    """An older publication never outlives a newer one, even when the TTL shrinks."""
    broker, clock, _ = make_broker()
    await broker.publish("ch", b"1", opts(history_ttl=100.0))
    await broker.publish("ch", b"2", opts(history_ttl=5.0))
    await broker.publish("ch", b"3", opts(history_ttl=100.0))
    clock.now += 6
    res = await broker.history("ch", HistoryFilter(limit=-1))
    assert [p.offset for p in res.publications] == [3]


async def test_cleanup_trims_publications_nobody_reads() -> None:
    broker, clock, _ = make_broker()
    for _ in range(5):
        await broker.publish("ch", b"x", opts())
    assert broker.stats().publications == 5
    clock.now += 11
    broker.cleanup()
    assert broker.stats() == MemoryBrokerStats(streams=1, publications=0, results=0, scheduled=1)


async def test_cleanup_drops_streams_after_meta_ttl() -> None:
    """Empty channel state goes away after the meta TTL: every internal table is empty."""
    broker, clock, _ = make_broker()
    for ch in ("a", "b"):
        await broker.publish(ch, b"x", opts(idempotency_key="k", idempotent_result_ttl=30.0))
    await broker.history("c", HistoryFilter(meta_ttl=60.0))
    assert broker.stats().streams == 3 and broker.stats().results == 2
    clock.now += 61
    broker.cleanup()
    assert broker.stats() == MemoryBrokerStats(streams=0, publications=0, results=0, scheduled=0)


async def test_cleanup_keeps_refreshed_streams() -> None:
    broker, clock, _ = make_broker()
    pos, _ = await broker.publish("ch", b"x", opts())
    clock.now += 50
    await broker.history("ch", HistoryFilter(meta_ttl=60.0))
    clock.now += 50
    broker.cleanup()
    assert broker.stats().streams == 1
    res = await broker.history("ch", HistoryFilter(meta_ttl=60.0))
    assert (res.position.offset, res.position.epoch) == (1, pos.epoch)


async def test_cleanup_work_is_bounded_per_call() -> None:
    broker, clock, _ = make_broker(cleanup_batch=2)
    for ch in ("a", "b", "c"):
        await broker.history(ch, HistoryFilter(meta_ttl=5.0))
    clock.now += 6
    assert broker.cleanup() == 2
    assert broker.stats().streams == 1
    assert broker.cleanup() == 1
    assert broker.stats().streams == 0


async def test_idempotency_results_expire_from_cache() -> None:
    broker, clock, _ = make_broker()
    for i in range(3):
        await broker.publish("ch", b"x", PublishOptions(idempotency_key=f"k{i}"))
    assert broker.stats().results == 3
    clock.now += 301  # default idempotent_result_ttl: 300 s (HR-12)
    broker.cleanup()
    assert broker.stats().results == 0
    assert broker.stats().scheduled == 0


async def test_run_starts_periodic_cleanup() -> None:
    broker, clock, _ = make_broker(cleanup_interval=0.01)
    await broker.history("ch", HistoryFilter(meta_ttl=1.0))
    clock.now += 2
    await broker.run()
    try:
        for _ in range(200):
            if broker.stats().streams == 0:
                break
            await asyncio.sleep(0.01)
        assert broker.stats().streams == 0
    finally:
        await broker.close()


async def test_publish_without_handler_is_an_engine_error() -> None:
    broker = MemoryBroker()
    with pytest.raises(EngineError, match="event handler is not set"):
        await broker.publish("ch", b"x", PublishOptions())


async def test_presence_channel_key_removed_with_last_entry() -> None:
    pm = MemoryPresenceManager()
    from centripetal.engines.base import ClientInfo

    await pm.add_presence("a", "c1", ClientInfo(user="u", client="c1"))
    await pm.add_presence("b", "c2", ClientInfo(user="u", client="c2"))
    assert pm.num_channels() == 2
    await pm.remove_presence("a", "c1", "u")
    await pm.remove_presence("b", "c2", "u")
    assert pm.num_channels() == 0


def config(**engine: object) -> schema.Config:
    return msgspec.convert({"engine": engine}, schema.Config)


def test_create_engine_memory() -> None:
    """EN-01: engine.type 'memory' (the default) builds the memory engine."""
    broker, presence = create_engine(schema.Config())
    assert isinstance(broker, MemoryBroker)
    assert isinstance(presence, MemoryPresenceManager)
    broker2, _ = create_engine(config(type="memory"))
    assert isinstance(broker2, MemoryBroker)


async def test_create_engine_redis() -> None:
    """EN-03: engine.type 'redis' builds the Redis broker and presence manager (no I/O yet)."""
    from centripetal.engines.redis import RedisBroker, RedisPresenceManager

    broker, presence = create_engine(config(type="redis", redis={"address": ["127.0.0.1:1"]}))
    assert isinstance(broker, RedisBroker)
    assert isinstance(presence, RedisPresenceManager)
    assert [s.address.hosts for s in broker.shards] == [[("127.0.0.1", 1)]]
    await broker.close()
    await presence.close()


def test_create_engine_unknown_type() -> None:
    with pytest.raises(EngineNotAvailableError, match="unknown engine type 'tarantool'"):
        create_engine(config(type="tarantool"))
