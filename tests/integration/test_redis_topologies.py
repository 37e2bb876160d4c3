"""Redis engine over Sentinel and over a 3-master Redis Cluster (EN-03, EN-06).

The Cluster test runs the contract's publish/history/PUB-SUB path with hash-tagged keys; the
Sentinel test discovers the master through a sentinel for commands and PUB/SUB.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest
from contract.engine_harness import RecordingHandler
from support.redis import RedisServer, running_cluster, sentinel_for
from support.timing import scaled

from centripetal.engines.base import (
    ClientInfo,
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

HIST = PublishOptions(history_size=5, history_ttl=60.0)
TIMEOUTS = Timeouts(connect=1.0, io=2.0)


async def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + scaled(timeout)
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def exercise(address: str) -> None:
    """Publish/history/trim/PUB-SUB between two brokers and presence, on one shard address."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    a = RedisBroker([Shard(parse_address(address), TIMEOUTS)], prefix=prefix, io_timeout=2.0)
    b = RedisBroker([Shard(parse_address(address), TIMEOUTS)], prefix=prefix, io_timeout=2.0)
    ha, hb = RecordingHandler(), RecordingHandler()
    a.set_event_handler(ha)
    b.set_event_handler(hb)
    await a.run()
    await b.run()
    pm = RedisPresenceManager(
        [Shard(parse_address(address), TIMEOUTS)], prefix=prefix, close_shards=True
    )
    try:
        channels = [f"room{i}" for i in range(6)]
        for ch in channels:
            await a.subscribe(ch)
        for ch in channels:
            for i in range(7):
                top, _ = await b.publish(ch, b"%d" % i, HIST)
            res = await b.history(ch, HistoryFilter(limit=-1, since=StreamPosition(3, top.epoch)))
            assert [p.offset for p in res.publications] == [4, 5, 6, 7]
            rev = await b.history(ch, HistoryFilter(limit=2, reverse=True))
            assert [p.offset for p in rev.publications] == [7, 6]
            with pytest.raises(UnrecoverablePositionError):
                await b.history(ch, HistoryFilter(limit=-1, since=StreamPosition(1, "x")))
        await wait_for(lambda: len(ha.publications()) == 42, 10, "publications on node A")
        got = {(e[1], e[2].offset) for e in ha.events}
        assert got == {(ch, o) for ch in channels for o in range(1, 8)}
        await pm.add_presence("room1", "c1", ClientInfo(user="u", client="c1"))
        assert list(await pm.presence("room1")) == ["c1"]
    finally:
        await a.close()
        await b.close()
        await pm.close()


# -- Sentinel ------------------------------------------------------------------------------------


@pytest.fixture
def sentinel() -> Iterator[tuple[RedisServer, RedisServer]]:
    with RedisServer() as master:
        sent = sentinel_for(master)
        try:
            yield master, sent
        finally:
            sent.cleanup()


async def test_sentinel_master_discovery(sentinel: tuple[RedisServer, RedisServer]) -> None:
    """EN-03: redis+sentinel://host:port?sentinel_master_name=… finds the master."""
    master, sent = sentinel
    address = f"redis+sentinel://127.0.0.1:{sent.port}?sentinel_master_name=mymaster"
    await exercise(address)
    assert int(master.cli("DBSIZE")) > 0  # the keys landed on the monitored master


# -- Cluster -------------------------------------------------------------------------------------


@pytest.fixture
def cluster() -> Iterator[list[RedisServer]]:
    with running_cluster() as nodes:
        yield nodes


async def test_cluster_publish_history_pubsub(cluster: list[RedisServer]) -> None:
    """EN-03/EN-06: a channel's keys share one hash tag; PUB/SUB reaches across the nodes."""
    seeds = ",".join(n.address for n in cluster[1:])
    await exercise(f"redis://{cluster[0].address}?addr={seeds}")
    holders = [n for n in cluster if int(n.cli("DBSIZE")) > 0]
    assert len(holders) >= 2  # 6 channels spread over the masters
