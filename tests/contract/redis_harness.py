"""Redis harnesses for the engine contract suite (EN-03, EN-04).

``redis`` runs against one real ``redis-server``, ``redis-sharded`` against two (Jump hash
sharding), ``redis-lists`` against one with history in lists (``history_use_lists``, HR-15)
and presence with the per-user mapping (``presence_user_mapping``, PR-05), ``redis-cluster``
against a 3-master Redis Cluster given as one address with the others as seeds (EN-06). Each
test gets a fresh key prefix, so tests never see each other's keys. The clock is Redis's own:
``advance`` really waits.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from contract.engine_harness import WALL_CLOCK, EngineHarness, RecordingHandler
from support.redis import RedisServer

from centripetal.engines.redis import (
    PresenceLayout,
    RedisBroker,
    RedisPresenceManager,
    Shard,
    Timeouts,
    parse_address,
)

REDIS_ENGINES = ("redis", "redis-sharded", "redis-lists", "redis-cluster")
TIMEOUTS = Timeouts(connect=1.0, io=4.0)


def make_shards(servers: Sequence[RedisServer], *, cluster: bool = False) -> list[Shard]:
    if cluster:
        seeds = ",".join(s.address for s in servers[1:])
        return [Shard(parse_address(f"redis://{servers[0].address}?addr={seeds}"), TIMEOUTS)]
    return [Shard(parse_address(s.address), TIMEOUTS) for s in servers]


async def redis_harness(name: str, servers: Sequence[RedisServer]) -> EngineHarness:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    lists = name == "redis-lists"
    cluster = name == "redis-cluster"
    broker = RedisBroker(
        make_shards(servers, cluster=cluster),
        prefix=prefix,
        wall_clock=lambda: WALL_CLOCK,
        use_lists=lists,
    )
    presence = RedisPresenceManager(
        make_shards(servers, cluster=cluster),
        prefix=prefix,
        close_shards=True,
        layout=PresenceLayout(user_mapping=lists),
    )
    handler = RecordingHandler()
    broker.set_event_handler(handler)

    async def advance(seconds: float) -> None:
        await asyncio.sleep(seconds)

    return EngineHarness(name, broker, presence, handler, advance, int(WALL_CLOCK * 1000))
