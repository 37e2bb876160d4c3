"""History in Redis lists (``history_use_lists``): the exact keys and the reads over a trimmed
list (HR-15, EN-03, EN-06, P-36, HR-11). The contract suite runs every broker rule against the
list layout too (``redis-lists`` in tests/contract)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
from contract.engine_harness import RecordingHandler
from support.redis import RedisServer

from centripetal.config import config_from_mapping
from centripetal.engines import create_engine
from centripetal.engines.base import (
    HistoryFilter,
    PublishOptions,
    StreamPosition,
    UnrecoverablePositionError,
)
from centripetal.engines.redis import RedisBroker, Shard, Timeouts, codec, parse_address

SIZE5 = PublishOptions(history_size=5, history_ttl=60.0)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def broker(redis_server: RedisServer, prefix: str) -> AsyncIterator[RedisBroker]:
    shard = Shard(parse_address(redis_server.address), Timeouts(connect=0.5, io=1.0))
    b = RedisBroker([shard], prefix=prefix, io_timeout=1.0, use_lists=True)
    b.set_event_handler(RecordingHandler())
    await b.run()
    yield b
    await b.close()


async def offsets(broker: RedisBroker, **flt: object) -> list[int]:
    res = await broker.history("ch", HistoryFilter(**flt))  # type: ignore[arg-type]
    return [p.offset for p in res.publications]


async def test_list_keys_and_elements_hr15(
    broker: RedisBroker, redis_server: RedisServer, prefix: str
) -> None:
    """HR-15/EN-06: ``<prefix>.list.<ch>`` newest first, trimmed to history_size, with meta
    ``<prefix>.list.meta.<ch>`` (epoch ``e``, top offset ``s``); no stream key at all."""
    for i in range(1, 9):
        top, _ = await broker.publish("ch", b'{"n":%d}' % i, SIZE5)
    keys = sorted(redis_server.cli("KEYS", f"{prefix}.*").split())
    assert keys == [f"{prefix}.list.ch", f"{prefix}.list.meta.ch"]
    meta = redis_server.cli("HGETALL", f"{prefix}.list.meta.ch").split()
    assert dict(zip(meta[::2], meta[1::2], strict=True)) == {"e": top.epoch, "s": "8"}
    with redis.Redis(port=redis_server.port) as raw:
        items = raw.lrange(f"{prefix}.list.ch", 0, -1)
    heads = [item.partition(b":") for item in items]
    assert [h[0] for h in heads] == [b"8", b"7", b"6", b"5", b"4"]  # "<offset>:<publication>"
    assert codec.decode_publication(heads[0][2], 8).data == b'{"n":8}'
    assert 55 <= int(redis_server.cli("TTL", f"{prefix}.list.ch")) <= 60
    res = await broker.history("ch", HistoryFilter(limit=-1))
    assert [p.data for p in res.publications] == [b'{"n":%d}' % i for i in range(4, 9)]
    assert res.position == StreamPosition(8, top.epoch)


async def test_list_since_limit_reverse_over_trimmed_list_p36(broker: RedisBroker) -> None:
    """P-36/HR-11 on lists: forwards from ``since`` oldest first, backwards newest first, a
    ``since`` older than the list starts at its oldest element."""
    for i in range(1, 9):
        top, _ = await broker.publish("ch", b"%d" % i, SIZE5)  # the list keeps 4..8
    epoch = top.epoch
    assert await offsets(broker, limit=2) == [4, 5]
    assert await offsets(broker, limit=2, reverse=True) == [8, 7]
    assert await offsets(broker, limit=-1, since=StreamPosition(5, epoch)) == [6, 7, 8]
    assert await offsets(broker, limit=2, since=StreamPosition(5, epoch)) == [6, 7]
    assert await offsets(broker, limit=-1, since=StreamPosition(1, epoch)) == [4, 5, 6, 7, 8]
    assert await offsets(broker, limit=-1, since=StreamPosition(8, epoch)) == []
    assert await offsets(broker, limit=-1, since=StreamPosition(6, epoch), reverse=True) == [5, 4]
    assert await offsets(broker, limit=1, since=StreamPosition(7, epoch), reverse=True) == [6]
    assert await offsets(broker, limit=-1, since=StreamPosition(4, epoch), reverse=True) == []
    assert await offsets(broker, limit=-1, since=StreamPosition(20, epoch), reverse=True) == [
        8,
        7,
        6,
        5,
        4,
    ]
    with pytest.raises(UnrecoverablePositionError):
        await broker.history("ch", HistoryFilter(limit=-1, since=StreamPosition(5, "other")))


async def test_list_remove_history_and_delta_hr09(
    broker: RedisBroker, redis_server: RedisServer, prefix: str
) -> None:
    """API-19 drops the list and keeps the meta; HR-09 delta reads the previous element."""
    await broker.publish("ch", b"a", SIZE5)
    await broker.publish("ch", b"b", SIZE5)
    await broker.remove_history("ch")
    assert redis_server.cli("EXISTS", f"{prefix}.list.ch").strip() == "0"
    res = await broker.history("ch", HistoryFilter(limit=-1))
    assert (res.publications, res.position.offset) == ([], 2)
    handler = RecordingHandler()
    broker.set_event_handler(handler)
    await broker.publish("ch", b"c", SIZE5)
    await broker.publish("ch", b"d", PublishOptions(history_size=5, history_ttl=60, use_delta=True))
    [_, (kind, _, pub, pos, use_delta, prev)] = handler.events
    assert (kind, pub.data, pos.offset, use_delta) == ("pub", b"d", 4, True)
    assert prev is not None and (prev.data, prev.offset) == (b"c", 3)


async def test_history_use_lists_from_config_en03(
    redis_server: RedisServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """EN-03: ``engine.redis.history_use_lists`` selects the list layout, with no warning."""
    cfg = config_from_mapping(
        {
            "engine": {
                "type": "redis",
                "redis": {
                    "address": [redis_server.address],
                    "prefix": prefix,
                    "history_use_lists": True,
                },
            }
        }
    )
    with caplog.at_level(logging.WARNING):
        broker, presence = create_engine(cfg)
    assert caplog.records == []
    assert isinstance(broker, RedisBroker) and broker.use_lists
    try:
        broker.set_event_handler(RecordingHandler())
        await broker.publish("news", b"1", SIZE5)
        assert redis_server.cli("TYPE", f"{prefix}.list.news").strip() == "list"
    finally:
        await broker.close()
        await presence.close()
